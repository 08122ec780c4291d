"""Write API of accounts: tokens, session login/logout, users. Thin: validate, call a service."""

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from write_service.accounts import services
from write_service.accounts.models import Role, User
from write_service.platform.errors import ServiceValidationError
from write_service.platform.idempotency import idempotent_post
from write_service.platform.serializers import StrictInputSerializer
from write_service.platform.views import ApiView


class CredentialsInput(StrictInputSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


def user_output(user: User) -> dict:
    return {
        "id": user.pk,
        "username": user.username,
        "role": user.role,
        "display_name": user.public_name,
        "organisation": user.organisation_id,
    }


class TokenView(ApiView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @idempotent_post
    def post(self, request):
        data = CredentialsInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"token": services.token_issue(**data.validated_data)}, status=status.HTTP_201_CREATED)


class TokenRevokeView(ApiView):
    def post(self, request):
        if not isinstance(request.auth, str):
            raise ServiceValidationError({"detail": ["Authenticate with the token to revoke it."]})
        services.token_revoke(user=request.user, raw_token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LoginView(ApiView):
    """Session login for browsers; later session writes need the CSRF token returned here."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @idempotent_post
    def post(self, request):
        data = CredentialsInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, **data.validated_data)
        if user is None or not user.is_active:
            raise ServiceValidationError({"non_field_errors": ["Unable to log in with the given credentials."]})
        login(request._request, user)
        return Response({"user": user_output(user), "csrf_token": get_token(request._request)})


class LogoutView(ApiView):
    def post(self, request):
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserCreateInput(StrictInputSerializer):
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$")
    password = serializers.CharField(min_length=8, max_length=128, trim_whitespace=False)
    role = serializers.ChoiceField(choices=Role.choices)
    display_name = serializers.CharField(max_length=150, required=False, default="")
    email = serializers.EmailField(required=False, default="")


class UserCreateView(ApiView):
    @idempotent_post
    def post(self, request):
        data = UserCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(actor=request.user, **data.validated_data)
        return Response(user_output(user), status=status.HTTP_201_CREATED)
