"""Load and fault test of the job queue: many concurrent mixed uploads to ``POST /v1/jobs``, the server killed
(SIGKILL) mid-queue and restarted on the same SQLite file, every accepted job completed exactly once.

Starts ``python serve.py`` in a subprocess (its own job database, JSON logs to a file), sends ``--uploads`` uploads
at once, cycling through images, short videos, audio and hostile files (truncated JPEG, zero bytes, a JPEG named
``.mp4``, text named ``.jpg``, garbage after an mp4 header, a file over the job upload limit). When every upload is
answered and at least ``--kill-after`` jobs are done (or, with ``--kill-during-uploads``, as soon as 20 jobs
are acknowledged, the other uploads still arriving), the server is killed with SIGKILL and restarted; uploads whose
answer the kill cut off are sent again with the same ``Idempotency-Key``, and every accepted job is polled until it
is done.

Checks: no 5xx answer at any time; every accepted job is done (or failed) with ``completions == 1`` in the database
and exactly one completion line in the two servers' logs; every job in the database was acknowledged to the client
(no duplicate from a retry); no upload file left; no traceback. Only 127.0.0.1 is contacted. The model defaults to
the untrained ``small`` preset exported to ONNX.

Usage:
    uv run python benchmarks/bench_jobs.py [--model PATH] [--uploads 200] [--job-workers 2] [--kill-after 20]
        [--kill-during-uploads] [--server-arg predictor.faces.frames_per_video=8] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_serve_load import ROOT, face_image, free_port, percentile, wait_ready  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
OVERSIZE_LIMIT = 4 * 1024 * 1024  # jobs.max_upload_bytes of the benchmark server


def media_files(folder: Path) -> list[tuple[str, str, bytes]]:
    """(kind, upload name, bytes) of each kind of upload."""
    import soundfile as sf
    from PIL import Image

    from dfdet.testing.media import face_frames, write_corrupt, write_video

    face, _ = face_image()
    t = np.arange(32000) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    clip = write_video(folder / "clip.mp4", face_frames(20, size=(192, 144)), fps=10, audio=tone)
    wav = io.BytesIO()
    sf.write(wav, tone, 16000, format="WAV")
    grey = io.BytesIO()
    Image.new("RGB", (160, 120), (128, 128, 128)).save(grey, format="PNG")
    files = [
        ("image", "face.jpg", face),
        ("image", "grey.png", grey.getvalue()),  # no face: a result with not_applicable
        ("video", "clip.mp4", clip.read_bytes()),
        ("audio", "tone.wav", wav.getvalue()),
        ("hostile", "truncated.jpg", face[: len(face) // 2]),
        ("hostile", "empty.jpg", b""),
        ("hostile", "image-named.mp4", face),
        ("hostile", "text-named.jpg", b"not an image\n" * 10),
        ("hostile", "garbage.mp4", write_corrupt(folder / "garbage.mp4").read_bytes()),
        ("hostile", "oversize.jpg", b"\xff\xd8\xff\xe0" + os.urandom(OVERSIZE_LIMIT)),
    ]
    real = [SHARED / "video" / "short_hamilton_clip.mp4", SHARED / "faces" / "face_recognition" / "two_people.jpg"]
    speech = sorted((SHARED / "audio" / "librispeech").rglob("*.flac"))[:1]
    for path in [*real, *speech]:
        if path.is_file():
            kind = {".mp4": "video", ".jpg": "image", ".flac": "audio"}[path.suffix]
            files.append((kind, path.name, path.read_bytes()))
    return files


def start_server(model: Path, port: int, folder: Path, args: argparse.Namespace, run: int) -> subprocess.Popen:
    command = [
        sys.executable, str(ROOT / "serve.py"), f"model={model}", f"port={port}", "log_level=warning",
        "log_format=json", f"jobs.db_path={folder / 'jobs.sqlite'}", f"jobs.workers={args.job_workers}",
        f"jobs.max_upload_bytes={OVERSIZE_LIMIT}", "jobs.poll_s=0.2", f"limits.max_uploads={args.uploads}",
        f"limits.upload_dir={folder / 'uploads'}", f"hydra.run.dir={folder / f'run{run}'}", *args.server_arg,
    ]  # fmt: skip
    log = open(folder / f"server{run}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder)


async def submit_all(
    url: str, files: list[tuple[str, str, bytes]], uploads: list[int], kill: subprocess.Popen | None = None
) -> list[tuple]:
    """Sends the uploads numbered ``uploads`` at once, upload i with ``Idempotency-Key: bench-<i>``; (kind, name,
    status or exception, latency, job id or error code) each. With ``kill``, that server is killed (SIGKILL) as soon
    as 20 jobs are acknowledged (a quarter of the uploads, with fewer)."""
    count = len(uploads)
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    answered: list[int | str] = []

    async def killer() -> None:
        while answered.count(202) < min(20, count // 4) and len(answered) < count:
            await asyncio.sleep(0.01)
        assert kill is not None
        kill.send_signal(signal.SIGKILL)

    async with httpx.AsyncClient(limits=limits, timeout=300) as client:

        async def one(i: int) -> tuple:
            kind, name, data = files[i % len(files)]
            start = time.perf_counter()
            try:
                r = await client.post(f"{url}/v1/jobs", files={"file": (name, data)},
                                      headers={"idempotency-key": f"bench-{i}"})  # fmt: skip
                answered.append(r.status_code)
                body = r.json()
                tag = body.get("id") if r.status_code == 202 else body.get("error", {}).get("code")
                return kind, name, r.status_code, time.perf_counter() - start, tag
            except Exception as exc:  # noqa: BLE001 - counted and reported
                answered.append(type(exc).__name__)
                return kind, name, type(exc).__name__, time.perf_counter() - start, None

        killing = [asyncio.create_task(killer())] if kill is not None else []
        answers = list(await asyncio.gather(*(one(i) for i in uploads)))
        await asyncio.gather(*killing)
        return answers


def db_jobs(db: Path) -> dict[str, dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return {r["id"]: dict(r) for r in conn.execute("SELECT id, status, attempts, completions, http_status, path "
                                                         "FROM jobs")}  # fmt: skip


def poll_until_done(url: str, ids: list[str], limit: float, statuses: Counter) -> dict[str, dict]:
    """Polls every job until it is done or failed (or ``limit`` s pass); counts the polls' HTTP statuses."""
    pending, final = set(ids), {}
    deadline = time.monotonic() + limit
    with httpx.Client(timeout=30) as client:
        while pending and time.monotonic() < deadline:
            for job_id in sorted(pending):
                r = client.get(f"{url}/v1/jobs/{job_id}")
                statuses[r.status_code] += 1
                if r.status_code == 200 and r.json()["status"] in ("done", "failed"):
                    final[job_id] = r.json()
                    pending.discard(job_id)
            time.sleep(0.5)
    return final


def completion_lines(logs: list[str]) -> Counter:
    """Completion log lines per job id, over the servers' JSON logs."""
    count: Counter = Counter()
    for text in logs:
        for line in text.splitlines():
            if line.startswith("{") and '"job_state"' in line:
                entry = json.loads(line)
                if entry.get("job_state") in ("done", "failed"):
                    count[entry["job_id"]] += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="an exported .onnx or a .ckpt (default: untrained small preset)")
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--job-workers", type=int, default=2)
    parser.add_argument("--kill-after", type=int, default=20, help="jobs done before the server is killed")
    parser.add_argument(
        "--kill-during-uploads",
        action="store_true",
        help="kill the server as soon as 20 jobs are acknowledged, the other uploads still arriving",
    )
    parser.add_argument("--time-limit", type=float, default=1200.0, help="bound of the whole drain (s)")
    parser.add_argument("--server-arg", action="append", default=[], help="extra serve.py override (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dfdet-jobs-") as tmp:
        folder = Path(tmp)
        if args.model is None:
            from bench_predict import export_small

            args.model = export_small(folder)
        files = media_files(folder)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(args.model.resolve(), port, folder, args, 1)
        try:
            wait_ready(url, proc)
            start = time.perf_counter()
            uploads = list(range(args.uploads))
            answers = asyncio.run(submit_all(url, files, uploads, proc if args.kill_during_uploads else None))
            submit_wall = time.perf_counter() - start
            accepted = [a[4] for a in answers if a[2] == 202]
            cut_off = [i for i, a in zip(uploads, answers, strict=True) if not isinstance(a[2], int)]
            while not args.kill_during_uploads:  # kill mid-queue: some jobs done, the rest waiting or running
                counts = Counter(j["status"] for j in db_jobs(folder / "jobs.sqlite").values())
                if counts["done"] + counts["failed"] >= min(args.kill_after, len(accepted)):
                    break
                time.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            killed_at = time.perf_counter() - start
            at_kill = Counter(j["status"] for j in db_jobs(folder / "jobs.sqlite").values())
            proc = start_server(args.model.resolve(), port, folder, args, 2)
            wait_ready(url, proc)
            committed_unanswered = set(db_jobs(folder / "jobs.sqlite")) - set(accepted)
            retries = asyncio.run(submit_all(url, files, cut_off)) if cut_off else []  # same Idempotency-Keys
            accepted = list(dict.fromkeys([*accepted, *(a[4] for a in retries if a[2] == 202)]))
            polls: Counter = Counter()
            final = poll_until_done(url, accepted, args.time_limit, polls)
            drain_wall = time.perf_counter() - start
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        rows = db_jobs(folder / "jobs.sqlite")
        logs = [(folder / f"server{i}.log").read_text() for i in (1, 2)]
        left = [p for p in (folder / "job_files").glob("*") if p.is_file()]

    lines = completion_lines(logs)
    statuses = Counter(str(a[2]) for a in answers)
    by_kind = {kind: dict(Counter(f"{a[2]} {a[4] if a[2] != 202 else ''}".strip() for a in answers if a[0] == kind))
               for kind in sorted({a[0] for a in answers})}  # fmt: skip
    results = Counter(f"{j['http_status']} {j['result'].get('error', {}).get('code', 'scored')}"
                      for j in final.values())  # fmt: skip
    server_errors = sum(1 for a in [*answers, *retries] if isinstance(a[2], int) and a[2] >= 500) + sum(
        n for s, n in polls.items() if s >= 500
    )
    lost = [i for i in accepted if i not in final or rows.get(i, {}).get("status") not in ("done", "failed")]
    not_once = [i for i in accepted if rows.get(i, {}).get("completions") != 1 or lines[i] != 1]
    figures = {
        "uploads": args.uploads,
        "kinds": f"{len(files)} files cycled: " + ", ".join(name for _, name, _ in files),
        "server": f"job workers {args.job_workers}, max_uploads {args.uploads} {' '.join(args.server_arg)}".strip(),
        "killed": "as soon as 20 jobs were acknowledged" if args.kill_during_uploads else "mid-queue",
        "submit_wall_s": round(submit_wall, 2),
        "submit_latency_p50_p99_s": (percentile([a[3] for a in answers], 50), percentile([a[3] for a in answers], 99)),
        "submit_status_counts": dict(sorted(statuses.items())),
        "submit_answers_by_kind": by_kind,
        "accepted": len(accepted),
        "killed_at_s": round(killed_at, 2),
        "jobs_at_kill": dict(at_kill),
        "requeued_after_kill": sum(1 for i in accepted if rows[i]["attempts"] == 2),
        "drain_wall_s": round(drain_wall, 2),
        "jobs_per_s_overall": round(len(final) / drain_wall, 2),
        "job_results": dict(sorted(results.items())),
        "poll_status_counts": dict(sorted(polls.items())),
        "server_5xx": server_errors,
        "uploads_cut_off_by_the_kill": len(cut_off),
        "their_retries": dict(Counter(str(a[2]) for a in retries)),
        "retries_answered_with_the_job_already_committed": sum(1 for a in retries if a[4] in committed_unanswered),
        "jobs_in_db_never_acknowledged": len(set(rows) - set(accepted)),
        "lost_jobs": len(lost),
        "not_completed_exactly_once": len(not_once),
        "upload_files_left": len(left),
        "tracebacks_in_logs": sum(text.count("Traceback") for text in logs),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
    }
    for key, value in figures.items():
        print(f"{key:>28}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    if server_errors or lost or not_once or left or figures["tracebacks_in_logs"] or set(rows) - set(accepted):
        raise SystemExit("5xx answers, lost jobs, jobs not completed exactly once, leftover files or tracebacks")


if __name__ == "__main__":
    main()
