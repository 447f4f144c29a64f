"""The web page in a real headless Chromium (Playwright): several files at once, a card per file with the overall
verdict and reason, each model's answer, the content credentials, the frame chart, the heatmaps and the audio-visual
timeline; a bad file shows its error. Screenshots are kept as test artefacts (``$DFDET_TEST_ARTEFACTS`` when set, a
git-ignored folder such as ``artefacts/``; else the test's tmp folder)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]  # fmt: skip


def artefacts(tmp_path: Path) -> Path:
    """The folder screenshots go to."""
    folder = Path(os.environ.get("DFDET_TEST_ARTEFACTS") or tmp_path / "artefacts") / "page"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def chromium_page() -> Iterator[tuple[Any, list[str]]]:
    """A page of headless Chromium and the list its console errors and page errors go to."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            yield page, problems
        finally:
            browser.close()


def upload_all(page: Any, files: list[Path]) -> None:
    """Chooses ``files`` at once, presses Score and waits for every card."""
    page.set_input_files("#file", [str(f) for f in files])
    page.click("#submit")
    page.wait_for_selector(f"#status:text-is('{len(files)} file(s) scored')", timeout=120_000)  # every card done
    assert page.locator("#results .card.done").count() == len(files)


def card(page: Any, name: str) -> Any:
    return page.locator(f"#results .card[data-file='{name}']")


def test_page_scores_several_files_with_one_model(
    predictor: Any, face_jpeg: bytes, tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    from PIL import Image

    from dfdet.predict.credentials import ContentCredentials
    from dfdet.serve import ServeSettings, create_app
    from dfdet.testing.media import face_frames, write_video

    image = tmp_path / "face.jpg"
    image.write_bytes(face_jpeg)
    video = write_video(tmp_path / "clip.mp4", face_frames(8, size=(160, 128)), fps=10)
    bad = tmp_path / "holiday.jpg"
    bad.write_text("this is not a picture\n")
    grey = tmp_path / "grey.png"
    Image.new("RGB", (160, 120), (128, 128, 128)).save(grey)
    from dfdet.sync import SyncMeasure

    predictor.credentials = ContentCredentials()
    predictor.sync = SyncMeasure(detect_every_s=1.0)  # videos get the lip-sync measure (this one has no sound)
    app = create_app(predictor, ServeSettings(upload_dir=str(tmp_path / "uploads")))
    try:
        with live_server(app) as url, chromium_page() as (page, problems):
            page.goto(url)
            page.wait_for_selector("#model:has-text('checkpoint')")  # the page read /healthz
            page.wait_for_selector("#caveat:not([hidden])")  # trained on the synthetic data: a demonstration model
            assert "Demonstration model" in page.text_content("#caveat")
            upload_all(page, [image, video, grey, bad])
            page.screenshot(path=str(artefacts(tmp_path) / "one_model.png"), full_page=True)

            photo = card(page, "face.jpg")
            assert photo.locator(".verdict").text_content() in ("fake", "uncertain", "real")
            assert "fake probability" in photo.locator(".reason").text_content()
            assert "synthetic" in photo.locator(".result-caveat").text_content()
            assert photo.locator(".models tbody tr").count() == 1
            assert photo.locator(".models .probability").text_content().endswith("%")
            assert photo.locator(".credentials-summary").text_content() == "no C2PA manifest"
            decoded = photo.locator(".faces img").evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth)")
            assert decoded and all(w == 256 for w in decoded)  # crop and heatmap overlay, both decoded

            clip = card(page, "clip.mp4")
            assert clip.locator(".chart svg polyline").count() == 1 and clip.locator(".chart circle").count() >= 2
            assert clip.locator(".timeline-box").is_hidden()  # no audio-visual or voice model
            sync_row = clip.locator(".models tbody tr[data-model='lip sync']")
            assert "no_audio_track" in sync_row.text_content() and "no verdict" in sync_row.text_content()

            noface = card(page, "grey.png")
            assert noface.locator(".verdict").text_content() == "not applicable"
            assert "face" in noface.locator(".reason").text_content() and noface.locator(".error").is_hidden()

            refused = card(page, "holiday.jpg")
            assert "unsupported_media_type" in refused.locator(".error").text_content()
            assert refused.locator(".answer").is_hidden()
            expected = ("status of 415", "status of 422")  # the refused file and the face-less one
            assert [p for p in problems if not any(e in p for e in expected)] == []  # no CSP violation, no error
    finally:
        predictor.credentials = None
        predictor.sync = None


@pytest.fixture
def sync_scorer() -> Iterator[str]:
    """The audio-visual hook filled by a test function that marks the second half of the sound as one segment (the
    real sync measure, registered as ``lip_sync``, gives no segments)."""
    from dfdet.data.audio.io import extract_audio_track
    from dfdet.predict.suite import SYNC_SCORERS, register_sync_scorer

    @register_sync_scorer("page_sync")
    def score(path: Path) -> dict[str, Any]:
        seconds = len(extract_audio_track(path, 16000)) / 16000
        segment = {"start_s": round(seconds / 2, 3), "end_s": round(seconds, 3), "score": 0.9}
        return {"fake_probability": 0.9, "threshold": 0.5, "offset_frames": 3, "confidence": 0.8,
                "segments": [segment]}  # fmt: skip

    yield "page_sync"
    SYNC_SCORERS.pop("page_sync")


def test_page_shows_a_suite_with_credentials_and_timeline(
    predictor: Any, untrained_audio_ckpt: Path, image_onnx: Path, sync_scorer: str, face_jpeg: bytes,
    tmp_path: Path, live_server: Callable[..., Any],
) -> None:  # fmt: skip
    import soundfile as sf

    from dfdet.predict import Predictor, load_model
    from dfdet.predict.credentials import ContentCredentials
    from dfdet.predict.suite import ROLES, FunctionScorer, Member, Suite
    from dfdet.serve import ServeSettings, create_app
    from dfdet.testing.credentials import make_chain, sign
    from dfdet.testing.media import face_frames, write_video

    faces = predictor.faces
    suite = Suite(
        [
            Member("face", ROLES["face"], predictor),
            Member("image", ROLES["image"], Predictor(load_model(image_onnx), faces)),
            Member("voice", ROLES["voice"], Predictor(load_model(untrained_audio_ckpt), faces)),
            Member("sync", ROLES["av_sync"], FunctionScorer(sync_scorer), weight=0.5),
        ],
        credentials=ContentCredentials(),
    )
    photo = tmp_path / "signed.jpg"
    photo.write_bytes(sign(face_jpeg, "image/jpeg", make_chain()))  # a photo of a face that declares itself AI-made
    voice = (0.2 * np.sin(2 * np.pi * 140 * np.arange(24000) / 16000)).astype(np.float32)
    talk = write_video(tmp_path / "talk.mp4", face_frames(8, size=(160, 128)), fps=10, audio=voice)
    note = tmp_path / "note.wav"
    sf.write(note, voice, 16000)
    expected = suite.predict(photo).result
    expected_talk = suite.predict(talk).result

    app = create_app(suite, ServeSettings(upload_dir=str(tmp_path / "uploads")))
    with live_server(app) as url, chromium_page() as (page, problems):
        page.goto(url)
        page.wait_for_selector("#suite li")  # the suite's models from /healthz
        assert page.locator("#suite li").count() == 4 and 'rule "strongest"' in page.text_content("#model")
        upload_all(page, [photo, talk, note])
        page.screenshot(path=str(artefacts(tmp_path) / "suite.png"), full_page=True)

        signed = card(page, "signed.jpg")
        assert signed.locator(".verdict").text_content() == expected["verdict"].replace("_", " ")
        assert signed.locator(".reason").text_content() == expected["reason"]
        assert "face model:" in expected["reason"] and "image model:" in expected["reason"]
        rows = {r.get_attribute("data-model"): r for r in signed.locator(".models tbody tr").all()}
        assert list(rows) == ["face", "image", "voice", "sync"]
        for name in ("face", "image"):  # a photo with a face: both scores (issue 14 item 7)
            p = expected["models"][name]["fake_probability"]
            assert rows[name].locator(".probability").text_content() == f"{100 * p:.1f} %"
        assert "not sent" in rows["voice"].text_content() and "skipped" in rows["sync"].get_attribute("class")
        creds = signed.locator(".credentials")
        assert "C2PA manifest Valid" in creds.locator(".credentials-summary").text_content()
        assert "trainedAlgorithmicMedia" in creds.locator(".action").text_content()
        assert creds.get_attribute("data-state") == "Valid"

        video = card(page, "talk.mp4")
        series = video.locator(".chart polyline").evaluate_all("ps => ps.map(p => p.dataset.series)")
        assert series == ["face model", "image model"]  # both models' frame scores on one chart
        assert video.locator(".windows-chart polyline").count() == 1  # the voice model's windows
        assert video.locator(".timeline [data-track='av_sync'] .segment").count() == 1  # the AV segment
        regions = expected_talk["models"]["voice"]["fake_regions"]  # the voice model's, when it marks any
        assert video.locator(".timeline [data-track='voice'] .segment").count() == len(regions)
        assert "sync" in video.locator(".models tbody").text_content()

        voice_note = card(page, "note.wav")
        routed = voice_note.locator(".models tbody tr:not(.skipped)").evaluate_all("r => r.map(x => x.dataset.model)")
        assert routed == ["voice"]
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
        upload_all(page, [tmp_path / "call.wav"])
        call = card(page, "call.wav")
        probability = call.locator(".models .probability").text_content()
        assert probability == f"{100 * expected['fake_probability']:.1f} %"
        assert call.locator(".windows-chart circle").count() == len(scored)  # windows with speech
        assert problems == []


def test_page_sends_the_api_key_typed_in_it(
    predictor: Any, face_jpeg: bytes, tmp_path: Path, live_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dfdet.serve import ServeSettings, create_app
    from dfdet.serve.keys import AuthSettings, mint

    key, entry = mint("page")
    monkeypatch.setenv("DFDET_TEST_PAGE_KEYS", entry)
    image = tmp_path / "face.jpg"
    image.write_bytes(face_jpeg)
    settings = ServeSettings(upload_dir=str(tmp_path / "uploads"))
    app = create_app(predictor, settings, auth=AuthSettings(keys_env="DFDET_TEST_PAGE_KEYS"))
    with live_server(app) as url, chromium_page() as (page, problems):
        page.goto(url)
        upload_all(page, [image])  # no key typed: refused, and the card says what to do
        assert "missing_api_key" in card(page, "face.jpg").locator(".error").text_content()
        assert "enter an API key above" in card(page, "face.jpg").locator(".error").text_content()
        page.fill("#api-key", key)
        upload_all(page, [image])
        assert card(page, "face.jpg").locator(".verdict").text_content() in ("fake", "uncertain", "real")
        assert key not in page.url
        assert [p for p in problems if "status of 401" not in p] == []
