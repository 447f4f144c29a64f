"""The built-in synthetic dataset: determinism, identity splits, labels, landmarks, and no shortcuts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfdet.data.manifest import read_manifest, validate_manifest
from dfdet.data.synthetic import SyntheticSpec, ensure_synthetic, generate
from dfdet.data.synthetic.audit import shortcut_aucs
from dfdet.data.synthetic.manipulate import METHODS

SMALL = SyntheticSpec(identities=(6, 3, 3), frames_per_video=4, image_size=64)


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.jpg")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return read_manifest(ensure_synthetic(SMALL, tmp_path_factory.mktemp("synth")))


def test_layout_and_labels(small: pd.DataFrame) -> None:
    validate_manifest(small)
    assert set(small["split"]) == {"train", "val", "test"}
    assert set(small["method"]) == {"real", *METHODS}
    assert (small.loc[small["method"] == "real", "label"] == 0).all()
    assert (small.loc[small["method"] != "real", "label"] == 1).all()
    per_video = small.groupby("video_id")["frame_index"].apply(list)
    assert all(frames == list(range(SMALL.frames_per_video)) for frames in per_video)
    assert small["label"].mean() == pytest.approx(0.5)  # one fake per real video


def test_splits_are_disjoint_by_identity(small: pd.DataFrame) -> None:
    # Identities are drawn per split; a video id is <split>_id<k>_v<j>[_<method>[_id<donor>]].
    parts = small["video_id"].str.split("_")
    assert (parts.str[0] == small["split"]).all()
    for split, n_ids in zip(("train", "val", "test"), SMALL.identities, strict=True):
        rows = parts[small["split"] == split]
        assert rows.str[1].nunique() == n_ids
        donors = rows[rows.str[3] == "faceswap"].str[4]
        assert donors.isin(rows.str[1]).all()  # swapped faces come from the same split
        assert (donors != rows[rows.str[3] == "faceswap"].str[1]).all()  # and from another person


def test_landmarks_lie_in_the_face_box(small: pd.DataFrame) -> None:
    for box, lms in zip(small["box"], small["landmarks"], strict=True):
        xs, ys = np.asarray(lms[0::2]), np.asarray(lms[1::2])
        assert (xs > box[0]).all() and (xs < box[2]).all() and (ys > box[1]).all() and (ys < box[3]).all()


def test_generation_is_deterministic(tmp_path: Path) -> None:
    spec = SyntheticSpec(identities=(2, 2, 2), frames_per_video=2, image_size=48)
    generate(spec, tmp_path / "a")
    generate(spec, tmp_path / "b")
    generate(SyntheticSpec(seed=1, identities=(2, 2, 2), frames_per_video=2, image_size=48), tmp_path / "c")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_cache_is_keyed_by_parameters(tmp_path: Path) -> None:
    spec = SyntheticSpec(identities=(2, 2, 2), frames_per_video=2, image_size=48)
    first = ensure_synthetic(spec, tmp_path)
    assert ensure_synthetic(spec, tmp_path) == first  # reused, not regenerated
    other = ensure_synthetic(SyntheticSpec(identities=(2, 2, 2), frames_per_video=3, image_size=48), tmp_path)
    assert other != first
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary folders left behind


def test_no_colour_or_constant_shortcut(small: pd.DataFrame) -> None:
    aucs = shortcut_aucs(small)
    assert aucs["constant"] == 0.5
    assert aucs["colour_stats"] < 0.7, aucs
