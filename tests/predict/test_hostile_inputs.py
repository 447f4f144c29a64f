"""Hostile and odd inputs, one case per line with its expected answer, so that none regresses.

Each file case is made in ``tmp_path`` by its line's maker and scored in-process by ``Predictor.predict`` (an untrained
tiny face model and the session's face pipeline at 8 frames). The expected answer is an error code, or the ``kind``
the file is scored as (``partial video``: scored from the frames read, marked partial). The upload cases go through
the real app, the path cases through the command-line rewriting and Hydra's own override parser.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import av
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from dfdet.testing.media import face_frames, write_video

Maker = Callable[[Path], object]


@functools.cache
def frames() -> tuple[np.ndarray, ...]:
    """Eight frames of a real face (scikit-image's astronaut), 192 x 144."""
    return tuple(face_frames(8, size=(192, 144), seed=1))


def jpeg(path: Path) -> None:
    Image.fromarray(frames()[0]).save(path, format="JPEG", quality=90)


def png(path: Path, side: int = 0) -> None:
    """The face as a PNG, or a grey ``side`` x ``side`` one."""
    Image.fromarray(frames()[0] if not side else np.full((side, side, 3), 128, np.uint8)).save(path, format="PNG")


def grey16(path: Path) -> None:
    """The face as a 16-bit greyscale PNG (PIL mode ``I;16``)."""
    grey = np.asarray(Image.fromarray(frames()[0]).convert("L")).astype(np.uint16) * 257
    Image.fromarray(grey).save(path, format="PNG")


def png_header(width: int, height: int) -> Maker:
    """A tiny PNG whose header announces ``width`` x ``height`` (bombs; 0 x 0)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b"")
    return lambda path: path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def gif(count: int) -> Maker:
    """The face as a GIF of ``count`` frames (1: a still GIF)."""

    def make(path: Path) -> None:
        images = [Image.fromarray(f) for f in frames()[:count]]
        images[0].save(path, format="GIF", save_all=count > 1, append_images=images[1:], duration=100, loop=0)

    return make


def gif_bomb(path: Path) -> None:
    """A one-pixel GIF whose logical screen announces 60000 x 60000 pixels."""
    gif(1)(path)
    data = bytearray(path.read_bytes())
    data[6:10] = (60000).to_bytes(2, "little") * 2
    path.write_bytes(bytes(data))


def mp4(path: Path, faststart: bool = False) -> None:
    """32 frames of the face as an H.264 mp4; ``faststart``: the index (moov) before the data."""
    write_video(path, [frames()[i % 8] for i in range(32)], faststart=faststart)


def sound_only_mp4(path: Path) -> None:
    """An mp4 (brand ``isom``, so sniffed as video) holding an AAC track and no video."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "mono"
        track = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.float32), format="fltp", layout="mono")
        track.sample_rate = 16000
        container.mux(stream.encode(track))
        container.mux(stream.encode(None))


def wav(path: Path) -> None:
    sf.write(path, 0.3 * np.sin(np.arange(8000) / 5.0).astype(np.float32), 16000, format="WAV")


def bytes_(content: bytes) -> Maker:
    return lambda path: path.write_bytes(content)


def cut(maker: Maker, keep: float) -> Maker:
    """``maker``'s file cut to its first ``keep`` fraction (a truncated download)."""

    def make(path: Path) -> None:
        maker(path)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return make


class Case(NamedTuple):
    name: str  # also the file's name: names are part of the hostility
    make: Maker
    expected: str  # an error code, or the kind scored: "image", "video", "partial video"


CASES = [
    # name                                 how the file is made                                  expected answer
    Case("empty.jpg",                      bytes_(b""),                                          "unsupported_type"),
    Case("notes.jpg",                      bytes_(b"not an image, a text file\n" * 4),           "unsupported_type"),
    Case("model.mp4",                      bytes_(b"\x80\x04\x95\x10" + b"\x00" * 60),           "unsupported_type"),
    Case("renamed-jpeg.mp4",               jpeg,                                                 "image"),
    Case("renamed-video.jpg",              mp4,                                                  "video"),
    Case("truncated.jpg",                  cut(jpeg, 0.3),                                       "unreadable"),
    Case("truncated.png",                  cut(png, 0.5),                                        "unreadable"),
    Case("truncated-index-at-end.mp4",     cut(mp4, 0.5),                                        "unreadable"),
    Case("garbage-after-ftyp.mp4",         bytes_(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8), "unreadable"),
    Case("zero-by-zero.png",               png_header(0, 0),                                     "unreadable"),
    Case("one-pixel.png",                  lambda p: png(p, side=1),                             "no_face"),
    Case("grey-face-less.png",             lambda p: png(p, side=160),                           "no_face"),
    Case("bomb-pil-limit.png",             png_header(100_000, 100_000),                         "image_too_large"),
    Case("bomb-our-limit.png",             png_header(10_000, 10_000),                           "image_too_large"),
    Case("bomb.gif",                       gif_bomb,                                             "image_too_large"),
    Case("sound-only.mp4",                 sound_only_mp4,                                       "no_video_stream"),
    Case("voice.wav",                      wav,                                                  "wrong_modality"),
    Case("grey-16-bit.png",                grey16,                                               "image"),
    Case("truncated-partly-decodable.mp4", cut(lambda p: mp4(p, faststart=True), 0.25),          "partial video"),
    Case("animated.gif",                   gif(6),                                               "video"),
    Case("still.gif",                      gif(1),                                               "image"),
    Case("clip (1).mp4",                   mp4,                                                  "video"),
    Case("a=b,c.jpg",                      jpeg,                                                 "image"),
    Case("vidéo ü.jpg",                    jpeg,                                                 "image"),
    Case("it's [x] {y}.jpg",               jpeg,                                                 "image"),
]  # fmt: skip


@pytest.fixture(scope="module")
def predictor(untrained_face_ckpt: Path, faces: Any) -> Any:
    from dfdet.predict import Predictor, load_model

    return Predictor(load_model(untrained_face_ckpt), faces)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_file(case: Case, predictor: Any, tmp_path: Path) -> None:
    path = tmp_path / case.name
    case.make(path)
    result = predictor.predict(path).result
    assert result["file"] == case.name
    if case.expected in ("image", "video", "partial video"):
        assert "error" not in result, result.get("error")
        assert 0.0 <= result["fake_probability"] <= 1.0 and result["label"] in ("fake", "real")
        assert result["kind"] == case.expected.split()[-1]
        assert result["partial"] == case.expected.startswith("partial")
        assert result["frames_read"] == result["frames_sampled"] <= result["frames_requested"]
        if result["partial"]:
            assert result["frames_read"] < result["frames_requested"] and "warning" in result
    else:
        assert result["fake_probability"] is None, result
        assert result["error"]["code"] == case.expected, result["error"]


def test_a_16_bit_photo_scores_as_its_8_bit_copy(predictor: Any, shared_data: Path, tmp_path: Path) -> None:
    """A real photo saved as 16-bit greyscale gives the face, box and score of its 8-bit greyscale copy."""
    photo = sorted((shared_data / "faces" / "facenet_test_images").rglob("*.jp*g"))[0]
    grey = np.asarray(Image.open(photo).convert("L"))
    Image.fromarray(grey).save(tmp_path / "grey8.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    eight, sixteen = (predictor.predict(tmp_path / f"grey{b}.png").result for b in (8, 16))
    assert "error" not in sixteen and Image.open(tmp_path / "grey16.png").mode.startswith("I")
    assert sixteen["frames"][0]["box"] == eight["frames"][0]["box"]
    assert sixteen["fake_probability"] == pytest.approx(eight["fake_probability"])


def test_a_folder_lists_gifs(tmp_path: Path) -> None:
    from dfdet.tasks.predict import list_inputs

    gif(3)(tmp_path / "animated.gif")
    gif(1)(tmp_path / "still-without-suffix")  # found by its content
    assert [name for _, name in list_inputs(tmp_path)] == ["animated.gif", "still-without-suffix"]


PATHS = [
    # the command-line argument                    the value the config gets
    ("input=clip (1).mp4",                          "clip (1).mp4"),
    ("input=a=b,c.mp4",                             "a=b,c.mp4"),
    ("input=vidéo ü.mp4",                           "vidéo ü.mp4"),
    ("input=it's.mp4",                              "it's.mp4"),
    ("input=q'\\.mp4",                              "q'\\.mp4"),
    ("input=end\\",                                 "end\\"),
    ("input=[x] {y} #1.mp4",                        "[x] {y} #1.mp4"),
    ("input=1234",                                  "1234"),
    ("input=dir/plain.mp4",                         "dir/plain.mp4"),
    ("input='quoted (by the user).mp4'",            "quoted (by the user).mp4"),
    ("model=models/best (v2).onnx",                 "models/best (v2).onnx"),
    ("audio_model=voix, ü.onnx",                    "voix, ü.onnx"),
    ("output_dir=out=1",                            "out=1"),
]  # fmt: skip


@pytest.mark.parametrize(("arg", "expected"), PATHS, ids=[a for a, _ in PATHS])
def test_paths_with_special_characters_reach_the_config(arg: str, expected: str) -> None:
    from hydra import compose, initialize_config_dir

    from dfdet.tasks.predict import model_alias

    defaults = {"model_path": "m.onnx", "input": "x.mp4"}
    argv = model_alias(["predict.py", *(f"{k}={v}" for k, v in defaults.items()), arg])
    with initialize_config_dir(str(Path(__file__).resolve().parents[2] / "conf"), version_base="1.3"):
        cfg = compose("predict", argv[1:])
    key = {"model": "model_path", "audio_model": "audio_model_path"}.get(arg.split("=")[0], arg.split("=")[0])
    assert cfg[key] == expected


def test_cli_takes_such_paths(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    """The entry point itself (Hydra's command-line parsing), without running the prediction (``--cfg job``)."""
    args = ("model=best (1).onnx", "input=a=b,c/vidéo (it's).mp4", f"hydra.run.dir={tmp_path}", "--cfg", "job")
    proc = run_cli("predict.py", *args, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "model_path: best (1).onnx" in proc.stdout and "input: a=b,c/vidéo (it's).mp4" in proc.stdout


class Upload(NamedTuple):
    case: str
    request: Callable[[Callable[[Maker], bytes]], dict[str, Any]]  # given data(maker), the arguments of client.post
    status: int
    expected: str  # the error code, or the file name echoed with a 200


OVERSIZE = b"\xff\xd8\xff" + b"\0" * (1 << 20)  # more than the max_upload_bytes of the test app (1 MiB)

UPLOADS = [
    Upload("traversal name",   lambda d: {"files": {"file": ("../../etc/passwd.jpg", d(jpeg))}}, 200, "passwd.jpg"),
    Upload("windows traversal", lambda d: {"files": {"file": ("..\\..\\boot.jpg", d(jpeg))}}, 200, "boot.jpg"),
    Upload("HTML name",        lambda d: {"files": {"file": ("<b onmouseover=x>.jpg", d(jpeg))}}, 200,
           "<b onmouseover=x>.jpg"),
    Upload("special name",     lambda d: {"files": {"file": ("clip (1) a=b,c ü.mp4", d(mp4))}}, 200,
           "clip (1) a=b,c ü.mp4"),
    Upload("animated GIF",     lambda d: {"files": {"file": ("a.gif", d(gif(4)))}}, 200, "a.gif"),
    Upload("partial video",    lambda d: {"files": {"file": ("t.mp4", d(cut(lambda p: mp4(p, True), 0.25)))}}, 200,
           "t.mp4"),
    Upload("oversize",         lambda d: {"files": {"file": ("big.jpg", OVERSIZE)}}, 413, "file_too_large"),
    Upload("wrong form field", lambda d: {"files": {"photo": ("a.jpg", d(jpeg))}}, 400, "bad_request"),
    Upload("two file fields",  lambda d: {"files": [("file", ("a.jpg", d(jpeg))), ("file", ("b.jpg", d(jpeg)))]}, 400,
           "bad_request"),
    Upload("not multipart",    lambda d: {"content": d(jpeg), "headers": {"content-type": "image/jpeg"}}, 400,
           "bad_request"),
    Upload("empty upload",     lambda d: {"files": {"file": ("e.jpg", b"")}}, 400, "empty_file"),
    Upload("text as .jpg",     lambda d: {"files": {"file": ("n.jpg", b"just text\n" * 8)}}, 415,
           "unsupported_media_type"),
    Upload("PNG bomb",         lambda d: {"files": {"file": ("b.png", d(png_header(10_000, 10_000)))}}, 413,
           "image_too_large"),
    Upload("GIF bomb",         lambda d: {"files": {"file": ("b.gif", d(gif_bomb))}}, 413, "image_too_large"),
    Upload("truncated",        lambda d: {"files": {"file": ("t.jpg", d(cut(jpeg, 0.3)))}}, 422, "unreadable"),
    Upload("no face",          lambda d: {"files": {"file": ("1.png", d(lambda p: png(p, side=1)))}}, 422, "no_face"),
]  # fmt: skip


@pytest.mark.parametrize("case", UPLOADS, ids=[u.case for u in UPLOADS])
def test_hostile_upload(case: Upload, predictor: Any, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from dfdet.serve import ServeSettings, create_app

    def data(maker: Maker) -> bytes:
        path = tmp_path / "made"
        maker(path)
        return path.read_bytes()

    uploads = tmp_path / "uploads"
    app = create_app(predictor, ServeSettings(upload_dir=str(uploads), max_upload_bytes=1 << 20))
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as client:
        response = client.post("/v1/predict", **case.request(data))
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/json" and response.headers["x-content-type-options"]
    body = response.json()
    if case.status == 200:
        assert body["file"] == case.expected and 0.0 <= body["fake_probability"] <= 1.0
        assert body["partial"] == (case.case == "partial video")
    else:
        assert body["error"]["code"] == case.expected and body.get("fake_probability") is None, body
    assert not list(uploads.iterdir())  # nothing stored under the client's name, nothing left behind
