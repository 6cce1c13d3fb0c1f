"""The one place where errors become API responses (never a 500; docs/architecture.md).

Services raise Django's ``ValidationError`` with field dicts; here it becomes a DRF 400 with the
same fields. A database constraint hit by a race (two clients creating the same MRN at once, a
trigger rejecting a cross-table invariant) becomes 409, since the request was valid when checked.
"""

from __future__ import annotations

import logging

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record changed since you read it: fetch it again and re-apply your change."
    default_code = "precondition_failed"


def _as_drf(exc: DjangoValidationError) -> DRFValidationError:
    if hasattr(exc, "error_dict"):
        detail = {
            ("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
            for field, messages in exc.message_dict.items()
        }
    else:
        detail = {"non_field_errors": exc.messages}
    return DRFValidationError(detail)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = _as_drf(exc)
    elif isinstance(exc, IntegrityError):
        log.info("integrity error answered with 409: %s", exc)
        return Response(
            {"detail": "The record conflicts with another one saved at the same time; reload and try again."},
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, DataError):
        log.info("data error answered with 400: %s", exc)
        return Response({"detail": "A value is outside what the registry can store."}, status=400)
    elif isinstance(exc, DRFValidationError) and isinstance(exc.detail, list):
        # A bare list ("Null characters are not allowed." from a search filter) becomes the
        # same {field: [messages]} object as every other 400, so clients parse one shape.
        exc = DRFValidationError({"non_field_errors": exc.detail})
    return drf_exception_handler(exc, context)
