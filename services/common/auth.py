"""Bearer-key authentication for the HTTP services, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Request, Security
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
