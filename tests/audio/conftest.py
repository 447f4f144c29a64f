"""Fixtures for the audio tests: a generated ASVspoof-2019-LA tree, a tiny LCNN config."""

from __future__ import annotations

from pathlib import Path

import pytest
from audio_helpers import TINY_AUDIO, make_asvspoof_tree


@pytest.fixture
def asvspoof_root(tmp_path: Path) -> Path:
    return make_asvspoof_tree(tmp_path / "LA")


@pytest.fixture
def tiny_audio() -> list[str]:
    return list(TINY_AUDIO)
