"""`Idempotency-Key` on POST: the first answer is kept with the change it made, in the same
transaction, and a retry with the same key and body gets that answer again instead of a
second change. The same key with another request is refused (422)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from functools import wraps
from typing import Annotated

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from ninja import Header
from pydantic import BaseModel

from provisioning.api.models import IdempotentResponse
from provisioning.api.problems import Problem

KEPT_FOR = timedelta(hours=24)
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="Any unique string (a UUID): a retry with the same key and body is "
        "answered as the first time, without doing it again. Kept 24 hours.",
    ),
]


def idempotent(view):
    """Wrap a POST endpoint that returns `(status, body)`."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if not key:
            return view(request, *args, **kwargs)
        token = request.auth
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    kept = IdempotentResponse.objects.create(
                        token=token, key=key, request_fingerprint=fingerprint, status=0, body={}
                    )
            except IntegrityError:
                return _replay(token, key, fingerprint)
            status, body = view(request, *args, **kwargs)
            kept.status, kept.body = status, _jsonable(body)
            kept.save(update_fields=["status", "body"])
        return status, body

    return wrapper


def forget_old(now=None) -> int:
    """Drop kept answers older than a day (beat)."""
    cutoff = (now or timezone.now()) - KEPT_FOR
    deleted, _ = IdempotentResponse.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _replay(token, key: str, fingerprint: str) -> JsonResponse:
    kept = IdempotentResponse.objects.get(token=token, key=key)
    if kept.request_fingerprint != fingerprint:
        raise Problem(
            422,
            "This Idempotency-Key was used for a different request; use a new key.",
            kind="idempotency-key-reused",
        )
    response = JsonResponse(kept.body, status=kept.status, safe=False)
    response["Idempotent-Replayed"] = "true"
    return response


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.path, request.body):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _jsonable(body):
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json")
    return json.loads(json.dumps(body, cls=DjangoJSONEncoder))
