"""Training-free audio-visual sync measure: lip aperture against the speech-band energy envelope, cross-correlated."""

from dfdet.sync.correlate import SyncEstimate, estimate_offset, sync_score
from dfdet.sync.mouth import lip_aperture, mouth_darkness
from dfdet.sync.video import SyncMeasure, SyncReport

__all__ = [
    "SyncEstimate",
    "SyncMeasure",
    "SyncReport",
    "estimate_offset",
    "lip_aperture",
    "mouth_darkness",
    "sync_score",
]
