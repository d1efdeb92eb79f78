"""moto's request handler answering over HTTP/1.1 keep-alive (used by :mod:`.moto_server`).

``moto.server`` runs werkzeug's development server, which ends every
response with ``Connection: close``: each call pays a TCP connect, a new server
thread, a 10 ms ``select`` drain and, on the client, a new pooled connection; with the
access log line and moto's per-request routing, ~1.6-2.0 ms of moto CPU and ~1.0-1.2 ms
of client CPU per trivial DynamoDB call (aiobotocore, 16 concurrent). Waitress
(keep-alive, 4 threads) cut moto's CPU by 15-20 % but is a fixed pool: SQS long polls
(``WaitTimeSeconds`` up to 20, ~10 per ``avs run`` worker, more in tests) and Step
Functions integrations calling back into the same server would queue behind each
other. :class:`KeepAliveHandler` keeps werkzeug's threaded server (a thread per
connection, so a long poll holds only its own connection) and moto's request handler
(the same WSGI environ), and replaces only the response loop: exact body draining and
response framing, so a connection carries the next request. CPU per call, measured
side by side on 2 cores (servers run in turn old, new, waitress, new, old; 2,000 calls
each, 16 concurrent on one aiobotocore client; "new" and "waitress" both with the two
memos below; old = werkzeug with the four value patches only):

=============  =======================  =======================
call           moto CPU old/new/waitr.  client CPU old/new/waitr.
=============  =======================  =======================
put_item       1.73 / 0.78 / 0.82 ms    1.09 / 0.69 / 0.70 ms
get_item       1.80 / 0.87 / 0.99 ms    1.12 / 0.75 / 0.78 ms
S3 put 96 KB   2.55 / 1.38 / 1.46 ms    1.53 / 1.14 / 1.16 ms
S3 head        1.93 / 0.78 / 0.88 ms    1.33 / 0.99 / 0.99 ms
=============  =======================  =======================

So the thread-per-connection handler costs no more than waitress's pool (slightly
less: no task-queue hand-off between threads) and needs no new dependency.
"""

from __future__ import annotations

import email.utils
import enum
import functools
import io
import socket
import time
import traceback
from collections.abc import Callable
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.exceptions import InternalServerError


class _RequestBody(io.RawIOBase):
    """``wsgi.input`` of one request: at most Content-Length bytes of the connection.

    Counts what the application leaves unread, so that the handler can drain exactly
    that much and find the next request line where it starts.
    """

    def __init__(self, rfile: io.BufferedIOBase, length: int) -> None:
        super().__init__()
        self._rfile = rfile
        self.remaining = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any, /) -> int:
        view = memoryview(buffer).cast("B")
        size = min(len(view), self.remaining)
        if size <= 0:
            return 0
        got = self._rfile.readinto(view[:size])
        self.remaining -= got
        return got

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        if size == 0:
            return b""
        data = self._rfile.read(size)
        self.remaining -= len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def readline(self, size: int | None = -1, /) -> bytes:
        limit = self.remaining if size is None or size < 0 else min(size, self.remaining)
        if limit == 0:
            return b""
        line = self._rfile.readline(limit)
        self.remaining -= len(line)
        return line

    def drain(self) -> bool:
        """Read and drop the unread rest; False if the client closed before sending it."""
        while self.remaining > 0:
            data = self._rfile.read(min(self.remaining, _DRAIN_STEP))
            if not data:
                return False
            self.remaining -= len(data)
        return True


_DRAIN_STEP = 1 << 20
_DROPPED = (ConnectionError, TimeoutError)


class _Framing(enum.Enum):
    """How the end of a response body is shown to the client."""

    NONE = "no body (HEAD, 1xx, 204, 304)"
    LENGTH = "Content-Length from the application"
    CHUNKED = "Transfer-Encoding: chunked"
    CLOSE = "the connection closes after the body"


class _Response:
    """The WSGI ``start_response``/``write`` of one request, framed for keep-alive."""

    def __init__(self, handler: KeepAliveHandler, method: str) -> None:
        self._handler = handler
        self._head_only = method == "HEAD"
        self._status: str | None = None
        self._headers: list[tuple[str, str]] = []
        self.started = False  # status and headers fixed
        self.sent = False  # ... and written to the socket
        self._pending = b""  # the status line and headers, sent with the first body bytes
        self._framing = _Framing.CLOSE
        self._declared = 0
        self._sent = 0

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
            self.started, self._pending = False, b""
        self._status = status
        self._headers = list(headers)
        return self.write

    def run(self, app: Any, environ: dict[str, Any]) -> None:
        result = app(environ, self.start_response)
        try:
            for chunk in result:
                self.write(chunk)
            self.finish()
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _start(self) -> None:
        if self._status is None:
            raise AssertionError("write() before start_response")
        handler = self._handler
        code = int(self._status.split(None, 1)[0])
        lines = [
            f"{handler.protocol_version} {self._status}",
            f"Server: {handler.version_string()}",
            f"Date: {_http_date()}",
        ]
        length: str | None = None
        app_connection: str | None = None
        app_encoding = False
        for key, value in self._headers:
            lines.append(f"{key}: {value}")
            lower = key.lower()
            if lower == "content-length":
                length = value
            elif lower == "connection":
                app_connection = value.lower()
            elif lower == "transfer-encoding":
                app_encoding = True
        if self._head_only or 100 <= code < 200 or code in (204, 304):
            self._framing = _Framing.NONE
        elif app_encoding:
            self._framing = _Framing.CLOSE  # the application framed it; pass through
        elif length is not None and length.strip().isdigit():
            self._framing = _Framing.LENGTH
            self._declared = int(length)
        elif not handler.close_connection:
            self._framing = _Framing.CHUNKED
            lines.append("Transfer-Encoding: chunked")
        else:
            self._framing = _Framing.CLOSE
        if self._framing is _Framing.CLOSE or (app_connection is not None and "close" in app_connection):
            handler.close_connection = True
        if handler.close_connection and app_connection is None:
            lines.append("Connection: close")
        lines.append("\r\n")
        self._pending = "\r\n".join(lines).encode("latin-1")
        self.started = True
        handler.log_request(code)

    def write(self, data: bytes) -> None:
        if not self.started:
            self._start()
        if not data or self._framing is _Framing.NONE:
            return
        if self._framing is _Framing.CHUNKED:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        else:
            self._sent += len(data)
        wfile = self._handler.wfile
        self.sent = True
        if self._pending and len(data) <= _COALESCE:
            wfile.write(self._pending + data)
        else:
            if self._pending:
                wfile.write(self._pending)
            wfile.write(data)
        self._pending = b""

    def finish(self) -> None:
        if not self.started:
            self._start()
        tail = b"0\r\n\r\n" if self._framing is _Framing.CHUNKED else b""
        if self._pending or tail:
            self.sent = True
            self._handler.wfile.write(self._pending + tail)
        self._pending = b""
        if self._framing is _Framing.LENGTH and self._sent != self._declared:
            self._handler.close_connection = True  # the client cannot find the next response


_COALESCE = 1 << 16


@functools.lru_cache(maxsize=2)
def _http_date_at(second: int) -> str:
    return email.utils.formatdate(second, usegmt=True)


def _http_date() -> str:
    return _http_date_at(int(time.time()))


class KeepAliveHandler(MotoRequestHandler):
    """moto's request handler (same environ) answering over HTTP/1.1 keep-alive.

    Werkzeug's handler ends every response with ``Connection: close`` (it cannot find
    the next request line after an unread body) and then polls the socket for 10 ms
    to drain it. This one wraps ``wsgi.input`` in :class:`_RequestBody`, drains exactly
    the unread rest of a Content-Length body, and frames every response (its
    Content-Length, else chunked; nothing after HEAD/1xx/204/304), so the connection
    carries the next request. A chunked request body is read to its end and the
    connection closed after the response. One thread per connection, as werkzeug's.
    """

    protocol_version = "HTTP/1.1"
    request_log = False  # the per-request access line; main() sets it from AVS_MOTO_REQUEST_LOG

    def setup(self) -> None:
        super().setup()
        try:  # the head and body may go out in two writes: no Nagle delay between them
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.request_log:
            super().log_request(code, size)

    def run_wsgi(self) -> None:
        self.environ = environ = self.make_environ()
        body: _RequestBody | None = None
        if environ.get("wsgi.input_terminated"):
            self.close_connection = True
        else:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
            if length < 0:  # unframed: the next request cannot be found
                self.close_connection = True
                length = 0
            body = _RequestBody(self.rfile, length)
            environ["wsgi.input"] = body
        if self.request_version < "HTTP/1.1":
            self.close_connection = True
        stream = environ["wsgi.input"]
        response = _Response(self, environ["REQUEST_METHOD"])
        try:
            response.run(self.server.app, environ)
        except _DROPPED:
            self.close_connection = True
            return
        except Exception:
            self.log_error("Error on request:\n%s", traceback.format_exc())
            if response.sent:  # a response is half out: only closing ends it
                self.close_connection = True
                return
            try:
                _Response(self, environ["REQUEST_METHOD"]).run(InternalServerError(), environ)
            except Exception:
                self.close_connection = True
                return
        try:
            if body is not None:
                if not body.drain():
                    self.close_connection = True
            else:  # dechunked: read to the end so closing does not reset the response
                while stream.read(_DRAIN_STEP):
                    pass
        except OSError:  # the client went away (ConnectionError, TimeoutError) or sent bad chunks
            self.close_connection = True
