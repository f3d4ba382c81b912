"""API keys: created once and shown once, stored hashed, authenticated, revoked."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site as admin_site
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from jainam_prop.errors import ApiKeyInvalid
from jainam_prop.models import ApiKey
from jainam_prop.services.api_keys import (
    authenticate_api_key,
    create_api_key,
    hash_api_key,
    revoke_api_key,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def trader() -> User:
    return User.objects.create_user("trader", password="x")


def test_create_stores_only_the_hash(trader):
    api_key, raw = create_api_key(user=trader, name="algo box")

    row = ApiKey.objects.get(pk=api_key.pk)
    assert len(raw) == 64
    assert int(raw, 16) >= 0  # hex, like OpenAlgo's keys
    assert row.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert row.prefix == raw[:8]
    assert raw not in {row.key_hash, row.name}
    assert row.name == "algo box"
    assert row.user == trader


def test_keys_are_unique(trader):
    raws = {create_api_key(user=trader)[1] for _ in range(20)}
    assert len(raws) == 20


def test_authenticate_returns_the_key_with_its_user(trader, django_assert_max_num_queries):
    api_key, raw = create_api_key(user=trader)
    authenticate_api_key(raw)  # first use writes last_used_at

    with django_assert_max_num_queries(1):  # within the minute: one SELECT, no write
        found = authenticate_api_key(raw)
        assert found.user.username == "trader"
    assert found.pk == api_key.pk


def test_authenticate_records_last_use_at_most_once_a_minute(trader):
    api_key, raw = create_api_key(user=trader)
    assert api_key.last_used_at is None

    authenticate_api_key(raw)
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None
    authenticate_api_key(raw)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first

    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=first - timedelta(minutes=5))
    authenticate_api_key(raw)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at > first - timedelta(minutes=5)


@pytest.mark.parametrize("raw", [None, ""])
def test_missing_key_is_named(raw):
    with pytest.raises(ApiKeyInvalid, match="apikey is required"):
        authenticate_api_key(raw)


@pytest.mark.parametrize("raw", ["0" * 64, "x", 12345, ["a"], "k" * 10_000])
def test_wrong_key_is_refused_without_echoing_it(trader, raw):
    create_api_key(user=trader)
    with pytest.raises(ApiKeyInvalid) as excinfo:
        authenticate_api_key(raw)
    assert str(excinfo.value) == "Invalid API key"


def test_a_key_differing_in_one_character_is_refused(trader):
    _, raw = create_api_key(user=trader)
    tampered = raw[:-1] + ("0" if raw[-1] != "0" else "1")
    with pytest.raises(ApiKeyInvalid):
        authenticate_api_key(tampered)


def test_revoked_key_is_refused(trader):
    api_key, raw = create_api_key(user=trader)
    revoke_api_key(api_key=api_key)

    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None
    with pytest.raises(ApiKeyInvalid, match="revoked"):
        authenticate_api_key(raw)


def test_revoking_twice_keeps_the_first_time(trader):
    api_key, _ = create_api_key(user=trader)
    revoke_api_key(api_key=api_key)
    first = ApiKey.objects.get(pk=api_key.pk).revoked_at

    revoke_api_key(api_key=ApiKey.objects.get(pk=api_key.pk))
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at == first


def test_key_of_an_inactive_user_is_refused(trader):
    _, raw = create_api_key(user=trader)
    User.objects.filter(pk=trader.pk).update(is_active=False)
    with pytest.raises(ApiKeyInvalid):
        authenticate_api_key(raw)


def test_hash_is_sha256_hex():
    assert hash_api_key("abc") == hashlib.sha256(b"abc").hexdigest()


# --- manage.py create_api_key ----------------------------------------------------------------


def test_command_prints_the_key_once_and_stores_its_hash(trader):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", "trader", "--name", "vps", stdout=out, stderr=err)

    raw = out.getvalue().strip()
    assert len(raw) == 64
    row = ApiKey.objects.get()
    assert row.key_hash == hash_api_key(raw)
    assert row.name == "vps"
    assert raw not in err.getvalue()
    assert "shown only this once" in err.getvalue()
    assert authenticate_api_key(raw).user == trader


def test_command_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="No user 'ghost'"):
        call_command("create_api_key", "ghost", stdout=io.StringIO(), stderr=io.StringIO())
    assert not ApiKey.objects.exists()


def test_command_refuses_an_inactive_user(trader):
    User.objects.filter(pk=trader.pk).update(is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        call_command("create_api_key", "trader", stdout=io.StringIO(), stderr=io.StringIO())


# --- admin -----------------------------------------------------------------------------------


@pytest.fixture
def admin_client_logged_in(client):
    admin_user = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(admin_user)
    return client


def test_admin_lists_keys_without_their_hash(admin_client_logged_in, trader):
    api_key, raw = create_api_key(user=trader, name="desk")

    changelist = admin_client_logged_in.get("/admin/jainam_prop/apikey/")
    change = admin_client_logged_in.get(f"/admin/jainam_prop/apikey/{api_key.pk}/change/")

    for response in (changelist, change):
        assert response.status_code == 200
        page = response.content.decode()
        assert api_key.prefix in page
        assert api_key.key_hash not in page
        assert raw not in page


def test_api_keys_are_in_the_admin(admin_client_logged_in):
    # Creating keys in the admin is tested in tests/test_admin.py.
    assert admin_site.is_registered(ApiKey)


def test_admin_revoke_action(admin_client_logged_in, trader):
    keep, keep_raw = create_api_key(user=trader, name="keep")
    drop, drop_raw = create_api_key(user=trader, name="drop")

    response = admin_client_logged_in.post(
        "/admin/jainam_prop/apikey/",
        {"action": "revoke_selected", "_selected_action": [drop.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Revoked 1 API key" in response.content.decode()
    assert ApiKey.objects.get(pk=drop.pk).revoked_at is not None
    assert ApiKey.objects.get(pk=keep.pk).revoked_at is None
    with pytest.raises(ApiKeyInvalid):
        authenticate_api_key(drop_raw)
    assert authenticate_api_key(keep_raw).pk == keep.pk
    assert timezone.now() - ApiKey.objects.get(pk=drop.pk).revoked_at < timedelta(minutes=1)
