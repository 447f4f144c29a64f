"""Paired sampling (each fake with the real frame of its source video) and the cross-manipulation selections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dfdet.data import DeepfakeDataModule, SyntheticSource
from dfdet.data.datamodule import DataConfigError
from dfdet.data.pairs import PairingError, collate_pairs, original_video_idx, pair_items
from dfdet.data.readers import FrameReader, face_reader
from dfdet.preprocess.releases import CelebDFRelease, DFDCRelease, FaceForensicsRelease
from dfdet.testing.media import ClipBank, make_celebdf, make_dfdc, make_ffpp
from dfdet.transforms import build_eval_transform


def test_pair_items_nearest_frame_of_the_original() -> None:
    # items: video 0 real (frames 0, 4, 8), video 1 fake of 0 (frames 3, 8), video 2 fake without a real in the split
    video_idx = np.array([0, 0, 0, 1, 1, 2])
    frames = np.array([0, 4, 8, 3, 8, 0])
    labels = np.array([0, 0, 0, 1, 1, 1])
    pairs = pair_items(video_idx, frames, labels, {1: 0, 2: 7})
    assert pairs.tolist() == [[3, 1], [4, 2]]  # frame 3 -> 4 (nearest), frame 8 -> 8; video 2 has no real here
    assert pair_items(video_idx, frames, labels, {}).shape == (0, 2)


def test_original_video_idx_needs_the_column_and_a_real_original() -> None:
    manifest = pd.DataFrame(
        {
            "dataset": ["d"] * 4,
            "video_id": ["a", "a_b", "c_d", "x"],
            "label": [0, 1, 1, 1],
            "original": ["", "a", "c", "a_b"],  # c is not in the data; x names a fake
            "video_idx": [0, 1, 2, 3],
        }
    )
    assert original_video_idx(manifest) == {1: 0}
    with pytest.raises(PairingError, match="run preprocess.py again"):
        original_video_idx(manifest.drop(columns="original"))


def test_collate_pairs_interleaves() -> None:
    pair = ({"x": torch.tensor(1.0), "label": torch.tensor(1.0)}, {"x": torch.tensor(2.0), "label": torch.tensor(0.0)})
    batch = collate_pairs([pair, pair])
    assert batch["label"].tolist() == [1.0, 0.0, 1.0, 0.0] and batch["x"].tolist() == [1.0, 2.0, 1.0, 2.0]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSource:
    return SyntheticSource(tmp_path_factory.mktemp("synth"), image_size=32, identities=(3, 2, 2), frames_per_video=3)


def datamodule(source: SyntheticSource, clip_len: int = 1, **kwargs: object) -> DeepfakeDataModule:
    return DeepfakeDataModule(
        source,
        face_reader(clip_len, 1),
        eval_transform=build_eval_transform(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        batch_size=4,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("clip_len", [1, 2])
def test_paired_batches_hold_each_fake_with_its_real_frame(source: SyntheticSource, clip_len: int) -> None:
    dm = datamodule(source, clip_len, paired=True)
    dm.setup()
    names = dm.video_names()
    batches = list(dm.train_dataloader())
    assert batches and all(len(b["label"]) == 4 for b in batches)  # 2 pairs per batch of 4
    original = dm.manifest.drop_duplicates("video_idx").set_index("video_idx")["original"]
    seen = 0
    for batch in batches:
        assert batch["label"].tolist() == [1.0, 0.0, 1.0, 0.0]
        for fake, real in batch["video_idx"].view(-1, 2).tolist():
            assert names[real] == f"synthetic/{original[fake]}"
        assert (batch["frame_index"][0::2] == batch["frame_index"][1::2]).all()  # the same frame of both videos
        seen += len(batch["label"]) // 2
    train = dm.manifest[dm.manifest["split"] == "train"]
    fakes = (train["label"] == 1).sum() if clip_len == 1 else train.loc[train["label"] == 1, "video_id"].nunique() * 2
    assert seen == len(dm.datasets["train"]) and len(dm.datasets["train"]) == fakes  # every paired fake, once
    assert dm.class_counts() == (seen, seen)
    assert len(next(iter(dm.val_dataloader()))["label"]) == 4  # evaluation is not paired


def test_paired_refusals(source: SyntheticSource) -> None:
    with pytest.raises(DataConfigError, match="even data.batch_size"):
        DeepfakeDataModule(source, FrameReader(), paired=True, batch_size=3)
    with pytest.raises(DataConfigError, match="cannot be combined"):
        DeepfakeDataModule(source, FrameReader(), paired=True, balance=True)


def test_method_selection_and_leave_one_out(source: SyntheticSource) -> None:
    full = datamodule(source)
    full.setup()
    methods = sorted(set(full.manifest.loc[full.manifest["label"] == 1, "method"]))
    assert len(methods) >= 2
    held = methods[0]
    dm = datamodule(source, leave_out=held)
    dm.setup()
    fakes = dm.manifest[dm.manifest["label"] == 1]
    assert set(fakes.loc[fakes["split"] == "test", "method"]) == {held}
    assert held not in set(fakes.loc[fakes["split"] != "test", "method"])
    reals = full.manifest[full.manifest["label"] == 0]
    assert (dm.manifest["label"] == 0).sum() == len(reals)  # every real stays
    assert list(dm.video_names()) == sorted(set("synthetic/" + dm.manifest["video_id"]))  # renumbered after it
    same = datamodule(source, methods=[m for m in methods if m != held], test_methods=[held])
    same.setup()
    assert same.manifest.equals(dm.manifest)
    with pytest.raises(DataConfigError, match=r"data.methods: synthetic has no fakes of method\(s\) DeepFakes"):
        datamodule(source, methods=["DeepFakes"]).setup()
    with pytest.raises(DataConfigError, match="chooses the methods itself"):
        datamodule(source, leave_out=held, methods=[held])


def test_releases_record_each_fakes_original(tmp_path: Path) -> None:
    bank = ClipBank(tmp_path / "clips", frames=2, variants=1)
    table, _ = FaceForensicsRelease(make_ffpp(tmp_path / "ffpp", bank), methods=["Deepfakes"]).scan()
    original = dict(zip(table["video_id"], table["original"], strict=True))
    assert original["Deepfakes/002_003"] == "youtube/002" and original["youtube/002"] == ""
    table, _ = CelebDFRelease(make_celebdf(tmp_path / "celebdf", bank)).scan()
    original = dict(zip(table["video_id"], table["original"], strict=True))
    assert original["Celeb-synthesis/id3_id0_0000"] == "Celeb-real/id3_0000" and original["YouTube-real/00000"] == ""
    table, _ = DFDCRelease(make_dfdc(tmp_path / "dfdc", bank)).scan()
    original = dict(zip(table["video_id"], table["original"], strict=True))
    assert original["dfdc_train_part_0/f2"] == "dfdc_train_part_0/bbb" and original["test/uuu"] == ""
