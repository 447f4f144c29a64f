"""Detector suites: several models, each with a role, score one file; one overall verdict by a documented rule.

``python predict.py suite=face_image_voice ...`` (``conf/suite/*.yaml``) or ``model= image_model= audio_model=``
(a suite of those parts) build a :class:`Suite`. Each file is sniffed once and routed to every model whose
:class:`Role` applies to it: a photo to the face and whole-image models, a video with sound to the face, whole-image,
voice and audio-visual models, a voice note to the voice model. Each model answers with its own calibrated score and
verdict (a face model on a face-less photo: ``not_applicable``); :mod:`dfdet.predict.overall` turns them into one
verdict with its reason in words; the file's content credentials (:mod:`dfdet.predict.credentials`) are reported
beside, never mixed in.

Roles are a registry (:func:`register_role`): a new kind of detector is one :class:`Role` line. The audio-visual
``av_sync`` role scores a model file of modality ``audio_visual`` or, without one, a sync scorer function registered
under a name with :func:`register_sync_scorer` (the hook for the training-free lip-sync measure of issue 15).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dfdet.metrics.calibration import verdict
from dfdet.predict.credentials import ContentCredentials
from dfdet.predict.errors import MediaError, PredictError
from dfdet.predict.media import SUPPORTED, MediaType, check_pixels, gif_type, sniff_file
from dfdet.predict.models import ModelInfo
from dfdet.predict.overall import RULES, Evidence
from dfdet.predict.predictor import Prediction
from dfdet.provenance import DEMONSTRATION_CAVEAT

log = logging.getLogger("dfdet.predict")
KINDS = ("image", "video", "audio")
# Fields of a member's own result that the suite's answer repeats once for the file, not per model.
FILE_FIELDS = ("file", "kind", "media_type", "demonstration_model", "caveat", "content_credentials")


@dataclass(frozen=True)
class Role:
    """What a kind of detector scores.

    Attributes:
        name: the role's name in suite configs (``face``, ``image``, ``voice``, ``av_sync``).
        modalities: the model modalities (input contracts) that can fill it.
        media: the kinds of file it applies to by default (``image``, ``video``, ``audio``).
        needs_sound: videos only with a sound track (audio files always have one).
        label: its name in reasons (``face model``).
        unit: what its scores are per (``frames``, ``windows``).
    """

    name: str
    modalities: tuple[str, ...]
    media: tuple[str, ...]
    label: str
    needs_sound: bool = False
    unit: str = "frames"


ROLES: dict[str, Role] = {}


def register_role(role: Role) -> Role:
    """Adds ``role`` to :data:`ROLES` (a new kind of detector for suites)."""
    ROLES[role.name] = role
    return role


register_role(Role("face", ("face",), ("image", "video"), "face model"))
register_role(Role("image", ("image",), ("image", "video"), "image model"))
register_role(Role("voice", ("audio",), ("audio", "video"), "voice model", needs_sound=True, unit="windows"))
register_role(Role("av_sync", ("audio_visual",), ("video",), "audio-visual model", needs_sound=True, unit="windows"))

SyncScorer = Callable[[Path], dict[str, Any]]
# Sync scorers by name: ``fn(path) -> {"fake_probability", "threshold", "offset_frames", "confidence",
# "windows": [{start_s, end_s, score}], "segments": [{start_s, end_s, score}]}`` (fake_probability may be None).
SYNC_SCORERS: dict[str, SyncScorer] = {}


def register_sync_scorer(name: str) -> Callable[[SyncScorer], SyncScorer]:
    """Decorator: ``fn`` answers the ``av_sync`` role of suites whose entry says ``scorer: <name>``."""

    def add(fn: SyncScorer) -> SyncScorer:
        SYNC_SCORERS[name] = fn
        return fn

    return add


_SYNC_MEASURE: list[Any] = []  # the lip-sync measure, built on first use (a face detector and dlib's model)


@register_sync_scorer("lip_sync")
def lip_sync(path: Path) -> dict[str, Any]:
    """The training-free lip-sync measure (:class:`dfdet.sync.SyncMeasure`) as a suite member: offset, confidence,
    sync score and windows as evidence, with no fake probability (so no verdict and no vote): a training-free measure
    has no calibrated probability, and its offset and confidence are shown for the analyst to weigh."""
    from dfdet.errors import ManifestError
    from dfdet.preprocess.video import DecodeError
    from dfdet.sync import SyncMeasure

    if not _SYNC_MEASURE:
        _SYNC_MEASURE.append(SyncMeasure())
    try:
        report = _SYNC_MEASURE[0].result(path)
    except (ManifestError, DecodeError) as exc:  # a file the measure cannot decode: reported, not an internal error
        raise MediaError("unreadable", f"cannot decode the video for the lip-sync measure: {exc}") from exc
    error = report.get("error")
    if error is not None:
        code = "no_face" if error["code"] == "not_measurable" else error["code"]
        raise MediaError(code, error["message"])
    lead = "after" if report["offset_frames"] >= 0 else "before"
    reason = (
        f"sound {abs(report['offset_frames'])} frame(s) {lead} the lips (confidence {report['confidence']:.2f}, "
        f"sync score {report['sync_score']:.2f}); a training-free measure without a calibrated probability: no verdict"
    )
    windows = [{"start_s": w["start"], "end_s": w["end"], "score": None, **w} for w in report.get("windows", [])]
    return {**report, "fake_probability": None, "reason": reason, "windows": windows, "segments": []}


class Scorer(Protocol):
    """What a suite member scores with: a :class:`~dfdet.predict.Predictor`, or a :class:`FunctionScorer`."""

    info: ModelInfo

    def predict(self, path: str | os.PathLike, name: str | None = None, explain: bool = False) -> Prediction: ...


class FunctionScorer:
    """A registered sync scorer function in the place of a model file (the ``av_sync`` hook)."""

    def __init__(self, name: str, threshold: float = 0.5) -> None:
        if name not in SYNC_SCORERS:
            known = ", ".join(sorted(SYNC_SCORERS)) or "none registered yet (the sync measure of issue 15)"
            raise PredictError(f"no audio-visual sync scorer named {name!r} (registered: {known}); give the member a "
                               "model file of modality audio_visual instead (path=...)")  # fmt: skip
        self.fn = SYNC_SCORERS[name]
        self.info = ModelInfo(
            name,
            "function",
            "function",
            "audio_visual",
            name,
            0,
            (0.0,),
            (1.0,),
            threshold,
            "config",
            trained_on="none",
        )

    def predict(self, path: str | os.PathLike, name: str | None = None, explain: bool = False) -> Prediction:
        try:
            body = dict(self.fn(Path(path)))
        except MediaError as exc:
            na = exc.code in ("no_face", "no_audio_track", "wrong_modality")
            return Prediction({"fake_probability": None, "error": exc.as_dict(), "reason": exc.message,
                               "verdict": "not_applicable" if na else None})  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - a bug of one scorer on one odd file must not stop the others
            log.exception("Sync scorer %s failed on %s", self.info.name, path)
            error = {"code": "internal_error", "message": f"internal error ({type(exc).__name__}); see the log"}
            return Prediction({"fake_probability": None, "error": error, "reason": error["message"], "verdict": None})
        p, t = body.get("fake_probability"), float(body.get("threshold", self.info.threshold))
        body.update(threshold=t, verdict=None if p is None else verdict(float(p), t))
        if p is not None:
            body.setdefault("reason", f"fake probability {p:.3f} against {t:.3f}")
        return Prediction(body)


@dataclass
class Member:
    """One model of a suite: its ``name``, :class:`Role`, what scores, its ``weight`` and the kinds it is sent."""

    name: str
    role: Role
    scorer: Scorer
    weight: float = 1.0
    media: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        self.media = tuple(self.media) or self.role.media
        modality = self.scorer.info.modality
        if modality not in self.role.modalities:
            needs = " or ".join(self.role.modalities)
            raise PredictError(
                f"suite model {self.name!r} (role {self.role.name}) needs a model of modality {needs}; "
                f"{self.scorer.info.name} is a {modality} model"
            )
        if unknown := sorted(set(self.media) - set(KINDS)):
            raise PredictError(f"suite model {self.name!r}: media {unknown} are not among {', '.join(KINDS)}")
        if self.weight < 0:
            raise PredictError(f"suite model {self.name!r}: weight {self.weight} must be >= 0")

    def skip_reason(self, media: MediaType, has_sound: bool) -> str | None:
        """Why this model does not apply to a file of this kind, or None when it does."""
        if media.kind not in self.media:
            return f"it scores {' and '.join(self.media)} files, not {media.kind} files"
        if self.role.needs_sound and media.kind == "video" and not has_sound:
            return "no speech found: the video has no sound track"
        return None


def has_sound_track(path: Path) -> bool:
    """Whether a video holds an audio stream (from the container headers, nothing decoded)."""
    import av

    try:
        with av.open(os.fspath(path)) as container:
            return bool(container.streams.audio)
    except Exception:  # noqa: BLE001 - an unreadable container has no usable sound; the models say why
        return False


def model_summary(role: Role, result: dict[str, Any]) -> str:
    """One model's answer in words: ``face model: fake 0.93 on 28 of 32 frames``."""
    head = role.label
    call, p = result.get("verdict"), result.get("fake_probability")
    if call == "not_applicable":
        return f"{head}: not applicable ({result.get('reason')})"
    if p is None or call is None:
        error = result.get("error") or {}
        return f"{head}: not scored ({error.get('code', 'error')}: {error.get('message', result.get('reason'))})"
    items = result.get("frames") or result.get("windows") or []
    scored = [float(i["score"]) for i in items if i.get("score") is not None]  # audio windows without speech: None
    text = f"{head}: {call} {p:.2f}"
    if len(scored) > 1:
        over = sum(score >= float(result["threshold"]) for score in scored)
        text += f" on {over} of {len(scored)} {role.unit}"
        if len(scored) < len(items):
            text += f" ({len(items) - len(scored)} without speech)"
    return text


class Suite:
    """Several models score each file; one overall verdict by ``rule`` (see :mod:`dfdet.predict.overall`).

    Args:
        members: the models, in the order they are reported.
        rule: ``strongest``, ``weighted_vote`` or ``weighted_mean``.
        credentials: reads the file's C2PA manifest and metadata once (beside the scores); None: not read.
        max_pixels: images and video frames with more pixels are refused before any model runs.
    """

    def __init__(
        self,
        members: list[Member],
        rule: str = "strongest",
        credentials: ContentCredentials | None = None,
        max_pixels: int = 40_000_000,
    ) -> None:
        if not members:
            raise PredictError("a suite needs at least one model")
        if rule not in RULES:
            raise PredictError(f"suite rule {rule!r} is not one of {', '.join(RULES)}")
        names = [m.name for m in members]
        if len(set(names)) != len(names):
            raise PredictError(f"suite model names must differ: {names}")
        self.members = members
        self.rule = rule
        self.credentials = credentials
        self.max_pixels = max_pixels

    @property
    def info(self) -> ModelInfo:
        """The first model's description (what single-model callers read: name, format, threshold)."""
        return self.members[0].scorer.info

    def describe(self) -> dict[str, Any]:
        """``rule`` and each model's role, weight, media and public description (for ``/healthz``)."""
        return {
            "rule": self.rule,
            "models": {
                m.name: {"role": m.role.name, "weight": m.weight, "media": list(m.media), **m.scorer.info.public()}
                for m in self.members
            },
        }

    def predict(self, path: str | os.PathLike, name: str | None = None, explain: bool = False) -> Prediction:
        """Scores one file with every model that applies.

        Returns:
            ``file``, ``kind``, ``media_type``, ``has_sound``; ``models``: per model its ``role``, ``routed`` (false:
            not sent, with the reason), ``weight`` and its own result (calibrated ``fake_probability``,
            ``verdict``, ``reason``, frames or windows ...); ``verdict`` and ``reason`` (the overall ones, also in
            ``overall`` with the ``rule`` and ``decided_by``); ``content_credentials``; ``demonstration_model``;
            ``seconds``. ``error`` only when no model could read the file at all.
        """
        start = time.perf_counter()
        path = Path(path)
        result: dict[str, Any] = {"file": name if name is not None else path.name}
        try:
            media = sniff_file(path)
            if media is None:
                raise MediaError("unsupported_type", f"not a supported image, video or audio file ({SUPPORTED})")
            if media.name == "gif":
                media = gif_type(path)
            check_pixels(path, media, self.max_pixels)
        except MediaError as exc:
            result.update(verdict=None, reason=exc.message, error=exc.as_dict(), models={})
            return self._finish(result, start)
        except OSError as exc:
            message = f"cannot read the file ({type(exc).__name__}: {exc.strerror or 'error'})"
            result.update(verdict=None, reason=message, error={"code": "unreadable", "message": message}, models={})
            return self._finish(result, start)
        sound = media.kind == "audio" or (media.kind == "video" and has_sound_track(path))
        result.update(kind=media.kind, media_type=media.mime, has_sound=sound)
        models: dict[str, dict[str, Any]] = {}
        evidence: list[Evidence] = []
        faces: list[Any] = []
        explained_in: str | None = None
        for m in self.members:
            why = m.skip_reason(media, sound)
            if why is not None:
                answer: dict[str, Any] = {"fake_probability": None, "verdict": "not_applicable", "reason": why}
            else:
                prediction = m.scorer.predict(path, name=result["file"], explain=explain)
                answer = {k: v for k, v in prediction.result.items() if k not in FILE_FIELDS}
                if prediction.faces and not faces:
                    faces, explained_in = prediction.faces, m.name
            answer.update(role=m.role.name, routed=why is None, weight=m.weight)
            answer.setdefault(
                "model", {k: m.scorer.info.public()[k] for k in ("name", "version", "format", "modality")}
            )
            models[m.name] = answer
            evidence.append(Evidence(m.name, answer.get("verdict"), model_summary(m.role, answer),
                                     answer.get("fake_probability"), answer.get("threshold"), m.weight))  # fmt: skip
        overall = RULES[self.rule](evidence).as_dict()
        result.update(verdict=overall["verdict"], reason=overall["reason"], overall=overall, models=models)
        routed = [a for a in models.values() if a["routed"]]
        if overall["verdict"] is None and routed and all("error" in a for a in routed):
            result["error"] = routed[0]["error"]  # no model could read the file: the first one's error
        if self.credentials is not None and self.credentials.enabled:
            result["content_credentials"] = self.credentials.read(path, media.mime)
        return self._finish(result, start, faces, explained_in)

    def _finish(
        self, result: dict[str, Any], start: float, faces: list | None = None, explained_in: str | None = None
    ) -> Prediction:
        demo = any(m.scorer.info.trained_on == "synthetic" for m in self.members)
        result.update(demonstration_model=demo, **({"caveat": DEMONSTRATION_CAVEAT} if demo else {}))
        result["seconds"] = round(time.perf_counter() - start, 4)
        return Prediction(result, faces or [], explained_in)


def role_of(modality: str) -> Role:
    """The first registered role that a model of ``modality`` fills."""
    for role in ROLES.values():
        if modality in role.modalities:
            return role
    raise PredictError(f"no suite role takes {modality} models (roles: {', '.join(ROLES)})")


def build_members(
    entries: Mapping[str, Mapping[str, Any]], make: Callable[[str, Mapping[str, Any]], Scorer]
) -> list[Member]:
    """Suite members from config entries ``name: {role, path | scorer, weight, media, threshold}``.

    Args:
        entries: the ``models`` of a suite config, in order. Without ``role``, a model's role follows from its
            modality (:func:`role_of`).
        make: builds the scorer of an entry with a model ``path`` (a predictor sharing one face pipeline).
    """
    members = []
    for name, entry in entries.items():
        role_name = entry.get("role")
        if role_name is not None and role_name not in ROLES:
            raise PredictError(f"suite model {name!r}: role {role_name!r} is not one of {', '.join(ROLES)}")
        if entry.get("path"):
            scorer: Scorer = make(name, entry)
        elif entry.get("scorer"):
            scorer = FunctionScorer(str(entry["scorer"]), float(entry.get("threshold") or 0.5))
        else:
            raise PredictError(f"suite model {name!r} has no path (set suite.models.{name}.path=<model.onnx|.ckpt>)")
        role = ROLES[role_name] if role_name is not None else role_of(scorer.info.modality)
        members.append(Member(name, role, scorer, float(entry.get("weight", 1.0)), tuple(entry.get("media") or ())))
    return members
