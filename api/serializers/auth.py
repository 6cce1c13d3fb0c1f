"""``auth/token/``: the token endpoint's request and response."""

from __future__ import annotations

from rest_framework import serializers


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})
    otp = serializers.CharField(
        required=False,
        help_text="Accounts with two-factor authentication: the authenticator app's code, or a recovery code.",
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
