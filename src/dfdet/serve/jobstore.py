"""The durable job queue: jobs, their upload files' paths and their results in one SQLite file (stdlib ``sqlite3``).

A job is ``queued`` when its upload is on disk and its row committed (only then is it acknowledged), ``running``
while a worker scores it, then ``done`` (the result, which may be a per-file error such as ``no_face``) or
``failed``. Every transition is one SQL statement guarded by the state it leaves, so:

- a job is claimed by one worker only (``queued -> running`` with a fresh run token);
- a result is written once: ``running -> done`` needs the run token of the claim, so a worker of an earlier run (or
  a second completion) changes nothing; ``completions`` counts successful completions and stays at 1;
- at start-up, jobs left ``running`` by a stopped or killed server go back to ``queued`` (scoring runs again: a job
  is scored at least once and completed exactly once), unless they have been tried ``max_attempts`` times already
  (a file that kills the server each time), which fails them.

The database runs in WAL mode with ``synchronous=FULL``: a committed job survives a crash of the process or of the
machine. One server owns a database at a time (an exclusive lock on ``<db>.lock``; a second one is refused).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dfdet.errors import DfdetError

STATES = ("queued", "running", "done", "failed")
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT,                        -- the API key's name (NULL on a server without keys)
    filename TEXT NOT NULL,            -- the client's name, for display only
    path TEXT,                         -- the stored upload; NULL once the job has ended and the file is removed
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    explain INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    token TEXT,                        -- the current claim's run token
    attempts INTEGER NOT NULL DEFAULT 0,
    completions INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    expires REAL,
    http_status INTEGER,
    result TEXT,
    idempotency_key TEXT               -- the client's Idempotency-Key: a retried upload finds its job
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (status, created);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (COALESCE(owner, ''), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


class JobStoreError(DfdetError):
    """The job database cannot be opened (locked by another server, unwritable folder, not a database)."""


@dataclass(frozen=True)
class Claim:
    """A job taken by a worker: what it needs to score the file and complete the job."""

    id: str
    path: str
    filename: str
    explain: bool
    token: str
    attempts: int


class JobStore:
    """The jobs table of one SQLite file.

    Args:
        path: the database file (created with its folder).
        result_ttl_s: seconds a finished job's result is kept.
        clock: wall-clock seconds (tests pass their own to expire results).

    Raises:
        JobStoreError: the file is in use by another server or cannot be opened.
    """

    def __init__(self, path: str | os.PathLike, result_ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.result_ttl_s = result_ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lockfile = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise JobStoreError(f"cannot create the job database at {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lockfile)
            message = f"the job database {self.path} is in use by another server (one server per file)"
            raise JobStoreError(message) from None
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise JobStoreError(f"cannot use {self.path} as the job database: {exc}") from None

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._db.execute(sql, args)
            cursor.row_factory = sqlite3.Row
            return cursor.fetchall()

    def add(self, job_id: str, owner: str | None, filename: str, path: Path, media_type: str, size: int,
            explain: bool, idempotency_key: str | None = None) -> str:  # fmt: skip
        """Commits a queued job whose upload is at ``path`` (flushed to disk first).

        Returns:
            ``job_id``; or, when the owner already has a job with this ``idempotency_key``, that job's id (nothing
            is added then, and the caller removes ``path``).
        """
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            self._run(
                "INSERT INTO jobs (id, owner, filename, path, media_type, size, explain, status, created, "
                "idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
                (job_id, owner, filename, str(path), media_type, size, int(explain), self.clock(), idempotency_key),
            )
        except sqlite3.IntegrityError:
            existing = self.find(owner, idempotency_key) if idempotency_key else None
            if existing is None:
                raise
            return existing
        return job_id

    def find(self, owner: str | None, idempotency_key: str) -> str | None:
        """The id of the owner's job created with ``idempotency_key``, or None."""
        rows = self._run("SELECT id FROM jobs WHERE COALESCE(owner, '') = ? AND idempotency_key = ?",
                         (owner or "", idempotency_key))  # fmt: skip
        return str(rows[0]["id"]) if rows else None

    def claim(self) -> Claim | None:
        """Takes the oldest queued job (``queued -> running``, a fresh run token), or None when none waits."""
        rows = self._run(
            "UPDATE jobs SET status = 'running', token = ?, attempts = attempts + 1, started = ? "
            "WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY created, rowid LIMIT 1) "
            "AND status = 'queued' RETURNING id, path, filename, explain, token, attempts",
            (uuid.uuid4().hex, self.clock()),
        )
        if not rows:
            return None
        row = rows[0]
        return Claim(row["id"], row["path"], row["filename"], bool(row["explain"]), row["token"], row["attempts"])

    def complete(self, claim: Claim, status: str, http_status: int, result: dict[str, Any]) -> bool:
        """Writes the result of a claimed job (``running -> done|failed``) if it is still that claim's: True when
        written, False when the job is no longer running under this claim (nothing is changed then)."""
        assert status in ("done", "failed")
        now = self.clock()
        rows = self._run(
            "UPDATE jobs SET status = ?, http_status = ?, result = ?, finished = ?, expires = ?, token = NULL, "
            "path = NULL, completions = completions + 1 WHERE id = ? AND status = 'running' AND token = ? "
            "RETURNING id",
            (status, http_status, json.dumps(result), now, now + self.result_ttl_s, claim.id, claim.token),
        )
        return bool(rows)

    def recover(self, max_attempts: int) -> tuple[int, list[str]]:
        """At start-up: jobs left running go back to the queue; those tried ``max_attempts`` times fail.

        Returns:
            (jobs re-queued, ids of jobs failed).
        """
        now = self.clock()
        message = f"gave up after {max_attempts} attempts: the server stopped while scoring this file each time"
        body = json.dumps({"error": {"code": "job_failed", "message": message}})
        failed = self._run(
            "UPDATE jobs SET status = 'failed', http_status = 500, result = ?, finished = ?, expires = ?, "
            "token = NULL, path = NULL, completions = completions + 1 WHERE status = 'running' AND attempts >= ? "
            "RETURNING id",
            (body, now, now + self.result_ttl_s, max_attempts),
        )
        queued = self._run("UPDATE jobs SET status = 'queued', token = NULL WHERE status = 'running' RETURNING id")
        return len(queued), [row["id"] for row in failed]

    def release(self) -> int:
        """At a clean stop: jobs still running go back to the queue without counting the attempt (their workers'
        claims become stale); returns how many."""
        return len(self._run("UPDATE jobs SET status = 'queued', token = NULL, attempts = attempts - 1 "
                             "WHERE status = 'running' RETURNING id"))  # fmt: skip

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job's row (``result`` decoded), or None."""
        rows = self._run("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            return None
        job = dict(rows[0])
        job["result"] = json.loads(job["result"]) if job["result"] else None
        return job

    def position(self, job_id: str) -> int:
        """Queued jobs ahead of a queued job."""
        rows = self._run(
            "SELECT count(*) AS n FROM jobs WHERE status = 'queued' AND (created, rowid) < "
            "(SELECT created, rowid FROM jobs WHERE id = ?)",
            (job_id,),
        )
        return int(rows[0]["n"])

    def counts(self) -> dict[str, int]:
        """Jobs per state."""
        rows = self._run("SELECT status, count(*) AS n FROM jobs GROUP BY status")
        return {state: 0 for state in STATES} | {row["status"]: int(row["n"]) for row in rows}

    def expire(self) -> int:
        """Deletes finished jobs whose results have expired; returns how many."""
        return len(self._run("DELETE FROM jobs WHERE expires IS NOT NULL AND expires <= ? RETURNING id",
                             (self.clock(),)))  # fmt: skip

    def files(self) -> set[str]:
        """Paths of the uploads that jobs still need."""
        return {row["path"] for row in self._run("SELECT path FROM jobs WHERE path IS NOT NULL")}

    def ping(self) -> None:
        """A write transaction (``/readyz``: the database is writable)."""
        self._run("INSERT OR REPLACE INTO meta (key, value) VALUES ('ready_check', ?)", (str(self.clock()),))

    def close(self) -> None:
        """Closes the database and releases the lock (later calls raise ``sqlite3.ProgrammingError``)."""
        with self._lock:
            if getattr(self, "_db", None) is not None:
                self._db.close()
            if self._lockfile >= 0:
                os.close(self._lockfile)  # closing the descriptor releases the flock
                self._lockfile = -1
