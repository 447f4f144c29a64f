"""The uvicorn server around the app, with a time limit on request headers.

uvicorn's h11 protocol has no time limit on a request's headers: a connection that sends nothing, or one header byte
now and then, stays open for ever (its keep-alive timer only runs between requests, and any byte stops it). The
protocol here starts a timer whenever it waits for a request (on connecting, and after each response) that only the
complete request headers stop; when it fires, the connection is closed. On a kept-alive connection this also bounds
the time spent discarding the rest of a body the app did not read (a refused upload). Bodies are the app's business:
:func:`dfdet.serve.upload.receive_upload` enforces the upload's time limit and minimum rate.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("dfdet.serve")


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers take more than ``header_timeout_s``."""

    header_timeout_s = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.header_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request's headers were parsed: its body is the app's business
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        self._arm_header_timer()  # the next request (or the rest of an unread body) must come in time
        super().on_response_complete()  # may parse a pipelined request at once, which stops the timer again

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self.header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_too_slow(self) -> None:
        self.header_timer = None
        if not self.transport.is_closing():
            log.debug("closing %s: no complete request headers within %g s", self.client, self.header_timeout_s)
            self.transport.close()


def build_server(
    app: ASGIApp,
    host: str,
    port: int,
    header_timeout_s: float,
    max_connections: int,
    log_level: str = "info",
    own_logging: bool = False,
) -> uvicorn.Server:
    """A uvicorn server for ``app`` with the header time limit (h11, no WebSockets, no ``Server`` header).

    Args:
        app: the ASGI application.
        host: address to bind.
        port: port to bind (0: any free one, when the server is started with ``sockets``).
        header_timeout_s: seconds a connection may take to send a request's headers.
        max_connections: uvicorn's ``limit_concurrency``: requests beyond it get a plain-text 503.
        log_level: uvicorn's log level.
        own_logging: leave logging as configured (uvicorn's messages go to the root logger's handlers, e.g. JSON
            lines) and write no uvicorn access lines (the app writes its own, :mod:`dfdet.serve.observe`).

    Returns:
        The server; ``server.run()`` serves until ``server.should_exit``.
    """
    protocol: Any = type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout_s": header_timeout_s})
    config = uvicorn.Config(
        app, host=host, port=port, http=protocol, ws="none", lifespan="off", log_level=log_level,
        limit_concurrency=max_connections, server_header=False,
        access_log=not own_logging, log_config=None if own_logging else uvicorn.config.LOGGING_CONFIG,
    )  # fmt: skip
    return uvicorn.Server(config)


def local_socket() -> socket.socket:
    """A socket bound to a free port of 127.0.0.1 (tests and benchmarks: ``server.run(sockets=[sock])``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock
