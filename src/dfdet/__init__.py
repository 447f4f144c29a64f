"""dfdet: deepfake-detection training framework."""

__version__ = "0.1.0"
