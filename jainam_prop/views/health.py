"""``GET /healthz``: liveness and readiness for load balancers and monitoring."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from jainam_prop.services.health import check_health


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """No authentication and no secrets: 200 ``ok`` or 503 ``unhealthy`` with reasons."""
    report = check_health(broker=settings.JAINAM_BROKER)
    return JsonResponse(report.to_dict(), status=200 if report.ok else 503)
