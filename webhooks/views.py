"""The webhook endpoint: size limit, Svix verification, parsing, then the ledger service."""

import json
import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from webhooks.errors import Reason, Refused
from webhooks.inbound.body import BodyTooLarge, BodyUnreadable, request_body_read
from webhooks.inbound.payloads import webhook_body_text, webhook_payload_parse
from webhooks.inbound.rejections import webhook_rejection_count
from webhooks.inbound.verification import signature_verify
from webhooks.registry import get_source
from webhooks.services import webhook_event_deliver

logger = logging.getLogger(__name__)


# Not CSRF-protected: the sender authenticates with its signature, not a cookie.
# Not wrapped in a request transaction: the service commits the ledger row and
# the handler's writes together, and records a failure in a transaction of its own.
@csrf_exempt
@transaction.non_atomic_requests
def webhook_receive(request: HttpRequest, source_name: str) -> HttpResponse:
    source = get_source(source_name)
    if source is None:
        return JsonResponse({"error": f"unknown webhook source {source_name!r}"}, status=404)
    if request.method != "POST":  # after the source: an unknown one is 404 whatever the method
        return JsonResponse({"error": "method not allowed: POST only"}, status=405, headers={"Allow": "POST"})
    event_id = request.headers.get("svix-id") or request.headers.get("webhook-id") or ""

    limit = settings.WEBHOOKS_MAX_BODY_BYTES
    try:
        body = request_body_read(request, limit=limit)
    except BodyTooLarge:
        return _reject(source.name, Reason.TOO_LARGE, f"body over {limit} bytes", event_id, status=413)
    except BodyUnreadable as exc:
        webhook_rejection_count(source.name, Reason.CHUNKED_UNREADABLE, detail=exc.detail, event_id=event_id)
        # Streamed, so without Content-Length: a wsgiref-based server then closes the connection
        # and the unread chunks cannot be taken for the next request (an app may not send
        # `Connection: close` itself under WSGI).
        content = json.dumps({"error": exc.detail, "reason": Reason.CHUNKED_UNREADABLE})
        return StreamingHttpResponse([content], status=exc.status, content_type="application/json")

    try:
        text = webhook_body_text(body)  # before the signature: see webhook_body_text
        signature_verify(body, request.headers, setting_name=source.secret_setting)
        if not event_id or len(event_id) > 255:
            raise Refused(Reason.BAD_ENVELOPE, "message id missing or too long")
        payload = webhook_payload_parse(text, identifiers=source.identifiers)
        request_id = getattr(request, "request_id", "")  # set by config.requests.request_id_begin
        result = webhook_event_deliver(source, event_id=event_id, payload=payload, request_id=request_id)
    except ImproperlyConfigured as exc:
        logger.error("webhook source %s is not configured: %s", source.name, exc)
        # 503, and nothing acknowledged: the sender keeps the event and retries.
        return _reject(source.name, Reason.NOT_CONFIGURED, str(exc), event_id, status=503)
    except Refused as exc:
        return _reject(source.name, exc.reason, exc.detail, event_id, status=400)
    except DatabaseError:
        # Unreachable, or unable to write even the failure (e.g. a read-only standby during failover).
        logger.exception("database unavailable for webhook source=%s event_id=%s", source.name, event_id)
        return JsonResponse({"error": "database unavailable, retry later"}, status=503, headers={"Retry-After": "30"})

    body = {"event_id": event_id, "outcome": result.outcome}
    if result.error:
        body["error"] = "processing failed; the event is stored as failed and will run again on redelivery"
    return JsonResponse(body, status=result.http_status)


def _reject(source_name: str, reason: str, detail: str, event_id: str, *, status: int) -> JsonResponse:
    webhook_rejection_count(source_name, reason, detail=detail, event_id=event_id)
    return JsonResponse({"error": detail, "reason": reason}, status=status)
