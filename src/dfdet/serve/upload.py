"""Receiving one uploaded file from a multipart body, streamed to a temporary file under hard limits.

The body is parsed as it arrives (python-multipart's streaming parser), so the size limit holds whatever the
``Content-Length`` header says (or when there is none: chunked uploads); the file type is decided from the first
bytes of the file (:func:`dfdet.predict.media.sniff`), so an unsupported file is refused before it is stored. The
client's file name is kept for display only: the file is stored under a generated name in the upload folder.

A slow client cannot hold its upload for long: the whole body must arrive within a time limit, and, after a grace
period, at an average of at least a minimum rate (the next chunk is awaited only until the average would fall below
it), so a client that trickles bytes is answered 408 and its connection closed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from dfdet.predict.media import SNIFF_BYTES, SUPPORTED, MediaType, sniff
from dfdet.serve.errors import ApiError

FIELD = "file"  # the form field holding the upload
OVERHEAD = 64 * 1024  # allowed multipart framing (boundaries, part headers, small fields) beyond the file itself
MAX_NAME = 255  # longest client file name kept for display


@dataclass
class Upload:
    """A received file.

    Attributes:
        path: the temporary file (generated name; the caller removes it).
        filename: the client's name for it, for display only (never used as a path).
        media: its type, sniffed from its bytes.
        size: bytes received.
    """

    path: Path
    filename: str
    media: MediaType
    size: int


def too_large(limit: int) -> ApiError:
    return ApiError(413, "file_too_large", f"the upload is larger than the limit of {limit} bytes")


class _Receiver:
    """python-multipart callbacks: keeps the part named ``file``, ignores other fields, enforces the limits."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.in_file = False
        self.head = b""  # first bytes of the file, kept until its type is known
        self.media: MediaType | None = None
        self.handle: int | None = None
        self.path: Path | None = None
        self.filename = ""
        self.size = 0
        self.complete = False

    def on_part_begin(self) -> None:
        self.disposition = b""
        self.in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.strip().lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if options.get(b"name") != FIELD.encode():
            return
        if self.complete or self.path is not None or self.head:
            raise ApiError(400, "bad_request", f"send exactly one file in the form field '{FIELD}'")
        self.in_file = True
        name = options.get(b"filename", b"").decode("utf-8", "replace")
        self.filename = os.path.basename(name.replace("\\", "/"))[:MAX_NAME] or "upload"

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            return  # other fields are ignored (their size counts towards the body limit)
        chunk = data[start:end]
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        if self.media is None:
            self.head += chunk
            if len(self.head) >= SNIFF_BYTES:
                self._open()
            return
        self._write(chunk)

    def on_part_end(self) -> None:
        if not self.in_file:
            return
        if self.media is None:
            if not self.head:
                raise ApiError(400, "empty_file", "the uploaded file is empty")
            self._open()
        self.in_file = False
        self.complete = True

    def _open(self) -> None:
        """Decides the type from the first bytes; creates the temporary file under a generated name."""
        media = sniff(self.head)
        if media is None:
            message = f"the file is not a supported image, video or audio file ({SUPPORTED})"
            raise ApiError(415, "unsupported_media_type", message)
        self.media = media
        self.handle, name = tempfile.mkstemp(prefix="dfdet-upload-", suffix=media.suffix, dir=self.folder)
        self.path = Path(name)
        head, self.head = self.head, b""
        self._write(head)

    def _write(self, chunk: bytes) -> None:
        assert self.handle is not None
        view = memoryview(chunk)
        while view:
            view = view[os.write(self.handle, view) :]

    def close(self) -> None:
        if self.handle is not None:
            os.close(self.handle)
            self.handle = None

    def discard(self) -> None:
        self.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def receive_deadline(start: float, received: int, time_limit: float, min_rate: float, grace: float) -> float:
    """The time by which more of the body must have arrived: when the whole upload's time is up, or when the average
    rate since ``start`` would fall below ``min_rate`` (after ``grace`` seconds), whichever comes first."""
    deadline = start + time_limit
    if min_rate > 0:
        deadline = min(deadline, start + grace + received / min_rate)
    return deadline


def too_slow(time_limit: float, min_rate: float, grace: float) -> ApiError:
    message = (
        f"the upload was not received in time (limit {time_limit:g} s, and at least {min_rate:g} bytes/s after "
        f"the first {grace:g} s)"
    )
    return ApiError(408, "upload_timeout", message, headers={"Connection": "close"})


async def receive_upload(
    request: Request, folder: Path, max_bytes: int, time_limit: float, min_rate: float = 0.0, grace: float = 0.0
) -> Upload:
    """Streams the request's multipart body; stores the file of the form field ``file``.

    Args:
        request: a ``multipart/form-data`` request.
        folder: where the temporary file is created.
        max_bytes: largest accepted file.
        time_limit: seconds allowed for receiving the whole body.
        min_rate: bytes per second the body must average once ``grace`` seconds have passed (0: no minimum).
        grace: seconds before the minimum rate applies.

    Returns:
        The stored upload; the caller removes ``path``.

    Raises:
        ApiError: 400 (not multipart, malformed, no ``file`` field, empty file), 408 (body not received in time or
            too slowly; the connection is closed), 413 (file or body too large, announced or received), 415
            (unsupported type).
    """
    start = anyio.current_time()
    content_type = request.headers.get("content-type", "")
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise ApiError(400, "bad_request", f"send multipart/form-data with the file in the form field '{FIELD}'")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + OVERHEAD:
        raise too_large(max_bytes)
    receiver = _Receiver(folder, max_bytes)
    callbacks = {name: getattr(receiver, name) for name in dir(_Receiver) if name.startswith("on_")}
    parser = MultipartParser(params[b"boundary"], callbacks)  # type: ignore[arg-type]
    received = 0
    chunks = request.stream().__aiter__()
    try:
        while True:
            wait = receive_deadline(start, received, time_limit, min_rate, grace) - anyio.current_time()
            if wait <= 0:
                raise TimeoutError
            with anyio.fail_after(wait):
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
            received += len(chunk)
            if received > max_bytes + OVERHEAD:
                raise too_large(max_bytes)
            parser.write(chunk)
        parser.finalize()
        if not receiver.complete or receiver.path is None or receiver.media is None:
            raise ApiError(400, "bad_request", f"no complete file in the form field '{FIELD}'")
    except TimeoutError as exc:
        receiver.discard()
        raise too_slow(time_limit, min_rate, grace) from exc
    except (FormParserError, ClientDisconnect) as exc:
        receiver.discard()
        raise ApiError(400, "bad_request", f"malformed multipart body ({type(exc).__name__})") from exc
    except BaseException:
        receiver.discard()
        raise
    receiver.close()
    return Upload(receiver.path, receiver.filename, receiver.media, receiver.size)
