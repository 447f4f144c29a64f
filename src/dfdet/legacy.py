"""Checkpoints written before the input contract and the one data path: their stored configs, upgraded.

The one place that knows the old layouts. Before the contract, a model's input lived in ``model.image_size`` /
``mean`` / ``std`` (samples for audio), clip lengths in ``data.clip_len`` and the audio rate in ``data.sample_rate``;
audio classes lived in ``dfdet.audio`` and audio data had its own datamodule. :func:`upgrade_config` rewrites such a
config into today's form, so old checkpoints load, evaluate, export and predict like new ones. Stdlib only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from dfdet.contract import DEFAULT_SAMPLE_RATE, IMAGENET_MEAN, IMAGENET_STD, InputContract

# Where the names that ``dfdet.audio`` exported live now (old configs name them as ``dfdet.audio.<Name>``).
MOVED = {
    **dict.fromkeys(("LCNN", "MaxFeatureMap", "SpectrogramClassifier", "build_spectrogram_classifier"), "models.audio"),
    **dict.fromkeys(("LFCC", "LogMel", "PowerSpectrogram", "RawWaveform"), "models.frontends"),
    **dict.fromkeys(("RawNet2", "SincConv"), "models.rawnet"),
    **dict.fromkeys(("ASVspoof2019LASource", "AudioFolderSource", "SyntheticAudioSource"), "data.audio.sources"),
    "AudioAugment": "transforms.audio",
}
OLD_AUDIO_DATAMODULE = "dfdet.audio.AudioDataModule"


def legacy_contract(config: Mapping[str, Any]) -> InputContract:
    """The input contract of a pre-contract training config (``model.image_size``/``mean``/``std``, with
    ``data.clip_len`` for clip models and ``data.sample_rate`` or an audio datamodule for audio models)."""
    model = config.get("model") or {}
    data = config.get("data") or {}
    size = int(model.get("image_size") or 224)
    if "sample_rate" in data or "audio" in str(data.get("_target_", "")).lower():
        return InputContract(modality="audio", num_samples=size, sample_rate=int(data.get("sample_rate") or 16000))
    clip = data.get("clip_len") if model.get("head") else None
    return InputContract(
        modality="face",
        size=size,
        mean=tuple(model.get("mean") or IMAGENET_MEAN),
        std=tuple(model.get("std") or IMAGENET_STD),
        clip_len=int(clip) if clip else None,
        clip_stride=int(data.get("clip_stride") or clip) if clip else None,
    )


def _is_target(node: Any, target: str) -> bool:
    return isinstance(node, Mapping) and node.get("_target_") == target


def _rename_targets(node: Any) -> Any:
    """``node`` with every ``dfdet.audio.<Name>`` target renamed to where ``Name`` lives now (:data:`MOVED`)."""
    if isinstance(node, Mapping):
        out = {k: _rename_targets(v) for k, v in node.items()}
        target = out.get("_target_")
        if isinstance(target, str) and target.startswith("dfdet.audio."):
            name = target.rsplit(".", 1)[-1]
            if name in MOVED:
                out["_target_"] = f"dfdet.{MOVED[name]}.{name}"
        return out
    if isinstance(node, list):
        return [_rename_targets(v) for v in node]
    return node


def _upgrade_data(data: dict[str, Any], contract: InputContract) -> dict[str, Any]:
    """An old face or audio datamodule config in today's form (one datamodule, a reader)."""
    if "reader" in data or "_target_" not in data:
        return data
    if data["_target_"] == OLD_AUDIO_DATAMODULE:
        rate = int(data.pop("sample_rate", None) or contract.sample_rate or DEFAULT_SAMPLE_RATE)
        reader = {"_target_": "dfdet.data.readers.AudioWindowReader", "sample_rate": rate}
        reader["num_samples"] = int(data.pop("num_samples", None) or contract.num_samples or 64000)
        data.update(_target_="dfdet.data.DeepfakeDataModule", modality="audio", reader=reader, eval_transform=None)
    else:
        clip_len, clip_stride = data.pop("clip_len", None), data.pop("clip_stride", None)
        reader = {"_target_": "dfdet.data.readers.face_reader", "clip_len": clip_len, "clip_stride": clip_stride}
        data.update(modality="face", reader=reader)
    data.pop("clip_len", None)
    data.pop("clip_stride", None)
    return data


def upgrade_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Today's form of a stored training config (a plain, resolved mapping); a current one comes back unchanged.

    Example:
        >>> old = {"model": {"_target_": "dfdet.models.DeepfakeDetector", "image_size": 64000, "mean": [0.0],
        ...                  "std": [1.0], "net": {"_target_": "dfdet.audio.LCNN"}},
        ...        "data": {"_target_": "dfdet.audio.AudioDataModule", "num_samples": 64000, "sample_rate": 16000}}
        >>> new = upgrade_config(old)
        >>> new["model"]["input"]["modality"], new["model"]["net"]["_target_"], new["data"]["reader"]["_target_"]
        ('audio', 'dfdet.models.audio.LCNN', 'dfdet.data.readers.AudioWindowReader')
    """
    config = dict(_rename_targets(copy.deepcopy(dict(config))))
    callbacks = config.get("callbacks")
    if isinstance(callbacks, dict):  # the per-attack EER callback became part of the metrics
        config["callbacks"] = {k: v for k, v in callbacks.items() if not _is_target(v, "dfdet.audio.PerAttackEER")}
    model = config.get("model")
    if not isinstance(model, dict) or "input" in model:
        return config
    contract = legacy_contract(config)
    for key in ("image_size", "mean", "std"):
        model.pop(key, None)
    model["input"] = contract.to_dict()
    if isinstance(config.get("data"), dict):
        config["data"] = _upgrade_data(config["data"], contract)
    return config


def contract_from_metadata(meta: Mapping[str, Any]) -> InputContract:
    """The input contract of an exported model's metadata: ``input_contract`` when present, else derived from the
    flat keys that exports made before the contract wrote (``modality``, ``input_size``, ``mean``, ``std``,
    ``clip_len``, ``clip_stride``, ``sample_rate``, ``input_shape``)."""
    if meta.get("input_contract"):
        return InputContract.from_dict(meta["input_contract"])
    size = int(meta["input_size"])
    if meta.get("modality") == "audio" or "sample_rate" in meta:
        return InputContract(modality="audio", num_samples=size, sample_rate=int(meta.get("sample_rate") or 16000))
    shape = meta.get("input_shape") or []
    clip = int(meta.get("clip_len") or (shape[1] if len(shape) == 5 else 0)) or None
    return InputContract(
        modality="face",
        size=size,
        mean=tuple(meta["mean"]),
        std=tuple(meta["std"]),
        clip_len=clip,
        clip_stride=int(meta.get("clip_stride") or clip) if clip else None,
    )
