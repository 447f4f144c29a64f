"""The built-in synthetic deepfake dataset (procedural faces, two manipulation methods)."""

from dfdet.data.synthetic.generate import SyntheticSpec, ensure_synthetic, generate

__all__ = ["SyntheticSpec", "ensure_synthetic", "generate"]
