"""``auth/token/``: a username and password exchanged for an API token."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import two_factor
from accounts.tokens import fresh_token
from api import serializers

OTP_NEEDED = "This account logs in with two factors: give the code of your authenticator app (or a recovery code)."


@extend_schema(
    request=serializers.TokenRequestSerializer,
    responses={
        200: serializers.TokenResponseSerializer,
        400: OpenApiResponse(description="Wrong credentials."),
        429: OpenApiResponse(description="Too many tries: throttled, or locked out after failed log-ins."),
    },
    auth=[],
    summary="Exchange a username and password for an API token.",
)
class TokenView(APIView):
    """DRF's token exchange, throttled (``DEFAULT_THROTTLE_RATES["token"]``) and watched by
    django-axes: failed tries lock out the account and the client address (``LOGIN_FAILURE_LIMIT``).
    The token expires after ``API_TOKEN_LIFETIME_HOURS`` (``accounts/tokens.py``). An account that
    needs two factors (``accounts/two_factor.py``) also gives ``otp``."""

    permission_classes = ()
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    def post(self, request, *args, **kwargs):
        # Django's own request: django-axes records the failure on it and its middleware answers 429.
        serializer = AuthTokenSerializer(data=request.data, context={"request": request._request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        if two_factor.two_factor_required(user):
            if two_factor.confirmed_authenticator(user) is None:
                raise ValidationError({"otp": ["Set up two-factor authentication in the dashboard first."]})
            if two_factor.verify_code(user, str(request.data.get("otp", ""))) is None:
                raise ValidationError({"otp": [OTP_NEEDED]})
        return Response({"token": fresh_token(user).key})
