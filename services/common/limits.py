"""ASGI middlewares that refuse input before any route sees it: oversize bodies, bodies
read too slowly, NUL bytes."""

from __future__ import annotations

import asyncio
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


class BodyReadTimedOut(Exception):
    pass


class BodyReadTimeout:
    """Answer 408 when a request body has not fully arrived `seconds` after its first
    read: a trickled body would otherwise hold a connection and a task for ever."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        body_complete = False
        responded = False

        async def timed_receive() -> Message:
            nonlocal deadline, body_complete
            if body_complete:  # only a disconnect is left to wait for: no deadline
                return await receive()
            if deadline is None:
                deadline = loop.time() + self.seconds
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyReadTimedOut from None
            body_complete = message["type"] != "http.request" or not message.get("more_body")
            return message

        async def watched_send(message: Message) -> None:
            nonlocal responded
            responded = True
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except BodyReadTimedOut:
            if responded:
                raise
            response = problem_response(
                Problem(
                    type="/problems/request-timeout",
                    title="Request timeout",
                    status=408,
                    detail=f"the body did not arrive within {self.seconds:g} s",
                    errors=[FieldError(field="body", rule="sent too slowly")],
                ),
                headers={"Connection": "close"},
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
