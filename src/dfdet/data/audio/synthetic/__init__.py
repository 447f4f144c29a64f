"""The built-in synthetic audio anti-spoofing dataset: source-filter speech, three attacks, a shared channel."""

from dfdet.data.audio.synthetic.attacks import ATTACKS
from dfdet.data.audio.synthetic.generate import SyntheticAudioSpec, ensure_synthetic_audio, generate

__all__ = ["ATTACKS", "SyntheticAudioSpec", "ensure_synthetic_audio", "generate"]
