"""The lookups' settings (``JAINAM_LOOKUP_*``), read once; tests changing them call forget()."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Config:
    cache_alias: str
    check_interval: float  # seconds a process trusts the generation it knows
    generation_ttl: float  # seconds a shared "generation checked" mark lives
    entry_ttl: float  # seconds a cached answer lives (a new generation hides it at once)
    memory_max: int  # entries per broker and direction in process memory

    @classmethod
    def from_settings(cls) -> Config:
        def positive(name: str, default: float) -> float:
            value = getattr(settings, name, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ImproperlyConfigured(f"{name} must be a positive number, got {value!r}")
            return value

        return cls(
            cache_alias=getattr(settings, "JAINAM_LOOKUP_CACHE_ALIAS", "default"),
            check_interval=positive("JAINAM_LOOKUP_CHECK_INTERVAL", 0.5),
            generation_ttl=positive("JAINAM_LOOKUP_GENERATION_TTL", 0.5),
            entry_ttl=positive("JAINAM_LOOKUP_ENTRY_TTL", 86_400),
            memory_max=int(positive("JAINAM_LOOKUP_MEMORY_MAX", 200_000)),
        )


_current: Config | None = None


def config() -> Config:
    global _current
    if _current is None:
        _current = Config.from_settings()
    return _current


def forget() -> None:
    """Read the settings again on next use."""
    global _current
    _current = None
