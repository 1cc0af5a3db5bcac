"""Bearer-key authentication for the HTTP services, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.keys import KeyStore, Principal, Role, hash_key
from services.common.problems import ProblemError

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer mck_...`")

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="middle-corridor"'}


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "unauthorized", "Unauthorized", detail, headers=_UNAUTHORIZED_HEADERS)


def forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "forbidden", "Forbidden", detail)


def require_roles(
    *roles: Role,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Principal]]:
    """A dependency that authenticates the caller and checks the role."""

    # `Security` declares the scheme in each service's OpenAPI document (securitySchemes
    # and every protected operation's `security`), from the very check that runs.
    async def authenticate(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> Principal:
        if credentials is None or not credentials.credentials:
            raise unauthorized("missing bearer API key")
        key_store: KeyStore = request.app.state.key_store
        principal = await key_store.principal_for(hash_key(credentials.credentials))
        if principal is None:
            raise unauthorized("unknown or revoked API key")
        if principal.role not in roles:
            raise forbidden(f"role {principal.role.value!r} may not use this endpoint")
        return principal

    return authenticate


def authenticated_before_body(*roles: Role) -> type[APIRoute]:
    """A route class whose requests are authenticated before their body is judged.

    FastAPI decodes a JSON body before it solves the dependencies that authenticate, so
    malformed JSON would answer 422 to a caller without a key. When the body does not
    decode, this checks the caller first (401 or 403 as `require_roles` would answer) and
    only then lets the 422 through. Bodies that decode are validated after the
    dependencies already. Re-check on FastAPI upgrades: the `json_invalid` error type.
    """
    authenticate = require_roles(*roles)

    class AuthenticatedBeforeBody(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handle = super().get_route_handler()

            async def handle_authenticated(request: Request) -> Response:
                try:
                    return await handle(request)
                except RequestValidationError as exc:
                    if any(error.get("type") == "json_invalid" for error in exc.errors()):
                        await authenticate(request, await _bearer(request))
                    raise

            return handle_authenticated

    return AuthenticatedBeforeBody
