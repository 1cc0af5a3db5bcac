"""Bearer-key authentication for the HTTP services, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.keys import KeyStore, Principal, Role, hash_key
from services.common.problems import ProblemError

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer mck_...`")

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="middle-corridor"'}


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "unauthorized", "Unauthorized", detail, headers=_UNAUTHORIZED_HEADERS)


def forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "forbidden", "Forbidden", detail)


def require_roles(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that authenticates the caller and checks the role."""

    async def authenticate(request: Request) -> Principal:
        credentials: HTTPAuthorizationCredentials | None = await _bearer(request)
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
