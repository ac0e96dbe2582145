"""The request body as the server receives it: a size limit (413), a deadline (408), and no connection reset.

A server that answers before it has read the whole request body (a 413 for a declared 10 MB body, a 415, a 404) and
then closes the connection makes the kernel reset it while the client is still sending: a simple client (urllib,
`requests`, anything sending `Connection: close` or writing the whole body before reading) sees "connection reset"
instead of the answer. So before any response starts, the rest of an unread body is read and discarded, up to
DISCARD_LIMIT_BYTES and within the request's deadline; past either, the response says `Connection: close` and the
server closes the connection (the client may then see a reset: it sent far more than the API accepts, or stalled).

uvicorn has no setting that bounds how long a request body may take (`--timeout-keep-alive` covers only the idle
time between requests), so the deadline is kept here: the body must arrive within BODY_TIMEOUT_SECONDS of the
request's headers, else 408 and the connection is closed. Under Lambda the whole body is in the event: nothing waits.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Largest body read and discarded to deliver an answer; a larger one is answered at once and the connection closed.
DISCARD_LIMIT_BYTES = 16 * 1024 * 1024
_CLOSE = (b"connection", b"close")


class _BodyTooLarge(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _BodyTimedOut(Exception):
    pass


class _BodyCutShort(Exception):
    """The client disconnected before sending the whole body."""


def problem_body(field: str, reason: str, error_type: str) -> bytes:
    """The API's error shape (the one its 422s have): {"detail": [{"field", "reason", "type"}]}."""
    return json.dumps(
        {"detail": [{"field": field, "reason": reason, "type": error_type}]}, separators=(",", ":")
    ).encode()


class _Deadlines:
    """Request tasks waiting for body bytes, and one timer for all of them: every `interval` seconds the ones past
    their deadline are cancelled (and told apart from other cancellations). asyncio.timeout around each receive would
    arm and cancel a timer per request, about 5 µs on the hot path, where this costs a dict entry."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.waiting: dict[asyncio.Task, float] = {}
        self.expired: set[asyncio.Task] = set()
        self.timer: asyncio.TimerHandle | None = None
        self.timer_loop: asyncio.AbstractEventLoop | None = None

    async def receive(self, receive: Receive, deadline: float) -> Message:
        """`await receive()`, or TimeoutError once `deadline` (loop time) has passed (within `interval`)."""
        task = asyncio.current_task()
        assert task is not None
        self.waiting[task] = deadline
        loop = asyncio.get_running_loop()
        if self.timer is None or self.timer_loop is not loop:
            self.timer, self.timer_loop = loop.call_later(self.interval, self._tick, loop), loop
        try:
            return await receive()
        except asyncio.CancelledError:
            if task in self.expired:
                self.expired.discard(task)
                task.uncancel()
                raise TimeoutError from None
            raise
        finally:
            self.waiting.pop(task, None)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self.timer_loop:
            return  # the app has moved to another event loop (a test client's); that loop has its own timer
        now = loop.time()
        for task, deadline in list(self.waiting.items()):
            if deadline <= now:
                del self.waiting[task]
                self.expired.add(task)
                task.cancel()
        self.timer = loop.call_later(self.interval, self._tick, loop) if self.waiting else None


class RequestBodyGuard:
    """Pure ASGI middleware: the body limit, the body deadline and the read-before-answering described above."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        timeout_seconds: float,
        discard_limit_bytes: int = DISCARD_LIMIT_BYTES,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_seconds = timeout_seconds
        self.discard_limit_bytes = max(discard_limit_bytes, max_body_bytes)
        # Deadlines are checked 4 times per timeout, at least once a second: a stall is cut within 1/4 of the timeout.
        self.deadlines = _Deadlines(interval=min(1.0, timeout_seconds / 4))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = _RequestBody(self, scope, receive, send)
        try:
            await self.app(scope, body.receive, body.send)
        except (_BodyTooLarge, _BodyTimedOut, _BodyCutShort) as error:
            if body.response_started:
                raise
            status, error_type, reason = self._problem(error, body.received)
            await _answer(body.send, status, problem_body("body", reason, error_type))

    def _problem(self, error: Exception, received: int) -> tuple[int, str, str]:
        """The status, error type and reason a body error is answered with."""
        if isinstance(error, _BodyTooLarge):
            return 413, "body_too_large", error.reason
        if isinstance(error, _BodyTimedOut):
            reason = f"the body did not arrive within {self.timeout_seconds:g} s (BODY_TIMEOUT_SECONDS)"
            return 408, "body_timeout", reason
        # Nobody reads this answer (the server drops it); it gives the access log a status instead of a 500.
        return 400, "body_incomplete", f"the client disconnected after {received} bytes of the body"


class _RequestBody:
    """One request's body as the app reads it (`receive`) and as its answer goes out (`send`): the limit, the
    deadline, and the rest of the body read before the response starts."""

    def __init__(self, guard: RequestBodyGuard, scope: Scope, receive: Receive, send: Send) -> None:
        self._guard = guard
        self._receive = receive
        self._send = send
        self.declared: int | None = None
        self.chunked = self.expects_continue = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                self.declared = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                self.chunked = True
            elif name == b"expect":
                self.expects_continue = value.lower() == b"100-continue"
        self.deadline = asyncio.get_running_loop().time() + guard.timeout_seconds
        self.received = 0
        # With neither Content-Length nor Transfer-Encoding an HTTP/1.1 request has no body to wait for.
        self.complete = not (self.chunked or self.declared)
        self.receive_called = self.response_started = False

    async def receive(self) -> Message:
        if self.complete:  # e.g. waiting for the client to disconnect: no body deadline applies
            return await self._receive()
        limit = self._guard.max_body_bytes
        if self.declared is not None and self.declared > limit:
            raise _BodyTooLarge(f"the body is {self.declared} bytes; the limit is {limit} bytes (MAX_BODY_BYTES)")
        self.receive_called = True
        try:
            message = await self._guard.deadlines.receive(self._receive, self.deadline)
        except TimeoutError:
            raise _BodyTimedOut from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
            if self.received > limit:
                raise _BodyTooLarge(f"the body is over the limit of {limit} bytes (MAX_BODY_BYTES)")
            return message
        self.complete = True  # http.disconnect: nothing more will come
        raise _BodyCutShort

    async def discard_rest(self) -> bool:
        """Read and drop what is left of the body; True if it all arrived (the connection can stay open)."""
        if self.expects_continue and not self.receive_called:
            return False  # the client waits for "100 Continue" before sending: there is nothing to read
        discard_limit = self._guard.discard_limit_bytes
        if self.declared is not None and self.declared > discard_limit:
            return False
        discarded = self.received
        try:
            while not self.complete:
                message = await self._guard.deadlines.receive(self._receive, self.deadline)
                if message["type"] != "http.request":
                    return False
                discarded += len(message.get("body", b""))
                self.complete = not message.get("more_body", False)
                if discarded > discard_limit:
                    return False
        except TimeoutError:
            return False
        return True

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.response_started = True
            if not self.complete and not await self.discard_rest():
                message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
        await self._send(message)


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
