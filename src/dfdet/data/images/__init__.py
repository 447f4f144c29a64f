"""Whole images for AI-generated image detection: release layouts (GenImage, ForenSynths / CNNDetection, Chameleon,
your own folders), the built-in generated-image set, the file-format shortcut audit and the re-encoding option.

Image manifests have one row per image with the columns ``dataset``, ``split``, ``image_id``, ``label`` (0 real,
1 fake), ``method`` (``real`` or the generator / category), ``subset`` (the generator or category the row belongs
to, for reals too, for per-generator metrics) and ``path`` (absolute).
"""

from __future__ import annotations

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
COLUMNS = ("dataset", "split", "image_id", "label", "method", "subset", "path")
