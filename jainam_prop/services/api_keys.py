"""OpenAlgo-style API keys of Django users: create (shown once), authenticate, revoke.

A key is 64 random hex characters (256 bits, like OpenAlgo's). Only its SHA-256 is stored;
a fast hash is adequate for a random secret of that size. Authentication finds the row by
hash (unique index) and confirms it with ``hmac.compare_digest``. The key itself is never
logged, stored or repeated in an error.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from jainam_prop.errors import ApiKeyInvalid
from jainam_prop.models import ApiKey

logger = logging.getLogger(__name__)

KEY_BYTES = 32
PREFIX_LENGTH = 8
MAX_KEY_LENGTH = 256
# last_used_at is refreshed at most this often, so that an order costs no extra write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def create_api_key(*, user: User, name: str = "") -> tuple[ApiKey, str]:
    """Create a key for ``user``; returns the row and the plain key (shown once, never stored)."""
    raw_key = secrets.token_hex(KEY_BYTES)
    api_key = ApiKey.objects.create(
        user=user, name=name, prefix=raw_key[:PREFIX_LENGTH], key_hash=hash_api_key(raw_key)
    )
    logger.info("Created API key %s… (id %d) for user %s", api_key.prefix, api_key.pk, user)
    return api_key, raw_key


def authenticate_api_key(raw_key: object) -> ApiKey:
    """The active key matching ``raw_key`` (its ``user`` loaded); raise ``ApiKeyInvalid``."""
    if raw_key is None or raw_key == "":
        raise ApiKeyInvalid(
            "apikey is required: send your API key in the JSON body as 'apikey' or in the "
            "X-API-KEY header"
        )
    if not isinstance(raw_key, str) or len(raw_key) > MAX_KEY_LENGTH:
        raise ApiKeyInvalid("Invalid API key")
    key_hash = hash_api_key(raw_key)
    api_key = ApiKey.objects.select_related("user").filter(key_hash=key_hash).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, key_hash):
        raise ApiKeyInvalid("Invalid API key")
    if api_key.revoked_at is not None or not api_key.user.is_active:
        raise ApiKeyInvalid("Invalid API key: it was revoked or its user is inactive")
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def revoke_api_key(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key (idempotent: the first revocation time is kept)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=api_key.revoked_at
        )
        logger.info("Revoked API key %s… (id %d)", api_key.prefix, api_key.pk)
    return api_key
