"""Distortions of the wild, one module for evaluation sweeps and training augmentation (docs/robustness.md).

- :mod:`dfdet.perturb.images`: DeeperForensics-1.0's seven distortions, real JPEG, resize, a social-media chain.
- :mod:`dfdet.perturb.video`: H.264 re-encoding at a CRF (PyAV).
- :mod:`dfdet.perturb.audio`: MP3 / AAC / Opus round trips (PyAV), 8 kHz band, noise at an SNR, packet loss.
- :mod:`dfdet.perturb.registry`: the distortions by name and their levels; a setting is one at one level.
- :mod:`dfdet.perturb.sweep`, :mod:`dfdet.perturb.report`, :mod:`dfdet.perturb.task`: the sweep of evaluate.py.
- :mod:`dfdet.perturb.augment`: the same distortions as training augmentation.
"""
