"""Audio data: decoding and resampling, windows, the audio sources (ASVspoof 2019 LA, folders, synthetic)."""
