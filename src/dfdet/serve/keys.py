"""API keys and per-key rate limits.

A key is 32 random bytes (``dfdet_`` + URL-safe base64, 256 bits), minted once and shown once; the server stores
only its SHA-256 (``<name> sha256:<hex>`` lines in a key file, or the same entries in an environment variable). A
fast hash is the right one for keys of this entropy (as GitHub's and PyPI's tokens): nobody can search 2^256 keys,
and a request is checked with one hash and a dictionary lookup, so checking cannot be used to load the server. Slow
password hashes (scrypt, PBKDF2) are for secrets people choose.

Requests to ``/v1/`` and ``/metrics`` must carry a key (``Authorization: Bearer <key>`` or ``X-API-Key: <key>``)
when any key is configured: none gives 401 ``missing_api_key``, an unknown one 403 ``invalid_api_key``. Each key has
a token bucket (``rate_per_s`` refill, ``burst`` capacity); a request finding it empty gets 429 ``rate_limited``
with ``Retry-After``. Keys are never logged: only the key's name is (``scope["state"]["api_key"]``).

Mint a key (printed once; the file gets its hash)::

    uv run python -m dfdet.serve.apikeys add alice --file conf/local/api_keys.txt
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from dfdet.errors import DfdetError
from dfdet.serve.errors import error_response

PREFIX = "dfdet_"
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
ENTRY = re.compile(r"^(?P<name>\S+)\s+sha256:(?P<digest>[0-9a-f]{64})$")
PROTECTED = ("/v1/", "/metrics")  # path prefixes that need a key when keys are configured
KEY_HEADERS = ("authorization", "x-api-key")  # request headers that carry a key (CORS allow-list)


class KeyFileError(DfdetError):
    """A key file or environment variable holds something other than ``<name> sha256:<64 hex>`` entries."""


def digest(key: str) -> str:
    """The stored form of a key: the hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def mint(name: str) -> tuple[str, str]:
    """A new key and its entry line (``<name> sha256:<hex>``); show the key once, store only the line."""
    if not NAME.match(name):
        raise KeyFileError(f"a key name is 1-64 letters, digits or _.@- (got {name[:80]!r})")
    key = PREFIX + secrets.token_urlsafe(32)
    return key, f"{name} sha256:{digest(key)}"


def parse_entries(lines: Iterable[str], where: str) -> dict[str, str]:
    """``{digest: name}`` from entry lines; blank lines and ``#`` comments are skipped.

    Raises:
        KeyFileError: a malformed line (named by its number only: it might be a key pasted by mistake), or a name
            or digest given twice.
    """
    keys: dict[str, str] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = ENTRY.match(line)
        if match is None or not NAME.match(match["name"]):
            raise KeyFileError(
                f"{where}, entry {number}: expected '<name> sha256:<64 lowercase hex>' (the hash of a key, never the "
                "key itself; mint keys with: python -m dfdet.serve.apikeys add NAME --file FILE)"
            )
        if match["digest"] in keys or match["name"] in keys.values():
            raise KeyFileError(f"{where}, entry {number}: the key name or hash {match['name']!r} is listed twice")
        keys[match["digest"]] = match["name"]
    return keys


@dataclass(frozen=True)
class AuthSettings:
    """Where the key hashes come from, and the per-key rate limit.

    Attributes:
        keys_file: a file of ``<name> sha256:<hex>`` lines; None: none.
        keys_env: an environment variable holding the same entries (separated by newlines or commas); its entries
            are added to the file's. None or unset: none.
        rate_per_s: requests per second each key may make on average (token refill rate).
        burst: requests a key may make at once (bucket capacity).
    """

    keys_file: str | None = None
    keys_env: str | None = "DFDET_API_KEYS"
    rate_per_s: float = 5.0
    burst: int = 20

    def __post_init__(self) -> None:
        if not (self.rate_per_s > 0 and self.burst >= 1):
            raise KeyFileError(f"auth.rate_per_s must be > 0 and auth.burst >= 1 (got {self.rate_per_s}, {self.burst})")

    def load(self) -> dict[str, str]:
        """``{digest: name}`` of every configured key (empty: the server is open, on 127.0.0.1 only)."""
        keys: dict[str, str] = {}
        if self.keys_file:
            path = Path(self.keys_file)
            if not path.is_file():
                message = f"auth.keys_file={path} does not exist (mint keys: python -m dfdet.serve.apikeys add ...)"
                raise KeyFileError(message)
            keys.update(parse_entries(path.read_text().splitlines(), f"auth.keys_file {path}"))
        value = os.environ.get(self.keys_env) if self.keys_env else None
        if value:
            more = parse_entries(re.split(r"[\n,]", value), f"environment variable {self.keys_env}")
            if set(more) & set(keys) or set(more.values()) & set(keys.values()):
                raise KeyFileError(f"a key of {self.keys_env} is also in auth.keys_file (each key once)")
            keys.update(more)
        return keys


class TokenBuckets:
    """One token bucket per key name: ``burst`` tokens, refilled at ``rate`` per second.

    Args:
        rate: tokens added per second.
        burst: capacity.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, time)
        self._lock = threading.Lock()

    def take(self, name: str) -> float:
        """Takes one token of ``name``'s bucket: 0.0 when taken, else the seconds until one is there."""
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.get(name, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[name] = (tokens - 1.0, now)
                return 0.0
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / self.rate


def presented_key(headers: Headers) -> str | None:
    """The key a request carries (``Authorization: Bearer`` or ``X-API-Key``), or None."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None


class ApiKeys:
    """ASGI middleware: key checks and rate limits on the protected paths; the key's name in ``scope["state"]``.

    Args:
        app: the application behind it.
        keys: ``{digest: name}``; empty: every request passes (the server is then bound to 127.0.0.1 only).
        buckets: the per-key rate limits.
        on_refusal: called with the status of each refusal (metrics).
    """

    def __init__(
        self,
        app: ASGIApp,
        keys: dict[str, str],
        buckets: TokenBuckets,
        on_refusal: Callable[[int], None] | None = None,
    ) -> None:
        self.app = app
        self.keys = keys
        self.buckets = buckets
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not self.keys or scope["method"] == "OPTIONS" or not path.startswith(PROTECTED):
            await self.app(scope, receive, send)  # CORS preflights carry no key; the CORS middleware answers them
            return
        key = presented_key(Headers(scope=scope))
        name = self.name_of(key) if key is not None else None
        if key is None:
            message = "this server needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            response = error_response(401, "missing_api_key", message, {"WWW-Authenticate": "Bearer"})
        elif name is None:
            response = error_response(403, "invalid_api_key", "the API key is not valid (revoked, or mistyped)")
        else:
            scope.setdefault("state", {})["api_key"] = name
            wait = self.buckets.take(name)
            if wait <= 0:
                await self.app(scope, receive, send)
                return
            retry = max(1, math.ceil(wait))
            message = f"rate limit of this API key reached ({self.buckets.rate:g}/s, bursts of {self.buckets.burst})"
            response = error_response(429, "rate_limited", message, {"Retry-After": str(retry)})
        if self.on_refusal is not None:
            self.on_refusal(response.status_code)
        await response(scope, receive, send)

    def name_of(self, key: str) -> str | None:
        """The name of a presented key, or None. The lookup is by the key's hash, so its timing says nothing about
        the stored keys' characters."""
        return self.keys.get(digest(key))
