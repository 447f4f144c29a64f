"""Landmark-guided face-part cut-outs (heavy preset)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dfdet.data.datasets import FrameDataset
from dfdet.data.manifest import read_manifest
from dfdet.data.synthetic import SyntheticSpec, ensure_synthetic
from dfdet.transforms import build_train_transform
from dfdet.transforms.cutout import face_part_cutout

LMS = np.array([[40, 45], [70, 45], [55, 62], [43, 80], [67, 80]], dtype=np.float32)


def test_each_part_is_blacked_out_near_its_landmarks() -> None:
    image = np.full((112, 112, 3), 200, dtype=np.uint8)
    seen = set()
    for seed in range(40):
        out = face_part_cutout(image, LMS, np.random.default_rng(seed))
        black = (out == 0).all(-1)
        assert 0 < black.mean() < 0.6
        assert (image == 200).all()  # the input is not modified
        seen.add(tuple(int(black[int(y), int(x)]) for x, y in LMS))
    assert len(seen) >= 4  # eyes, nose, mouth and halves hit different landmarks
    again = face_part_cutout(image, LMS, np.random.default_rng(3))
    assert np.array_equal(again, face_part_cutout(image, LMS, np.random.default_rng(3)))


@pytest.mark.parametrize(("preset", "expected"), [("heavy", 0.3), ("light", 0.0)])
def test_presets_and_dataset_pass_landmarks(tmp_path, preset: str, expected: float) -> None:
    transform = build_train_transform(preset, 64, (0.5,) * 3, (0.5,) * 3, seed=0)
    assert transform.face_cutout_p == expected
    manifest = read_manifest(ensure_synthetic(SyntheticSpec(identities=(2, 2, 2), frames_per_video=2), tmp_path))
    train = manifest[manifest["split"] == "train"].reset_index(drop=True)
    transform.face_cutout_p = 1.0
    dataset = FrameDataset(train, np.zeros(len(train), dtype=np.int64), transform)
    assert dataset.landmarks is not None and dataset[0]["image"].shape == (3, 64, 64)
    no_landmarks = FrameDataset(pd.DataFrame(train.drop(columns=["landmarks"])), np.zeros(len(train)), transform)
    assert no_landmarks.landmarks is None and no_landmarks[0]["image"].shape == (3, 64, 64)
