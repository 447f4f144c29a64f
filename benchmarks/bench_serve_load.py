"""Load test of the HTTP API: many concurrent image uploads against ``serve.py`` on 127.0.0.1.

Starts ``python serve.py model=... port=<free port>`` in a subprocess (its own upload folder), waits for
``/healthz``, sends ``--requests`` uploads of one face image with at most ``--concurrency`` in flight, all within
``--time-limit`` seconds, then reports throughput, latency percentiles, status-code counts and server errors (5xx
other than the designed 503 "busy" answers, tracebacks in the server's log), and checks that the server ends
idle with no temporary upload left. The model defaults to the untrained ``small`` preset exported to ONNX.

With ``--slow-clients N``, N slow clients hold connections during the whole load: half trickle request headers
(one header line a second), half trickle an upload body at ``--slow-rate`` bytes/s (above the server's minimum
rate, so they keep their upload slot until the upload time limit); each reconnects when the server cuts it off.
Only 127.0.0.1 is contacted.

Usage:
    uv run python benchmarks/bench_serve_load.py [--model PATH] [--requests 200] [--concurrency 200]
        [--workers 1] [--queue-size 8] [--request-timeout 60] [--time-limit 300] [--server-arg threads=1]
        [--slow-clients 20] [--slow-rate 40000] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FACE = ROOT.parent / "shared" / "data" / "faces" / "face_recognition" / "obama_small.jpg"


def face_image() -> tuple[bytes, str]:
    """A real face photo from ../shared/data, or the astronaut face of dfdet.testing.media."""
    if FACE.is_file():
        return FACE.read_bytes(), FACE.name
    from PIL import Image

    from dfdet.testing.media import face_frames

    buffer = io.BytesIO()
    Image.fromarray(face_frames(1, size=(320, 240))[0]).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), "astronaut.jpg (generated)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(model: Path, port: int, args: argparse.Namespace, folder: Path) -> subprocess.Popen:
    command = [
        sys.executable, str(ROOT / "serve.py"), f"model={model}", f"port={port}", "log_level=warning",
        f"limits.workers={args.workers}", f"limits.queue_size={args.queue_size}",
        f"limits.request_timeout_s={args.request_timeout}", f"limits.upload_dir={folder / 'uploads'}",
        f"hydra.run.dir={folder / 'run'}", *args.server_arg,
    ]  # fmt: skip
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            return httpx.get(f"{url}/healthz", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit(f"the server did not answer {url}/healthz within {timeout:.0f} s")


async def slow_client(port: int, body: bool, rate: float, stop: asyncio.Event, outcomes: Counter) -> None:
    """Holds a connection by trickling headers (one line a second) or a body (``rate`` bytes/s, in 10 steps a
    second), reconnecting after each cut-off, until ``stop`` is set; counts how each connection ended."""
    while not stop.is_set():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if body:
            head += b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 60000000\r\n\r\n"
            head += b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n\xff\xd8\xff\xe0'
        step, every = (b"x" * int(rate / 10), 0.1) if body else (b"X-Slow: 1\r\n", 1.0)
        answer = asyncio.create_task(reader.read(64))
        try:
            writer.write(head)
            while not stop.is_set() and not answer.done():
                writer.write(step)
                await writer.drain()
                await asyncio.wait([answer], timeout=every)
            if answer.done():
                first = answer.result()
                outcomes[first[:12].decode(errors="replace") if first else "closed by server"] += 1
        except ConnectionError:
            outcomes["reset by server"] += 1
        finally:
            answer.cancel()
            writer.close()
        await asyncio.sleep(0.1)  # then reconnect (without spinning when every slot is taken)


async def load(url: str, image: bytes, requests: int, concurrency: int, time_limit: float) -> list[tuple]:
    """Sends the uploads; returns (status or exception name, latency s, error code) per request."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    results: list[tuple] = []

    async with httpx.AsyncClient(limits=limits, timeout=time_limit) as client:

        async def one(i: int) -> None:
            async with gate:
                start = time.perf_counter()
                try:
                    r = await client.post(f"{url}/v1/predict", files={"file": (f"face{i}.jpg", image, "image/jpeg")})
                    code = r.json().get("error", {}).get("code") if r.status_code != 200 else None
                    results.append((r.status_code, time.perf_counter() - start, code))
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    results.append((type(exc).__name__, time.perf_counter() - start, None))

        tasks = [asyncio.create_task(one(i)) for i in range(requests)]
        done, pending = await asyncio.wait(tasks, timeout=time_limit)
        for task in pending:
            task.cancel()
        results += [("unfinished", time_limit, None)] * len(pending)
    return results


async def load_with_slow_clients(url: str, image: bytes, args: argparse.Namespace, outcomes: Counter) -> list[tuple]:
    """:func:`load` while ``args.slow_clients`` slow clients hold connections."""
    stop = asyncio.Event()
    port = int(url.rsplit(":", 1)[1])
    slow = [
        asyncio.create_task(slow_client(port, i % 2 == 0, args.slow_rate, stop, outcomes))
        for i in range(args.slow_clients)
    ]
    if slow:
        await asyncio.sleep(args.slow_head_start)  # the slow clients take their connections and upload slots
        async with httpx.AsyncClient() as client:
            outcomes["upload slots held before the load"] = (await client.get(f"{url}/healthz")).json()["uploading"]
    try:
        return await load(url, image, args.requests, args.concurrency, args.time_limit)
    finally:
        stop.set()
        if slow:
            await asyncio.wait(slow, timeout=5)


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="an exported .onnx or a .ckpt (default: untrained small preset)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="server prediction threads")
    parser.add_argument("--queue-size", type=int, default=8, help="server queue beyond the running predictions")
    parser.add_argument("--request-timeout", type=float, default=60.0, help="server time limit per request (s)")
    parser.add_argument("--time-limit", type=float, default=300.0, help="global bound of the whole load (s)")
    parser.add_argument("--server-arg", action="append", default=[], help="extra serve.py override (repeatable)")
    parser.add_argument("--slow-clients", type=int, default=0, help="slow connections held during the load")
    parser.add_argument("--slow-rate", type=float, default=40000, help="body bytes/s of the body-trickling ones")
    parser.add_argument("--slow-head-start", type=float, default=3.0, help="s the slow clients get before the load")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    image, image_name = face_image()
    slow_outcomes: Counter = Counter()
    with tempfile.TemporaryDirectory(prefix="dfdet-load-") as tmp:
        folder = Path(tmp)
        if args.model is None:
            sys.path.insert(0, str(Path(__file__).parent))
            from bench_predict import export_small

            args.model = export_small(folder)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(args.model.resolve(), port, args, folder)
        try:
            health = wait_ready(url, proc)
            httpx.post(f"{url}/v1/predict", files={"file": ("warmup.jpg", image)}, timeout=120)  # MTCNN built
            start = time.perf_counter()
            results = asyncio.run(load_with_slow_clients(url, image, args, slow_outcomes))
            wall = time.perf_counter() - start
            time.sleep(0.5)
            after = httpx.get(f"{url}/healthz", timeout=10).json()
            left = list((folder / "uploads").glob("*"))
        finally:
            proc.terminate()
            proc.wait(30)
        server_log = (folder / "server.log").read_text()

    statuses = Counter(str(s) for s, _, _ in results)
    codes = Counter(c for _, _, c in results if c)
    ok = [t for s, t, _ in results if s == 200]
    server_errors = sum(n for s, n in statuses.items() if s.isdigit() and int(s) >= 500 and s != "503")
    figures = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "server": f"workers {args.workers}, queue {args.queue_size}, request timeout {args.request_timeout:g} s "
        f"{' '.join(args.server_arg)}".strip(),
        "model": f"{health['model']['name']} ({health['model']['format']}, {health['model']['backbone']})",
        "image": f"{image_name}, {len(image)} bytes",
        "slow_clients": f"{args.slow_clients} ({args.slow_rate:g} bytes/s bodies, 1 header line/s)"
        if args.slow_clients
        else 0,
        "slow_connections_ended": dict(slow_outcomes),
        "wall_s": round(wall, 2),
        "throughput_ok_per_s": round(len(ok) / wall, 2),
        "responses_per_s": round(sum(1 for s, _, _ in results if str(s).isdigit()) / wall, 2),
        "latency_ok_p50_s": percentile(ok, 50),
        "latency_ok_p99_s": percentile(ok, 99),
        "latency_all_p50_s": percentile([t for _, t, _ in results], 50),
        "latency_all_p99_s": percentile([t for _, t, _ in results], 99),
        "status_counts": dict(sorted(statuses.items())),
        "error_codes": dict(sorted(codes.items())),
        "server_errors": server_errors,
        "tracebacks_in_server_log": server_log.count("Traceback"),
        "in_flight_after": after["in_flight"],
        "uploads_left_after": len(left),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
    }
    for key, value in figures.items():
        print(f"{key:>26}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if server_errors or figures["tracebacks_in_server_log"] or after["in_flight"] or left:
        raise SystemExit("server errors, leaked slots or leftover uploads: see above")


if __name__ == "__main__":
    main()
