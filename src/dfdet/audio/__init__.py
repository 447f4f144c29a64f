"""Audio deepfake (spoofing) detection: audio I/O, front-ends, models, datasets and the built-in synthetic set."""

from dfdet.audio.datamodule import AudioConfigError, AudioDataModule
from dfdet.audio.datasets import AudioAugment, AudioDataset, fixed_crop, repeat_pad
from dfdet.audio.frontends import LFCC, LogMel, PowerSpectrogram, RawWaveform
from dfdet.audio.fusion import fusion_metrics, fusion_table, late_fusion, weight_sweep
from dfdet.audio.io import AUDIO_EXTENSIONS, NoAudioTrackError, extract_audio_track, load_audio, resample
from dfdet.audio.metrics import PerAttackEER, per_attack_eer
from dfdet.audio.models import LCNN, MaxFeatureMap, SpectrogramClassifier, build_spectrogram_classifier
from dfdet.audio.rawnet import RawNet2, SincConv
from dfdet.audio.scoring import score_sound_tracks, score_video_audio, score_waveform
from dfdet.audio.sources import ASVspoof2019LASource, AudioFolderSource, SyntheticAudioSource

__all__ = [
    "AUDIO_EXTENSIONS",
    "LCNN",
    "LFCC",
    "ASVspoof2019LASource",
    "AudioAugment",
    "AudioConfigError",
    "AudioDataModule",
    "AudioDataset",
    "AudioFolderSource",
    "LogMel",
    "MaxFeatureMap",
    "NoAudioTrackError",
    "PerAttackEER",
    "PowerSpectrogram",
    "RawNet2",
    "RawWaveform",
    "SincConv",
    "SpectrogramClassifier",
    "SyntheticAudioSource",
    "build_spectrogram_classifier",
    "extract_audio_track",
    "fixed_crop",
    "fusion_metrics",
    "fusion_table",
    "late_fusion",
    "load_audio",
    "per_attack_eer",
    "repeat_pad",
    "resample",
    "score_sound_tracks",
    "score_video_audio",
    "score_waveform",
    "weight_sweep",
]
