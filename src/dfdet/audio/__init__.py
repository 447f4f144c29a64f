"""Audio deepfake (spoofing) detection: audio I/O, front-ends, models, datasets and the built-in synthetic set.

Names are imported lazily, so that the ONNX predictor (which only needs decoding and windows) does not import the
training stack that the datamodule and the models pull in.
"""

from __future__ import annotations

from dfdet.utils.lazy import lazy_exports

_EXPORTS = {
    "fixed_crop": "dfdet.audio.crops",
    "repeat_pad": "dfdet.audio.crops",
    "AudioConfigError": "dfdet.audio.datamodule",
    "AudioDataModule": "dfdet.audio.datamodule",
    "AudioAugment": "dfdet.audio.datasets",
    "AudioDataset": "dfdet.audio.datasets",
    "LFCC": "dfdet.audio.frontends",
    "LogMel": "dfdet.audio.frontends",
    "PowerSpectrogram": "dfdet.audio.frontends",
    "RawWaveform": "dfdet.audio.frontends",
    "fusion_metrics": "dfdet.audio.fusion",
    "fusion_table": "dfdet.audio.fusion",
    "late_fusion": "dfdet.utils.fusion",
    "weight_sweep": "dfdet.audio.fusion",
    "AUDIO_EXTENSIONS": "dfdet.audio.io",
    "NoAudioTrackError": "dfdet.audio.io",
    "extract_audio_track": "dfdet.audio.io",
    "load_audio": "dfdet.audio.io",
    "resample": "dfdet.audio.io",
    "PerAttackEER": "dfdet.audio.metrics",
    "per_attack_eer": "dfdet.audio.metrics",
    "LCNN": "dfdet.audio.models",
    "MaxFeatureMap": "dfdet.audio.models",
    "SpectrogramClassifier": "dfdet.audio.models",
    "build_spectrogram_classifier": "dfdet.audio.models",
    "RawNet2": "dfdet.audio.rawnet",
    "SincConv": "dfdet.audio.rawnet",
    "score_sound_tracks": "dfdet.audio.scoring",
    "score_video_audio": "dfdet.audio.scoring",
    "score_waveform": "dfdet.audio.scoring",
    "ASVspoof2019LASource": "dfdet.audio.sources",
    "AudioFolderSource": "dfdet.audio.sources",
    "SyntheticAudioSource": "dfdet.audio.sources",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
