"""Generated release trees (real H.264 clips of a real face), for these tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfdet.testing.media import ClipBank, make_folder


@pytest.fixture(scope="session")
def clip_bank(tmp_path_factory: pytest.TempPathFactory) -> ClipBank:
    return ClipBank(tmp_path_factory.mktemp("clips"), frames=6, variants=2)


@pytest.fixture
def folder_tree(tmp_path: Path, clip_bank: ClipBank) -> Path:
    """``real/`` and ``fake/``: one real video and its fake per split, a still image, a corrupt and an empty file."""
    return make_folder(tmp_path / "release", clip_bank)
