"""ASVspoof 2019 LA and folder layouts: manifests, layout errors naming every missing part, the datamodule."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from audio_helpers import make_folder_tree

from dfdet.data import DeepfakeDataModule
from dfdet.data.audio.crops import fixed_crop, repeat_pad
from dfdet.data.audio.sources import ASVspoof2019LASource, AudioFolderSource
from dfdet.data.datamodule import DataConfigError
from dfdet.data.readers import AudioWindowReader
from dfdet.errors import DatasetNotFoundError, ManifestError
from dfdet.transforms.audio import AudioAugment


def test_asvspoof_manifest_keeps_splits_labels_and_attacks(asvspoof_root: Path) -> None:
    df = ASVspoof2019LASource(str(asvspoof_root)).manifest()
    assert set(df["split"]) == {"train", "val", "test"}
    assert set(df.loc[df["split"] == "test", "method"]) == {"real", "A07", "A08"}
    assert (df.loc[df["method"] == "real", "label"] == 0).all()
    assert (df.loc[df["method"] != "real", "label"] == 1).all()
    assert all(Path(p).is_file() for p in df["path"])


def test_asvspoof_root_may_be_the_folder_holding_la(asvspoof_root: Path) -> None:
    assert len(ASVspoof2019LASource(str(asvspoof_root.parent)).manifest()) == 24


def test_asvspoof_layout_error_names_every_missing_part(asvspoof_root: Path) -> None:
    shutil.rmtree(asvspoof_root / "ASVspoof2019_LA_dev")
    (asvspoof_root / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt").unlink()
    with pytest.raises(DatasetNotFoundError) as err:
        ASVspoof2019LASource(str(asvspoof_root)).check()
    msg = str(err.value)
    assert "ASVspoof2019_LA_dev/flac" in msg and "ASVspoof2019.LA.cm.eval.trl.txt" in msg
    assert "ASVspoof2019_LA_train/flac" not in msg.split("Expected layout")[0]  # present parts are not listed
    assert "data.root" in msg and "Expected layout" in msg


@pytest.mark.parametrize("root", [None, "/nonexistent/LA"])
def test_asvspoof_unset_or_missing_root(root: str | None) -> None:
    with pytest.raises(DatasetNotFoundError, match="data.root"):
        ASVspoof2019LASource(root).check()


def test_asvspoof_bad_protocol_line_and_missing_files(asvspoof_root: Path) -> None:
    proto = asvspoof_root / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.dev.trl.txt"
    good = proto.read_text()
    proto.write_text(good + "LA_0001 LA_D_9 - A01 maybe\n")
    with pytest.raises(ManifestError, match=r"dev\.trl\.txt:9"):
        ASVspoof2019LASource(str(asvspoof_root)).manifest()
    proto.write_text(good)
    next((asvspoof_root / "ASVspoof2019_LA_eval" / "flac").glob("*.flac")).unlink()
    with pytest.raises(ManifestError, match="1 of 24 listed audio files are missing"):
        ASVspoof2019LASource(str(asvspoof_root)).manifest()


def audio_datamodule(source, num_samples: int, **kwargs) -> DeepfakeDataModule:
    """The one datamodule reading 16 kHz windows of ``num_samples``."""
    return DeepfakeDataModule(source, AudioWindowReader(num_samples, 16000), modality="audio", **kwargs)


def test_folder_manifest_decodes_every_format(tmp_path: Path) -> None:
    root = make_folder_tree(tmp_path / "mine")
    dm = audio_datamodule(AudioFolderSource(str(root), val_fraction=0.2, test_fraction=0.2), 4000)
    dm.setup()
    df = dm.manifest
    assert len(df) == 22 and set(df["method"]) == {"real", "tts", "vc"}
    assert set(df["split"]) == {"train", "val", "test"}
    for split in ("train", "val", "test"):
        for i in range(len(dm.datasets[split])):
            item = dm.datasets[split][i]
            assert item["audio"].shape == (4000,) and item["audio"].dtype == torch.float32
    again = AudioFolderSource(str(root), val_fraction=0.2, test_fraction=0.2).manifest()
    assert again["split"].tolist() == df["split"].tolist()  # the hashed split is stable


def test_folder_fixed_splits_and_errors(tmp_path: Path) -> None:
    root = tmp_path / "split"
    make_folder_tree(root / "train")
    for split in ("val", "test"):
        shutil.copytree(root / "train", root / split)
    df = AudioFolderSource(str(root)).manifest()
    assert (df.groupby("split").size() == 22).all()
    assert df["utt_id"].is_unique and df["utt_id"].str.startswith(("train/", "val/", "test/")).all()
    shutil.rmtree(root / "test" / "fake")
    with pytest.raises(DatasetNotFoundError, match="test/fake"):
        AudioFolderSource(str(root)).check()
    with pytest.raises(DatasetNotFoundError, match="real/"):
        AudioFolderSource(str(tmp_path)).check()


def test_datamodule_batches_crops_and_names(asvspoof_root: Path) -> None:
    dm = audio_datamodule(ASVspoof2019LASource(str(asvspoof_root)), 12000, batch_size=4, seed=0)
    dm.check()
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["audio"].shape == (4, 12000) and batch["label"].dtype == torch.float32
    assert batch["video_idx"].dtype == torch.long and (batch["frame_index"] == 0).all()
    assert dm.class_counts() == (4, 4)
    names = dm.video_names()
    assert len(names) == 24 and names[0].startswith("asvspoof2019_la/LA_")
    test = [b["audio"] for b in dm.test_dataloader()]
    assert all(torch.equal(a, b) for a, b in zip(test, [b["audio"] for b in dm.test_dataloader()], strict=True))
    first = next(iter(dm.test_dataloader()))
    assert set(dm.methods()[first["video_idx"].numpy()]) <= {"real", "A07", "A08"}


def test_crops_and_padding() -> None:
    x = np.arange(5, dtype=np.float32)
    assert repeat_pad(x, 12).tolist()[:12] == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
    assert fixed_crop(x, 3).tolist() == [0, 1, 2]
    starts = {fixed_crop(np.arange(100.0), 10, np.random.default_rng(i))[0] for i in range(20)}
    assert len(starts) > 5
    aug = AudioAugment(gain_db=(-6, -6), noise_prob=1.0)
    assert aug(np.full(100, 0.5, np.float32), np.random.default_rng(0)).std() > 0


def test_image_augmentation_is_refused(asvspoof_root: Path) -> None:
    with pytest.raises(DataConfigError, match="not an audio augmentation"):
        audio_datamodule(ASVspoof2019LASource(str(asvspoof_root)), 16000, train_transform=lambda img: img)  # type: ignore[arg-type]
