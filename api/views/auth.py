"""``auth/token/``: a username and password exchanged for an API token."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from api import serializers


@extend_schema(
    request=serializers.TokenRequestSerializer,
    responses={200: serializers.TokenResponseSerializer, 400: OpenApiResponse(description="Wrong credentials.")},
    auth=[],
    summary="Exchange a username and password for an API token.",
)
class TokenView(ObtainAuthToken):
    """DRF's token endpoint, throttled (``DEFAULT_THROTTLE_RATES["token"]``) against guessing."""

    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
