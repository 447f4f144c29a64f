"""Visual explanations of face scores: Grad-CAM (checkpoints), occlusion sensitivity (any model), overlays."""

from dfdet.explain.gradcam import GradCamUnavailable, grad_cam
from dfdet.explain.occlusion import occlusion_map
from dfdet.explain.overlay import heat_colours, overlay, png_bytes

__all__ = ["GradCamUnavailable", "grad_cam", "heat_colours", "occlusion_map", "overlay", "png_bytes"]
