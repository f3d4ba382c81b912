"""The admin's index page as a dashboard, and the API keys created in the admin.

Counts on the page are compared with the database; the page's query count is asserted (at
most 8 for a staff user who needs permission queries); charts are inline SVG.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from jainam_prop.admin.charts import Bar, Segment, horizontal_bars
from jainam_prop.admin.filters import TYPE_EXCHANGES
from jainam_prop.models import ApiKey, LookupGeneration, SymbolToken, SyncRun
from jainam_prop.services import publish_generation
from jainam_prop.services.api_keys import authenticate_api_key
from jainam_prop.services.dashboard import dashboard_summary, recent_runs
from jainam_prop.vocabulary import INSTRUMENT_TYPES, today_ist
from tests.test_admin import QUERY_BUDGET, _option, _run, _staff, make_master

pytestmark = pytest.mark.django_db
INDEX = "admin:index"


@pytest.fixture
def master(db) -> list[SymbolToken]:
    return make_master()


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")


@pytest.fixture
def viewer(django_user_model):
    return _staff(django_user_model, "viewer", "view_symboltoken", "view_syncrun")


def _dead_and_this_week() -> None:
    today = today_ist()
    week_end = today + timedelta(days=6 - today.weekday())
    SymbolToken.objects.bulk_create(
        [
            _option("OLD", "NFO", today - timedelta(days=3), 100, "CE", 90001),
            _option("OLD", "NFO", today - timedelta(days=3), 100, "PE", 90002),
            _option("WEEK", "NFO", week_end, 100, "CE", 90003),
        ]
    )


def _expected_counts(broker: str = "jainam_prop") -> dict[str, tuple[int, int, int]]:
    today = today_ist()
    week_end = today + timedelta(days=6 - today.weekday())
    expected = {}
    rows = SymbolToken.objects.filter(broker=broker)
    for exchange in sorted(set(rows.values_list("exchange", flat=True))):
        on = rows.filter(exchange=exchange)
        dead = on.filter(expiry__lt=today).count()
        week = on.filter(expiry__gte=today, expiry__lte=week_end).count()
        expected[exchange] = (on.count() - dead - week, week, dead)
    return expected


def test_dashboard_counts_match_the_database(client, viewer, master, django_assert_max_num_queries):
    _dead_and_this_week()
    _run(status=SyncRun.Status.SUCCESS)
    client.force_login(viewer)
    with django_assert_max_num_queries(QUERY_BUDGET):
        response = client.get(reverse(INDEX))
    assert response.status_code == 200
    page = response.content.decode()
    shown = {
        exchange: (int(live), int(week), int(dead))
        for exchange, live, week, dead in re.findall(
            r'<tr data-exchange="(\w+)">.*?data-live="(\d+)".*?data-week="(\d+)"'
            r'.*?data-dead="(\d+)"',
            page,
            re.S,
        )
    }
    expected = _expected_counts()
    assert shown == expected
    assert expected["NFO"][1:] == (1, 2)  # one this week, two dead
    total = SymbolToken.objects.filter(broker="jainam_prop").count()
    assert f"Instruments: {total:,}" in page


def test_dashboard_query_count_is_fixed(client, viewer, master, django_assert_max_num_queries):
    """Session, user, two permission reads, runs, generation, counts, health: at most 8,
    whatever the number of runs and instruments."""
    for i in range(40):
        _run(status=SyncRun.Status.SUCCESS, started_at=timezone.now() - timedelta(days=i + 1))
    _run(status=SyncRun.Status.FAILED, started_at=timezone.now() - timedelta(days=60))
    client.force_login(viewer)
    with django_assert_max_num_queries(QUERY_BUDGET):
        response = client.get(reverse(INDEX))
    assert response.status_code == 200
    assert response.context["summary"].last_problem.status == SyncRun.Status.FAILED


def test_dashboard_draws_svg_charts_and_loads_nothing_from_outside(client, superuser, master):
    for i in range(3):
        _run(started_at=timezone.now() - timedelta(hours=i + 1))
    client.force_login(superuser)
    page = client.get(reverse(INDEX)).content.decode()
    assert page.count('<svg class="jp-chart" role="img"') == 3
    assert 'aria-label="Instruments per exchange"' in page
    assert "<title>NFO live: " in page
    assert "Last 3 syncs" in page
    assert not re.search(r'(src|href)="https?://', page)
    assert "<script src=" not in page.replace('<script src="/static/', "")


def test_dashboard_shows_health_and_the_last_refused_run_in_red(client, superuser, master):
    _run(status=SyncRun.Status.SUCCESS, started_at=timezone.now() - timedelta(hours=30))
    refused = _run(
        status=SyncRun.Status.REFUSED,
        started_at=timezone.now() - timedelta(hours=1),
        error="Refusing to replace the instruments: the new master would shrink NFO: 1000 -> 10, "
        "below 50% of what is stored. Nothing was changed. If this is expected (e.g. a segment "
        "was really emptied), run again with --force.",
    )
    _run(status=SyncRun.Status.SUCCESS, started_at=timezone.now() - timedelta(minutes=2))
    client.force_login(superuser)
    page = client.get(reverse(INDEX)).content.decode()
    problem = page[page.index('id="jp-last-problem"') : page.index('id="jp-instruments"')]
    assert '<span class="jp-badge jp-bad" data-status="refused">' in problem
    assert f"run {refused.pk}" in problem
    assert "would shrink NFO: 1000 -&gt; 10" in problem
    assert "Force this sync" in problem
    assert "--force" not in page
    assert "a later sync succeeded" in problem
    health = page[page.index('id="jp-health"') : page.index('id="jp-last-problem"')]
    assert 'data-health="ok"' in health
    assert (
        '<li data-check="database"><strong>database</strong> <span class="jp-badge jp-ok">ok'
        in (health)
    )
    assert "(limit 26 h)" in health


def test_dashboard_says_unhealthy_when_the_last_success_is_too_old(client, superuser, master):
    old = timezone.now() - timedelta(hours=40)
    _run(status=SyncRun.Status.SUCCESS, started_at=old, finished_at=old + timedelta(seconds=20))
    client.force_login(superuser)
    page = client.get(reverse(INDEX)).content.decode()
    assert 'data-health="unhealthy"' in page
    assert '<span class="jp-badge jp-bad">too old</span>' in page


def test_empty_dashboard_says_what_to_do(client, superuser):
    client.force_login(superuser)
    page = client.get(reverse(INDEX)).content.decode()
    assert "No instruments yet" in page
    assert "No sync has run yet." in page
    assert '<span class="jp-badge jp-bad">never</span>' in page


def test_dashboard_summary_is_one_selector(master, django_assert_num_queries):
    _dead_and_this_week()
    # Runs (with the last problem), the generation, the counts, health's last success.
    with django_assert_num_queries(4):
        summary = dashboard_summary(broker="jainam_prop")
    assert summary.instruments == SymbolToken.objects.filter(broker="jainam_prop").count()
    assert summary.dead == 2
    # The counts are cached under the generation: the next call does not count again.
    with CaptureQueriesContext(connection) as captured:
        assert dashboard_summary(broker="jainam_prop").exchanges == summary.exchanges
    assert not [q for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]


def test_recent_runs_include_an_older_problem_in_the_same_query(db, django_assert_num_queries):
    old = _run(status=SyncRun.Status.FAILED, started_at=timezone.now() - timedelta(days=90))
    for i in range(35):
        _run(started_at=timezone.now() - timedelta(days=i + 1))
    with django_assert_num_queries(1):
        runs, problem = recent_runs(broker="jainam_prop")
    assert len(runs) == 30
    assert problem == old
    assert all(run.status == SyncRun.Status.SUCCESS for run in runs)


def test_dashboard_counts_follow_a_sync(client, superuser, master):
    """A sync bumps the generation: the cached counts are never shown after it."""
    client.force_login(superuser)
    first = client.get(reverse(INDEX)).context["summary"].instruments
    SymbolToken.objects.filter(exchange="BFO").delete()
    row, _ = LookupGeneration.objects.get_or_create(broker="jainam_prop")
    LookupGeneration.objects.filter(pk=row.pk).update(generation=row.generation + 1)
    publish_generation(broker="jainam_prop", generation=row.generation + 1)
    second = client.get(reverse(INDEX)).context["summary"].instruments
    assert second == first - 10


def test_dashboard_needs_staff(client, django_user_model):
    django_user_model.objects.create_user("plain", password="pw-plain-123")
    client.login(username="plain", password="pw-plain-123")
    assert client.get(reverse(INDEX)).status_code == 302


def test_chart_escapes_labels():
    svg = horizontal_bars(title="<t>", bars=[Bar("<b>", [Segment(3, "jp-ok", "x&y")])])
    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg
    assert "x&amp;y" in svg


def test_every_instrument_type_has_its_exchanges():
    assert set(TYPE_EXCHANGES) == set(INSTRUMENT_TYPES)


# --- API keys in the admin ---------------------------------------------------------------------


def test_staff_with_the_permission_creates_a_key_shown_once(client, django_user_model):
    owner = django_user_model.objects.create_user("trader", password="pw-trader-123")
    client.force_login(_staff(django_user_model, "keeper", "add_apikey", "view_apikey"))
    page = client.get(reverse("admin:jainam_prop_apikey_add")).content.decode()
    assert "<h1>Create an API key</h1>" in page
    response = client.post(
        reverse("admin:jainam_prop_apikey_add"), {"user": owner.pk, "name": "strategy box"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r'<code id="new-api-key"[^>]*>([0-9a-f]{64})</code>', response.content.decode())
    assert raw, response.content.decode()[:2000]
    api_key = authenticate_api_key(raw.group(1))
    assert (api_key.user, api_key.name) == (owner, "strategy box")
    # Never shown again: not on the list, not on the key's page.
    for url in (
        reverse("admin:jainam_prop_apikey_changelist"),
        reverse("admin:jainam_prop_apikey_change", args=[api_key.pk]),
    ):
        assert raw.group(1) not in client.get(url).content.decode()


def test_creating_a_key_needs_the_permission(client, django_user_model):
    owner = django_user_model.objects.create_user("trader", password="pw-trader-123")
    client.force_login(_staff(django_user_model, "looker", "view_apikey"))
    assert client.get(reverse("admin:jainam_prop_apikey_add")).status_code == 403
    response = client.post(reverse("admin:jainam_prop_apikey_add"), {"user": owner.pk})
    assert response.status_code == 403
    assert not ApiKey.objects.exists()


def test_key_pages_have_sensible_titles_and_a_revoke_button(client, superuser, django_user_model):
    from jainam_prop.services.api_keys import create_api_key

    owner = django_user_model.objects.create_user("trader", password="pw-trader-123")
    api_key, _ = create_api_key(user=owner, name="box")
    client.force_login(superuser)
    page = client.get(reverse("admin:jainam_prop_apikey_changelist")).content.decode()
    assert "<h1>API keys</h1>" in page
    assert "Select API key to change" not in page
    change = reverse("admin:jainam_prop_apikey_change", args=[api_key.pk])
    page = client.get(change).content.decode()
    assert f"API key {api_key.prefix}… of trader" in page
    assert 'id="revoke-key"' in page
    revoke = reverse("admin:jainam_prop_apikey_revoke", args=[api_key.pk])
    assert client.get(revoke).status_code == 405
    assert client.post(revoke).status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert 'id="revoke-key"' not in client.get(change).content.decode()


def test_revoking_needs_the_change_permission(client, django_user_model):
    from jainam_prop.services.api_keys import create_api_key

    owner = django_user_model.objects.create_user("trader", password="pw-trader-123")
    api_key, _ = create_api_key(user=owner)
    client.force_login(_staff(django_user_model, "looker", "view_apikey"))
    revoke = reverse("admin:jainam_prop_apikey_revoke", args=[api_key.pk])
    assert client.post(revoke).status_code == 403
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
