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
    """Answer 422 to a NUL in the path or the query, before it can reach PostgreSQL
    (whose text cannot hold one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            offending = "path" if "\x00" in scope.get("path", "") else None
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
            for name, value in query:
                if offending is None and ("\x00" in name or "\x00" in value):
                    offending = name.replace("\x00", "")
            if offending is not None:
                rule = "must not contain NUL"
                problem = Problem(
                    type="/problems/invalid-request",
                    title="Invalid input",
                    status=422,
                    detail=f"{offending}: {rule}",
                    errors=[FieldError(field=offending, rule=rule)],
                )
                await problem_response(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)
