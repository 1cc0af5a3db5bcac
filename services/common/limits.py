"""ASGI middlewares that refuse input before any route sees it: oversize bodies, NUL bytes."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.problems import FieldError, Problem, problem_response


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            Problem(
                type="/problems/body-too-large",
                title="Request body too large",
                status=413,
                detail=f"the body exceeds {self.max_bytes} bytes",
                errors=[],
            )
        )
        await response(scope, receive, send)


class RejectNulInQuery:
    """Answer 422 to a query string carrying a NUL, before it can reach PostgreSQL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
                if "\x00" in value or "\x00" in name:
                    response = problem_response(
                        Problem(
                            type="/problems/invalid-request",
                            title="Invalid input",
                            status=422,
                            detail=f"{name.replace(chr(0), '')}: must not contain NUL",
                            errors=[
                                FieldError(
                                    field=name.replace("\x00", ""), rule="must not contain NUL"
                                )
                            ],
                        )
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
