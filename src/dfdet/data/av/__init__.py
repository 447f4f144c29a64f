"""Built-in audio-visual data: talking clips whose mouth follows the voice, and their fakes with segment labels."""

from dfdet.data.av.generate import SyntheticAVSpec, ensure_synthetic_av, generate
from dfdet.data.av.sources import SyntheticAVSource
from dfdet.data.av.talking import METHODS, ClipSpec, TalkingClip, sample_person, talking_pair

__all__ = [
    "METHODS",
    "ClipSpec",
    "SyntheticAVSource",
    "SyntheticAVSpec",
    "TalkingClip",
    "ensure_synthetic_av",
    "generate",
    "sample_person",
    "talking_pair",
]
