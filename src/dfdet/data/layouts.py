"""Release layouts of the public datasets: what must exist under ``data.root``, and how to say what is missing.

This module only checks a layout; reading the videos of each dataset is preprocessing's job.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from dfdet.errors import DatasetNotFoundError


@dataclass(frozen=True)
class Layout:
    """A dataset's release layout: display name, the patterns that must match under the root, and a sketch."""

    name: str
    required: tuple[str, ...]
    sketch: str


LAYOUTS: dict[str, Layout] = {
    "ffpp": Layout(
        name="FaceForensics++",
        required=("original_sequences/youtube/{compression}/videos", "manipulated_sequences/*/{compression}/videos"),
        sketch=(
            "<root>/original_sequences/youtube/{compression}/videos/000.mp4 ...\n"
            "<root>/manipulated_sequences/{{Deepfakes,Face2Face,FaceSwap,NeuralTextures}}/{compression}/videos/"
            "000_003.mp4 ...\n<root>/splits/{{train,val,test}}.json (official FaceForensics++ splits)"
        ),
    ),
    "celebdf": Layout(
        name="Celeb-DF (v2)",
        required=("Celeb-real", "YouTube-real", "Celeb-synthesis", "List_of_testing_videos.txt"),
        sketch=(
            "<root>/Celeb-real/id0_0000.mp4 ...\n<root>/YouTube-real/00000.mp4 ...\n"
            "<root>/Celeb-synthesis/id0_id1_0000.mp4 ...\n<root>/List_of_testing_videos.txt"
        ),
    ),
    "dfdc": Layout(
        name="DFDC",
        required=("dfdc_train_part_*/metadata.json",),
        sketch="<root>/dfdc_train_part_0/metadata.json and *.mp4 ... (one folder per downloaded part)",
    ),
    "folder": Layout(
        name="a folder of your own",
        required=("real", "fake"),
        sketch="<root>/real/<videos or images> and <root>/fake/<videos or images>",
    ),
}


def check_layout(key: str, root: str | os.PathLike | None, **fmt: str) -> Path:
    """Checks that ``root`` holds dataset ``key`` in its release layout.

    Args:
        key: one of :data:`LAYOUTS`.
        root: the release folder (``data.root``); None means not configured.
        **fmt: values for the placeholders in the layout patterns (e.g. ``compression="c23"``).

    Returns:
        The resolved root.

    Raises:
        DatasetNotFoundError: naming the root, every missing part and the expected layout.
    """
    layout = LAYOUTS[key]
    sketch = layout.sketch.format(**fmt)
    how = (
        "Set data.root=/path/to/release (on the command line or in conf/local/default.yaml). "
        f"Expected layout:\n{sketch}"
    )
    if root is None or str(root) in ("", "???"):
        raise DatasetNotFoundError(f"{layout.name}: data.root is not set. {how}")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DatasetNotFoundError(f"{layout.name} not found: data.root={path} does not exist. {how}")
    missing = [p.format(**fmt) for p in layout.required if not glob.glob(str(path / p.format(**fmt)))]
    if missing:
        raise DatasetNotFoundError(f"{layout.name} at {path} is incomplete; missing: {', '.join(missing)}. {how}")
    return path.resolve()
