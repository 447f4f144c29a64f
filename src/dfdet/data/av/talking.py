"""Talking clips whose mouth moves with the voice, and the audio-visual fakes built from them.

A person is a face of :mod:`dfdet.data.synthetic.render` with a voice of :mod:`dfdet.data.audio.synthetic.speech`.
The rendered mouth opening follows the speech-band energy envelope of the clean utterance
(:func:`dfdet.data.audio.dsp.speech_envelope`), led by 1-2 frames as lips lead the sound in real speech; the sound
track then goes through the recording channel of the audio set. Every clip is rendered from a longer utterance, so a
shifted sound track has real speech at both ends.

Fakes (:data:`METHODS`), each paired with the real clip of the same person, motion and background:

- ``lipsync``: the mouth is re-driven by another utterance of the same speaker and blended in around the mouth
  (:func:`~dfdet.data.synthetic.manipulate.reenact`); the sound is the real one, so lips and voice disagree;
- ``offset``: the real sound track shifted by 4-10 frames either way (``av_offset``, frames the sound lags);
- ``face``, ``voice``, ``both``: a face swap (:func:`~dfdet.data.synthetic.manipulate.faceswap`, the donor talking
  with the same mouth motion), a vocoded voice (:func:`~dfdet.data.audio.synthetic.attacks.gl_vocoder` of the same
  utterance, so still in sync), or both;
- ``partial_face``, ``partial_voice``, ``partial_both``: one segment of 0.3-2 s is replaced: the mouth re-driven by
  another utterance, the words replaced by another vocoded utterance, or both (the new mouth then follows the new
  words, as in AV-Deepfake1M).

Labels use AV-Deepfake1M's names: ``fake_segments`` (union), ``visual_fake_segments``, ``audio_fake_segments``, each
a list of ``[start, end]`` in seconds. Randomness comes only from the ``np.random.Generator`` arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dfdet.data.audio.dsp import speech_envelope
from dfdet.data.audio.synthetic.attacks import channel, gl_vocoder
from dfdet.data.audio.synthetic.speech import SAMPLE_RATE, Speaker, Style, plan_utterance, render, sample_speaker
from dfdet.data.synthetic.generate import trajectory
from dfdet.data.synthetic.manipulate import faceswap, reenact
from dfdet.data.synthetic.render import Identity, render_background, render_face, sample_identity

METHODS = ("lipsync", "offset", "face", "voice", "both", "partial_face", "partial_voice", "partial_both")
VISUAL = {"lipsync", "face", "both", "partial_face", "partial_both"}  # methods that alter the frames
AUDIO = {"voice", "both", "partial_voice", "partial_both"}  # methods that alter the sound


@dataclass(frozen=True)
class ClipSpec:
    """Geometry and timing of the clips."""

    size: int = 96  # square frame side in pixels
    fps: int = 25
    seconds: float = 3.0
    lead: tuple[float, float] = (1.0, 2.0)  # frames by which the lips lead the sound (drawn per person)
    offset: tuple[int, int] = (4, 10)  # |shift| in frames of the offset fakes
    segment: tuple[float, float] = (0.3, 2.0)  # length in seconds of the replaced segment of partial fakes


@dataclass(frozen=True)
class Person:
    """Who talks: a face, a voice, a background and how far the lips lead the sound."""

    identity: Identity
    speaker: Speaker
    background: np.ndarray = field(repr=False)
    lead: float


@dataclass
class TalkingClip:
    """One clip: frames (T, S, S, 3) uint8, mono float32 sound at :data:`SAMPLE_RATE`, and its labels."""

    frames: np.ndarray
    audio: np.ndarray
    fps: int
    method: str = "real"
    fake_segments: list[list[float]] = field(default_factory=list)
    visual_fake_segments: list[list[float]] = field(default_factory=list)
    audio_fake_segments: list[list[float]] = field(default_factory=list)
    av_offset: int = 0  # frames by which the sound lags the pictures (negative: it leads)
    lead: float = 0.0  # frames by which the lips lead the sound in the unaltered parts
    mouth: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (T,) rendered mouth opening in [0, 1]

    @property
    def label(self) -> int:
        return int(self.method != "real")

    def labels(self) -> dict:
        """The labels as plain values (for a manifest row or a metadata file)."""
        keys = ("method", "label", "fake_segments", "visual_fake_segments", "audio_fake_segments", "av_offset", "lead")
        return {k: getattr(self, k) for k in keys}


def sample_person(rng: np.random.Generator, spec: ClipSpec) -> Person:
    """Draws a face, a voice, a background and the lips' lead."""
    return Person(sample_identity(rng), sample_speaker(rng), render_background(spec.size, rng), rng.uniform(*spec.lead))


def mouth_track(clean: np.ndarray, fps: int, first: int, count: int, lead: float) -> np.ndarray:
    """Mouth opening in [0, 1] of frames ``first .. first + count - 1`` of a clean utterance.

    The speech-band log energy is mapped linearly from its 10th to 97th percentile onto [0, 1], smoothed over three
    frames (the lips' inertia) and read ``lead`` frames ahead (the lips open before the sound comes).
    """
    env = speech_envelope(clean, SAMPLE_RATE, fps)
    lo, hi = np.percentile(env, [10, 97])
    opening = np.clip((env - lo) / max(hi - lo, 1e-6), 0, 1)
    opening = np.convolve(np.pad(opening, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    at = np.arange(first, first + count) + lead
    return np.interp(at, np.arange(len(opening)), opening)


class Take:
    """An utterance of ``speaker`` rendered with margins around a clip, the clip's mouth track and what it cuts.

    Attributes:
        clean: the whole clean utterance (before the recording channel), :data:`SAMPLE_RATE`.
        mouth: (count,) mouth opening of the clip's frames, the lips leading the sound by ``lead`` frames.
        margin, count, hop: frames of speech before the clip, frames of the clip, samples per frame.
    """

    def __init__(self, speaker: Speaker, lead: float, spec: ClipSpec, rng: np.random.Generator) -> None:
        self.margin = spec.offset[1] + 5  # frames of speech before and after the clip
        self.count = round(spec.seconds * spec.fps)
        self.hop = SAMPLE_RATE // spec.fps
        self.clean = render(plan_utterance(speaker, (self.count + 2 * self.margin) / spec.fps + 0.1, rng),
                            speaker, Style(), rng)  # fmt: skip
        self.mouth = mouth_track(self.clean, spec.fps, self.margin, self.count, lead)
        self.lead = lead

    def cut(self, wave: np.ndarray, shift: int = 0) -> np.ndarray:
        """The clip's samples of ``wave``, delayed by ``shift`` frames."""
        start = (self.margin - shift) * self.hop
        return np.asarray(wave[start : start + self.count * self.hop], np.float32)


def _segment(spec: ClipSpec, rng: np.random.Generator) -> tuple[int, int]:
    """First and end frame of a replaced segment: 0.3-2 s (at most 60 % of the clip), away from the clip's ends."""
    count = round(spec.seconds * spec.fps)
    length = round(rng.uniform(spec.segment[0], min(spec.segment[1], 0.6 * spec.seconds)) * spec.fps)
    first = int(rng.integers(2, max(3, count - length - 2)))
    return first, min(first + length, count)


def _splice(base: np.ndarray, insert: np.ndarray, lo: int, hi: int, fade: int = 80) -> np.ndarray:
    """``base`` with samples ``lo:hi`` taken from ``insert`` (5 ms raised-cosine cross-fades at both joins)."""
    weight = np.zeros(len(base))
    weight[lo:hi] = 1.0
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
    weight[lo : lo + fade] = ramp[: len(weight[lo : lo + fade])]
    weight[max(hi - fade, 0) : hi] = ramp[::-1][-len(weight[max(hi - fade, 0) : hi]) :]
    return base * (1 - weight) + insert[: len(base)] * weight


def _render(person: Person, motion: list, mouth: np.ndarray) -> list[np.ndarray]:
    return [render_face(person.identity, replace(fp, mouth_open=float(m)), person.background)
            for fp, m in zip(motion, mouth, strict=True)]  # fmt: skip


def _to_uint8(frames: list[np.ndarray]) -> np.ndarray:
    return (np.clip(np.stack(frames), 0, 1) * 255 + 0.5).astype(np.uint8)


def talking_pair(
    person: Person, donor: Person, method: str, spec: ClipSpec, rng: np.random.Generator
) -> tuple[TalkingClip, TalkingClip]:
    """A real talking clip of ``person`` and its fake by ``method`` (``donor`` lends the face of face swaps).

    Returns:
        ``(real, fake)``, the same motion, background and (where the method keeps it) voice.
    """
    if method not in METHODS:
        raise ValueError(f"unknown talking-clip fake '{method}'; known: {', '.join(METHODS)}")
    take = Take(person.speaker, person.lead, spec, rng)
    motion = [replace(fp, blink=0.0) for fp in trajectory(rng, take.count, speed=2.5 / spec.fps)]  # 0.4-1.5 rad/s
    real_frames = _render(person, motion, take.mouth)
    seed = int(rng.integers(2**31))  # the channel of the real sound, replayed for the fake's
    real_audio = take.cut(channel(take.clean, np.random.default_rng(seed), 0.5))
    whole = [[0.0, round(take.count / spec.fps, 4)]]
    fake = TalkingClip(_to_uint8(real_frames), real_audio, spec.fps, method, lead=person.lead, mouth=take.mouth)

    def seconds(first: int, end: int) -> list[list[float]]:
        return [[round(first / spec.fps, 4), round(end / spec.fps, 4)]]

    if method == "offset":
        fake.av_offset = int(rng.choice([-1, 1]) * rng.integers(spec.offset[0], spec.offset[1] + 1))
        fake.audio = take.cut(channel(take.clean, np.random.default_rng(seed), 0.5), fake.av_offset)
        fake.fake_segments = whole
        return _real(real_frames, real_audio, take, person, spec), fake
    other = render(plan_utterance(person.speaker, len(take.clean) / SAMPLE_RATE, rng), person.speaker, Style(), rng)
    other = other[: len(take.clean)]
    first, end = (0, take.count) if method in ("lipsync", "face", "voice", "both") else _segment(spec, rng)
    lo, hi = (take.margin + first) * take.hop, (take.margin + end) * take.hop
    if method in AUDIO:  # the fake words go through the same channel (room, noise, level) as the real ones
        spoof = channel(gl_vocoder(other if method.startswith("partial") else take.clean, rng),
                        np.random.default_rng(seed), 0.5)  # fmt: skip
        if method.startswith("partial"):
            spoof = _splice(channel(take.clean, np.random.default_rng(seed), 0.5), spoof, lo, hi)
        fake.audio = take.cut(spoof)
        fake.audio_fake_segments = seconds(first, end)
    if method in VISUAL:
        frames = list(real_frames)
        if method in ("face", "both"):
            donor_frames = _render(donor, motion, take.mouth)
            for k in range(first, end):
                frames[k] = faceswap(real_frames[k], donor_frames[k], person.identity, motion[k], rng)[0]
        else:  # the mouth re-driven: by another utterance, or by the new words of a partial_both
            driver = _splice(take.clean, other, lo, hi) if method == "partial_both" else other
            mouth = mouth_track(driver, spec.fps, take.margin, take.count, person.lead)
            fake.mouth = np.where((np.arange(take.count) >= first) & (np.arange(take.count) < end), mouth, take.mouth)
            for k in range(first, end):
                source = render_face(person.identity, replace(motion[k], mouth_open=float(mouth[k])), person.background)
                frames[k] = reenact(real_frames[k], source, person.identity, motion[k], rng)[0]
        fake.frames = _to_uint8(frames)
        fake.visual_fake_segments = seconds(first, end)
    fake.fake_segments = seconds(first, end)
    return _real(real_frames, real_audio, take, person, spec), fake


def _real(frames: list[np.ndarray], audio: np.ndarray, take: Take, person: Person, spec: ClipSpec) -> TalkingClip:
    return TalkingClip(_to_uint8(frames), audio, spec.fps, lead=person.lead, mouth=take.mouth)
