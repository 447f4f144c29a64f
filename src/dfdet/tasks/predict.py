"""Prediction: score image, video and audio files with an exported model or a checkpoint; one JSON per file."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dfdet.explain.overlay import overlay, png_bytes
from dfdet.predict.errors import PredictError
from dfdet.predict.media import sniff_file
from dfdet.predict.predictor import Prediction, Predictor
from dfdet.predict.suite import Suite, build_members
from dfdet.tasks.common import build, log

MEDIA_EXTENSIONS = (
    *(".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif"),
    *(".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"),
    *(".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus"),
)


ALIASES = {"model=": "model_path=", "audio_model=": "audio_model_path=", "image_model=": "image_model_path="}
PATH_KEYS = ("model_path=", "audio_model_path=", "image_model_path=", "input=", "output_dir=")  # file or folder names


def model_alias(argv: list[str]) -> list[str]:
    """Command-line arguments with ``model=PATH`` rewritten to ``model_path=PATH`` (``audio_model=`` likewise), and
    path values that Hydra's override grammar rejects quoted for it.

    ``conf/model/`` is a config group (the training presets), so Hydra reads ``model=...`` as the choice of a preset;
    the deployment commands take the model file as ``model=PATH`` all the same. File names may hold characters the
    grammar reserves (parentheses, ``=``, commas, quotes, brackets, non-ASCII letters): see :func:`quote_path`.

    Example:
        >>> model_alias(["predict.py", "model=m.onnx", "input=clip (1).mp4"])
        ['predict.py', 'model_path=m.onnx', "input='clip (1).mp4'"]
    """
    out = []
    for arg in argv:
        alias = next((a for a in ALIASES if arg.startswith(a)), None)
        arg = ALIASES[alias] + arg[len(alias) :] if alias else arg
        key = next((k for k in PATH_KEYS if arg.startswith(k)), None)
        out.append(key + quote_path(arg[len(key) :]) if key else arg)
    return out


def quote_path(value: str) -> str:
    r"""``value`` as Hydra's override grammar reads it as that very string: unchanged when the grammar already reads it
    as a string (or ``null``), else single-quoted with its quotes (and the backslashes before them) escaped.

    Unchanged values keep Hydra's meaning: ``'...'`` quoted by the user, ``\,`` escapes and ``${...}``
    interpolations work as in any override. A comma would otherwise start a sweep (``a,b.mp4``), and parentheses,
    ``=``, brackets or accented letters fail to parse.

    Example:
        >>> quote_path("a=b,c.mp4"), quote_path("it's (2).mp4"), quote_path("plain/x.mp4")
        ("'a=b,c.mp4'", "'it\\'s (2).mp4'", 'plain/x.mp4')
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_override(f"key={value}")
        if not parsed.is_sweep_override() and (parsed.value() is None or isinstance(parsed.value(), str)):
            return value
    except HydraException:
        pass
    escaped = re.sub(r"(\\*)('|$)", lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""), value)
    return f"'{escaped}'"


def build_predictor(cfg: DictConfig) -> Predictor | Suite:
    """The predictor of ``cfg.predictor`` for one model; a :class:`~dfdet.predict.suite.Suite` for several.

    A suite comes from ``cfg.suite`` (``suite=<name>``: conf/suite/<name>.yaml) or, without one, from the parts given
    as ``model=`` plus ``image_model=`` and/or ``audio_model=`` (each model's role from its modality; the rule
    ``weighted_mean`` with the face model at ``1 - audio_weight`` and the voice model at ``audio_weight`` when a voice
    model is among them, which is the late fusion of face and voice, else ``strongest``). All models share one face
    pipeline; ``predictor.threshold``/``aggregation``/``top_k``/``uncertain_band`` are the first model's, the others
    keep their own unless their suite entry sets ``threshold``.
    """
    suite_cfg = cfg.get("suite")
    parts = [cfg.get(key) for key in ("image_model_path", "audio_model_path")]
    if not suite_cfg and not any(parts):
        return build(cfg.predictor)
    if suite_cfg:
        entries: dict[str, Any] = OmegaConf.to_container(suite_cfg.models, resolve=True)  # type: ignore[assignment]
        rule = str(suite_cfg.get("rule", "strongest"))
    else:
        w = float(cfg.audio_weight)
        voice = bool(cfg.get("audio_model_path"))
        entries = {"model": {"path": cfg.model_path, "weight": 1.0 - w if voice else 1.0}}
        if cfg.get("image_model_path"):
            entries["image_model"] = {"path": cfg.image_model_path, "weight": 1.0 - w if voice else 1.0}
        if voice:
            entries["audio_model"] = {"path": cfg.audio_model_path, "weight": w}
        rule = "weighted_mean" if voice else "strongest"
        if not 0.0 <= w <= 1.0:
            raise PredictError(f"audio_weight={w} must be in [0, 1] (0: the face score alone)")
    faces = build(cfg.predictor.faces)  # one face pipeline, shared
    first = next(iter(entries))

    def make(name: str, entry: Mapping[str, Any]) -> Predictor:
        model = {"_target_": "dfdet.predict.load_model", "path": entry["path"], "threads": cfg.threads}
        own = {"threshold": entry.get("threshold"), "aggregation": None, "top_k": None, "uncertain_band": None}
        keep = {} if name == first and entry.get("threshold") is None else own  # the first model: predictor.*
        # credentials and the sync measure belong to the suite's answer, not to each member's
        return build(cfg.predictor, model=model, faces=faces, credentials=None, sync=None, **keep)  # type: ignore[no-any-return]

    credentials = build(cfg.predictor.credentials) if cfg.predictor.get("credentials") else None
    members = build_members(entries, make)
    return Suite(members, rule, credentials, max_pixels=int(cfg.predictor.max_pixels))


def list_inputs(path: Path, recursive: bool = True) -> list[tuple[Path, str]]:
    """The files to score and the names they are reported under (relative to a folder input).

    A single file is always scored (an unsupported one gets an error result). In a folder, hidden files are skipped,
    and so are files that neither have a media extension nor start like a media file (sidecars, notes).

    Raises:
        PredictError: ``path`` does not exist, or a folder holds no media file.
    """
    if path.is_file():
        return [(path, path.name)]
    if not path.is_dir():
        raise PredictError(f"input={path} does not exist (pass an image, video or audio file, or a folder of them)")
    candidates = sorted(p for p in (path.rglob("*") if recursive else path.iterdir()) if p.is_file())
    chosen = []
    for p in candidates:
        rel = p.relative_to(path)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.suffix.lower() in MEDIA_EXTENSIONS or sniff_file(p) is not None:
            chosen.append((p, rel.as_posix()))
    if not chosen:
        raise PredictError(f"input={path} holds no image, video or audio file")
    return chosen


def write_explanations(prediction: Prediction, folder: Path, base: str) -> None:
    """Writes each explained face as ``<base>.explain/frame_<index>_{crop,overlay}.png``; records the paths."""
    target = folder / f"{base}.explain"
    target.mkdir(parents=True, exist_ok=True)
    for face, entry in zip(prediction.faces, prediction.explanation_entries(), strict=True):
        stem = f"frame_{face.frame_index:06d}"
        (target / f"{stem}_crop.png").write_bytes(png_bytes(face.crop))
        (target / f"{stem}_overlay.png").write_bytes(png_bytes(overlay(face.crop, face.heat)))
        entry["crop_png"] = str(target / f"{stem}_crop.png")
        entry["overlay_png"] = str(target / f"{stem}_overlay.png")


def predict(cfg: DictConfig) -> list[dict[str, Any]]:
    """Scores ``cfg.input`` (a file or a folder) with ``cfg.model`` (see conf/predict.yaml).

    Prints one JSON line per file and writes ``<output_dir>/<name>.json`` per file plus ``predictions.jsonl``.

    Returns:
        The per-file results (see :meth:`dfdet.predict.Predictor.predict`).

    Raises:
        PredictError: missing model or input, bad options, or not one file could be scored.
    """
    for key, flag in (("model_path", "model"), ("input", "input")):
        if OmegaConf.is_missing(cfg, key) or not cfg.get(key):
            raise PredictError(
                f"{flag}= is required: python predict.py model=<model.onnx|best.ckpt> input=<file|folder>"
            )
    files = list_inputs(Path(cfg.input), bool(cfg.get("recursive", True)))
    predictor = build_predictor(cfg)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = predictor.info
    log.info(
        "Scoring %d file(s) with %s (%s, %s, threshold %.3f, video score = %s)",
        len(files), info.name, info.format, info.backbone, info.threshold, info.aggregation,
    )  # fmt: skip
    results = []
    with open(out / "predictions.jsonl", "w") as summary:
        for path, name in files:
            prediction = predictor.predict(path, name=name, explain=bool(cfg.explain))
            if prediction.faces:
                write_explanations(prediction, out, name)
            result = prediction.result
            target = out / f"{name}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(result, indent=2) + "\n")
            summary.write(json.dumps(result) + "\n")
            print(json.dumps(result), flush=True)
            results.append(result)
    failed = [r for r in results if "error" in r]
    partial = sum(bool(r.get("partial")) for r in results)
    scored = len(results) - len(failed)
    log.info("Wrote %s (%d scored, %d of them partial; %d failed)", out, scored, partial, len(failed))
    if failed and len(failed) == len(results):
        first = failed[0]["error"]
        raise PredictError(f"none of the {len(results)} file(s) could be scored ({first['code']}: {first['message']})")
    sys.stdout.flush()
    return results
