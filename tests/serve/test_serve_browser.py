"""The web page in a real headless Chromium (Playwright): upload an image and a video, see the results; a bad file
shows an error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]  # fmt: skip


@pytest.fixture
def server_url(predictor: Any, tmp_path: Path, live_server: Callable[..., Any]) -> Iterator[str]:
    from dfdet.serve import ServeSettings, create_app

    with live_server(create_app(predictor, ServeSettings(upload_dir=str(tmp_path / "uploads")))) as url:
        yield url


@contextmanager
def chromium_page() -> Iterator[tuple[Any, list[str]]]:
    """A page of headless Chromium and the list its console errors and page errors go to."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            yield page, problems
        finally:
            browser.close()


def test_page_shows_results_and_errors(server_url: str, face_jpeg: bytes, tmp_path: Path) -> None:
    from PIL import Image

    from dfdet.testing.media import face_frames, write_video

    image = tmp_path / "face.jpg"
    image.write_bytes(face_jpeg)
    video = write_video(tmp_path / "clip.mp4", face_frames(8, size=(160, 128)), fps=10)
    bad = tmp_path / "holiday.jpg"
    bad.write_text("this is not a picture\n")
    grey = tmp_path / "grey.png"
    Image.new("RGB", (160, 120), (128, 128, 128)).save(grey)

    with chromium_page() as (page, problems):
        page.goto(server_url)
        page.wait_for_selector("#model:has-text('checkpoint')")  # the page read /healthz
        page.wait_for_selector("#caveat:not([hidden])")  # trained on the synthetic data: a demonstration model
        assert "Demonstration model" in page.text_content("#caveat")

        page.set_input_files("#file", str(image))
        page.click("#submit")
        page.wait_for_selector("#result:not([hidden])", timeout=60_000)
        assert page.text_content("#filename") == "face.jpg"
        assert page.text_content("#probability").endswith("%")
        assert page.text_content("#label") in ("fake", "real")
        assert page.text_content("#verdict") in ("fake", "uncertain", "real")
        assert "fake probability" in page.text_content("#reason")
        assert page.is_visible("#result-caveat") and "synthetic" in page.text_content("#result-caveat")
        page.wait_for_selector("#faces img")
        decoded = page.eval_on_selector_all("#faces img", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
        assert decoded and all(w == 256 for w in decoded)  # crop and heatmap overlay, both decoded

        page.set_input_files("#file", str(video))
        page.click("#submit")
        page.wait_for_selector("#filename:text-is('clip.mp4')", timeout=60_000)
        assert page.is_visible("#chart svg polyline")
        assert page.eval_on_selector_all("#chart circle", "c => c.length") >= 2

        page.set_input_files("#file", str(grey))
        page.click("#submit")
        page.wait_for_selector("#filename:text-is('grey.png')", timeout=60_000)
        assert page.text_content("#verdict") == "not applicable"
        assert "face" in page.text_content("#reason") and page.is_hidden("#error")

        page.set_input_files("#file", str(bad))
        page.click("#submit")
        page.wait_for_selector("#error:not([hidden])", timeout=60_000)
        assert "unsupported_media_type" in page.text_content("#error")
        assert page.is_hidden("#result")
        expected = ("status of 415", "status of 422")  # the refused file and the face-less one
        assert [p for p in problems if not any(e in p for e in expected)] == []  # no CSP violation, no script error


def test_page_shows_the_fused_score_of_face_and_sound(
    predictor: Any, untrained_audio_ckpt: Path, tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    import numpy as np

    from dfdet.predict import Predictor, load_model
    from dfdet.serve import ServeSettings, create_app
    from dfdet.testing.media import face_frames, write_video

    sound = Predictor(load_model(untrained_audio_ckpt), predictor.faces)
    fused = Predictor(predictor.model, predictor.faces, sound=sound, audio_weight=0.4)
    voice = (0.2 * np.sin(2 * np.pi * 140 * np.arange(16000) / 16000)).astype(np.float32)
    video = write_video(tmp_path / "talk.mp4", face_frames(8, size=(160, 128)), fps=10, audio=voice)
    expected = fused.predict(video).result["fused"]
    app = create_app(fused, ServeSettings(upload_dir=str(tmp_path / "uploads")))
    with live_server(app) as url, chromium_page() as (page, problems):
        page.goto(url)
        page.wait_for_selector("#model:has-text('on sound tracks, fused with audio weight 0.4')")  # from /healthz
        page.set_input_files("#file", str(video))
        page.click("#submit")
        page.wait_for_selector("#result:not([hidden])", timeout=60_000)
        assert page.text_content("#probability") == f"{100 * expected['fake_probability']:.1f} %"
        assert page.text_content("#label") == expected["label"]
        how = page.text_content("#threshold")
        assert f"threshold {expected['threshold']:.3f}" in how and "sound " in how and "audio weight 0.4" in how
        assert problems == []


def test_page_charts_the_audio_windows_with_speech(
    predictor: Any, untrained_audio_ckpt: Path, tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    import numpy as np
    import soundfile as sf

    from dfdet.predict import Predictor, load_model
    from dfdet.serve import ServeSettings, create_app

    t = np.arange(24000) / 16000
    voice = (0.2 * np.sin(2 * np.pi * 140 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    wave = np.concatenate([voice, np.zeros(24000, np.float32), voice])  # 1.5 s speech, 1.5 s silence, 1.5 s speech
    sf.write(tmp_path / "call.wav", wave, 16000)
    audio = Predictor(load_model(untrained_audio_ckpt), predictor.faces)
    expected = audio.predict(tmp_path / "call.wav").result
    scored = [w for w in expected["windows"] if w["score"] is not None]
    assert 2 <= len(scored) < len(expected["windows"])  # the silent windows are listed without a score
    app = create_app(audio, ServeSettings(upload_dir=str(tmp_path / "uploads")))
    with live_server(app) as url, chromium_page() as (page, problems):
        page.goto(url)
        page.set_input_files("#file", str(tmp_path / "call.wav"))
        page.click("#submit")
        page.wait_for_selector("#result:not([hidden])", timeout=60_000)
        assert page.text_content("#probability") == f"{100 * expected['fake_probability']:.1f} %"
        assert page.eval_on_selector_all("#chart circle", "c => c.length") == len(scored)  # windows with speech
        assert problems == []
