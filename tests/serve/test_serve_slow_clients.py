"""Slow clients against a real uvicorn server on 127.0.0.1: they are cut off after their time limits, and while they
hold connections, valid uploads are still answered (uploads are received outside the prediction slots)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from dfdet.serve import ServeSettings, create_app

BOUNDARY = b"slow"
PART_HEAD = b'--slow\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n\xff\xd8\xff\xe0'


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """What the server sends until it closes the connection (also when it resets it)."""
    received = b""
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionError:
        pass
    return received


async def slow_client(url: str, phase: str, step: bytes, every: float, bound: float) -> tuple[float, bytes]:
    """Opens a connection and trickles ``step`` every ``every`` seconds, either into the request headers
    (``phase="headers"``; an empty step sends nothing at all) or into the body of an upload announced as 1 MB
    (``phase="body"``), until the server closes the connection or ``bound`` seconds have passed.

    Returns:
        Seconds until the server closed the connection (``bound`` if it did not), and what it answered.
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    start = time.monotonic()
    head = b"POST /v1/predict HTTP/1.1\r\nHost: " + parts.netloc.encode() + b"\r\n"
    if phase == "body":
        head += b"Content-Type: multipart/form-data; boundary=" + BOUNDARY + b"\r\n"
        head += b"Content-Length: 1000000\r\n\r\n" + PART_HEAD
    line = step if phase == "body" else b"X-Slow-" + step + b": 1\r\n"
    if step:
        writer.write(head)
    closed = asyncio.create_task(read_until_closed(reader))
    try:
        for _ in range(int(bound / every)):
            if closed.done():
                break
            if step:
                writer.write(line)
            try:
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait([closed], timeout=every)
        answer = await asyncio.wait_for(closed, timeout=max(bound - (time.monotonic() - start), 0.1))
        return time.monotonic() - start, answer
    except (TimeoutError, ConnectionError):
        return bound, b""
    finally:
        closed.cancel()
        writer.close()


async def held(slots: Any, count: int, bound: float = 10.0) -> None:
    """Waits until ``count`` slots are taken (at most ``bound`` seconds)."""
    deadline = time.monotonic() + bound
    while slots.held < count and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert slots.held >= count, f"only {slots.held} of {count} slots were taken"


async def valid_uploads(url: str, image: bytes, count: int) -> list[tuple[int, float]]:
    """Uploads ``image`` ``count`` times, one after the other: (status, seconds) of each."""
    results = []
    async with httpx.AsyncClient(timeout=20) as client:
        for i in range(count):
            start = time.monotonic()
            response = await client.post(f"{url}/v1/predict", files={"file": (f"{i}.jpg", image, "image/jpeg")})
            results.append((response.status_code, time.monotonic() - start))
    return results


def test_twenty_slow_clients_do_not_stop_valid_uploads(
    fake_predictor: Any, face_jpeg: bytes, tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    # queue_size 0: before uploads were received outside the prediction slots, one slow client made every upload 503
    settings = ServeSettings(
        upload_dir=str(tmp_path / "uploads"), workers=1, queue_size=0, max_uploads=32, upload_timeout_s=4.0,
        min_upload_rate=100, upload_grace_s=0.5,
    )  # fmt: skip
    app = create_app(fake_predictor(), settings)

    async def run(url: str) -> tuple[list[tuple[float, bytes]], list[tuple[int, float]], int]:
        # 10 send their body at 500 bytes/s (above the minimum rate: they keep their uploads until the time limit),
        # 10 send one header line every 0.2 s (until the header time limit)
        slow = [asyncio.create_task(slow_client(url, "body", b"x" * 100, 0.2, 15)) for _ in range(10)]
        slow += [asyncio.create_task(slow_client(url, "headers", b"%d" % i, 0.2, 15)) for i in range(10)]
        await held(app.state.uploads, 10)
        valid = await valid_uploads(url, face_jpeg, 5)
        still_uploading = app.state.uploads.held
        return await asyncio.gather(*slow), valid, still_uploading

    with live_server(app, header_timeout_s=4.0) as url:
        slow, valid, still_uploading = asyncio.run(run(url))
    assert [status for status, _ in valid] == [200] * 5
    assert max(seconds for _, seconds in valid) < 2.5
    assert still_uploading == 10  # the valid uploads were answered while the slow ones held their upload slots
    for seconds, answer in slow[:10]:
        assert 3.5 < seconds < 10 and answer.startswith(b"HTTP/1.1 408 ") and b'"upload_timeout"' in answer
    for seconds, answer in slow[10:]:
        assert 3.5 < seconds < 10 and answer == b""  # closed without an answer
    assert app.state.uploads.held == app.state.admission.held == 0
    assert list((tmp_path / "uploads").iterdir()) == []


def test_slow_clients_are_cut_off(
    fake_predictor: Any, face_jpeg: bytes, tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    settings = ServeSettings(
        upload_dir=str(tmp_path / "uploads"), max_uploads=1, upload_timeout_s=30, min_upload_rate=1000,
        upload_grace_s=0.3,
    )  # fmt: skip
    app = create_app(fake_predictor(), settings)

    async def run(url: str) -> tuple[tuple[float, bytes], ...]:
        below_rate = asyncio.create_task(slow_client(url, "body", b"x" * 10, 0.1, 10))  # 100 bytes/s
        await held(app.state.uploads, 1)
        async with httpx.AsyncClient() as client:  # the only upload slot is taken
            refused = await client.post(f"{url}/v1/predict", files={"file": ("a.jpg", face_jpeg)})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "busy"
        headers = slow_client(url, "headers", b"h", 0.1, 10)
        idle = slow_client(url, "headers", b"", 10, 10)  # connects, then sends nothing
        return await asyncio.gather(below_rate, headers, idle)

    with live_server(app, header_timeout_s=0.5) as url:
        (rate_s, answer), (headers_s, headers_answer), (idle_s, _) = asyncio.run(run(url))
    assert rate_s < 3 and answer.startswith(b"HTTP/1.1 408 ") and b"connection: close" in answer.lower()
    assert 0.4 < headers_s < 3 and headers_answer == b""
    assert 0.4 < idle_s < 3
    assert app.state.uploads.held == 0 and list((tmp_path / "uploads").iterdir()) == []


def test_kept_alive_connection_trickling_the_next_request_is_closed(
    fake_predictor: Any, tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    # uvicorn's own keep-alive timer stops at any byte: one byte every 0.1 s would keep the connection for ever
    app = create_app(fake_predictor(), ServeSettings(upload_dir=str(tmp_path / "uploads")))

    async def run(url: str) -> tuple[bytes, float]:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: " + parts.netloc.encode() + b"\r\n\r\n")
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        start = time.monotonic()
        closed = asyncio.create_task(read_until_closed(reader))
        for _ in range(50):  # at most 5 s
            if closed.done():
                break
            writer.write(b"G")
            await asyncio.wait([closed], timeout=0.1)
        writer.close()
        return first, time.monotonic() - start

    with live_server(app, header_timeout_s=1.0) as url:
        first, seconds = asyncio.run(run(url))
    assert first.startswith(b"HTTP/1.1 200 ") and 0.8 < seconds < 3
