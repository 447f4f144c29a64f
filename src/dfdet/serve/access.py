"""Who may talk to the server: allowed ``Host`` names (against DNS rebinding) and allowed browser origins.

A web page of another site can make a browser send requests to this server: directly (a form posting to
``http://127.0.0.1:8000``, which carries that site's ``Origin``), or after pointing its own domain name at this
machine (DNS rebinding, which carries that name in ``Host``). Requests whose ``Host`` is not an allowed name are
refused with 400, requests whose ``Origin`` is neither this server's own nor an allowed origin with 403, each as
``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from dfdet.serve.errors import error_response

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def host_name(host: str) -> str:
    """The name of a ``Host`` header or a bound address, lower case, without port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() and ":" not in name else host


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bound address or name) is only reachable from this machine."""
    name = host_name(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_unspecified(host: str) -> bool:
    """Whether ``host`` is a wildcard bind address (``0.0.0.0``, ``::``), which is no name a client sends."""
    try:
        return ipaddress.ip_address(host_name(host)).is_unspecified
    except ValueError:
        return False


def bind_warning(host: str, auth_proxy: bool) -> str | None:
    """The warning to print when the server listens beyond this machine with nothing controlling access."""
    if is_loopback(host) or auth_proxy:
        return None
    return (
        f"serving on {host}, reachable from other machines, with no access control: anyone who can reach the port "
        "can use the model; put an authenticating TLS proxy in front (and set access.auth_proxy=true)"
    )


@dataclass(frozen=True)
class AccessPolicy:
    """Allowed ``Host`` names and browser origins.

    Attributes:
        allowed_hosts: names accepted in the ``Host`` header (port ignored); ``*`` accepts any, ``*.example.org``
            any subdomain.
        allowed_origins: browser origins (``https://app.example.org``) allowed besides this server's own page;
            ``*`` allows any. Those get CORS headers.
        auth_proxy: an authenticating proxy is in front: ``serve.py`` then starts on a non-local address without
            API keys (it refuses otherwise, with the message of :func:`bind_warning`).
    """

    allowed_hosts: Sequence[str] = LOCAL_HOSTS
    allowed_origins: Sequence[str] = field(default_factory=tuple)
    auth_proxy: bool = False

    def for_bound_host(self, host: str) -> AccessPolicy:
        """This policy, with the name the server is bound to also allowed (unless it is a wildcard address)."""
        if is_unspecified(host) or self.host_allowed(host):
            return self
        return replace(self, allowed_hosts=(*self.allowed_hosts, host_name(host)))

    def host_allowed(self, host: str) -> bool:
        """Whether a ``Host`` header names this server."""
        name = host_name(host)
        for allowed in self.allowed_hosts:
            pattern = host_name(str(allowed))
            if pattern == "*" or name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
                return True
        return False

    def origin_allowed(self, origin: str, host: str) -> bool:
        """Whether a browser page of ``origin`` may call the server reached as ``host`` (its own page may)."""
        origin = origin.strip().lower().rstrip("/")
        if "*" in self.allowed_origins or origin in (o.lower().rstrip("/") for o in self.allowed_origins):
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc == host.strip().lower() != ""


class AccessControl:
    """ASGI middleware enforcing an :class:`AccessPolicy` on every HTTP request.

    Args:
        app: the application behind it.
        policy: the allowed hosts and origins.
    """

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        origin = headers.get("origin")
        if not self.policy.host_allowed(host):
            message = f"the Host header {host[:100]!r} is not a name of this server (configure access.allowed_hosts)"
            response = error_response(400, "host_not_allowed", message)
        elif origin is not None and not self.policy.origin_allowed(origin, host):
            message = f"requests from pages of {origin[:100]!r} are not allowed (configure access.allowed_origins)"
            response = error_response(403, "origin_not_allowed", message)
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)
