"""Whole-image release layouts on generated trees: GenImage, ForenSynths, Chameleon, image folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfdet.data.images.sources import ChameleonSource, ForenSynthsSource, GenImageSource, ImageFolderSource
from dfdet.errors import DatasetNotFoundError


def write_images(folder: Path, n: int, ext: str = "png", seed: int = 0) -> None:
    """``n`` tiny 8 x 8 images named 000.<ext>, 001.<ext>, ... in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i:03d}.{ext}")


def genimage_tree(root: Path, generators: tuple[str, ...] = ("sd_v14", "midjourney")) -> Path:
    for g in generators:
        for split, n in (("train", 20), ("val", 4)):
            write_images(root / g / split / "ai", n, "png")
            write_images(root / g / split / "nature", n, "jpeg")
    return root


def test_genimage_trains_on_one_generator_and_tests_on_all(tmp_path: Path) -> None:
    root = genimage_tree(tmp_path / "GenImage")
    df = GenImageSource(str(root), train_generators=["sd_v14"], val_fraction=0.25).manifest()
    assert set(df.columns) >= {"dataset", "split", "image_id", "label", "method", "subset", "path"}
    fit = df[df["split"] != "test"]
    assert set(fit["subset"]) == {"sd_v14"} and len(fit) == 40  # midjourney/train is not read
    assert 0 < (fit["split"] == "val").sum() < 40
    test = df[df["split"] == "test"]
    assert sorted(test.groupby("subset").size().items()) == [("midjourney", 8), ("sd_v14", 8)]
    assert set(test[test["label"] == 0]["method"]) == {"real"}
    assert set(test[test["label"] == 1]["method"]) == {"midjourney", "sd_v14"}
    assert df["image_id"].is_unique and all(Path(p).is_absolute() for p in df["path"])


def test_genimage_release_folder_level_and_clear_messages(tmp_path: Path) -> None:
    root = tmp_path / "GenImage"
    for split in ("train", "val"):  # the release's extra level: <generator>/<imagenet_ai_...>/{train,val}
        write_images(root / "SD V1.4" / "imagenet_ai_0419_sdv4" / split / "ai", 3)
        write_images(root / "SD V1.4" / "imagenet_ai_0419_sdv4" / split / "nature", 3, "jpg")
    assert len(GenImageSource(str(root), train_generators=["sd_v1_4"]).manifest()) == 12
    with pytest.raises(DatasetNotFoundError, match=r"no folder for generator\(s\) adm; found: sd_v14"):
        GenImageSource(str(root), train_generators=["adm"]).check()
    write_images(root / "glide" / "train" / "ai", 2)
    with pytest.raises(DatasetNotFoundError, match=r"missing .*glide/train/nature/, glide/val/ai/, glide/val/nature/"):
        GenImageSource(str(root)).check()
    with pytest.raises(DatasetNotFoundError, match="data.root is not set"):
        GenImageSource(None).check()


def test_genimage_names_of_the_release_and_the_papers_are_one(tmp_path: Path) -> None:
    """The release's folder names (stable_diffusion_v_1_4, Midjourney) and the usual short ones (sdv14, mj) name the
    same generator, so conf/data/genimage.yaml's train_generators=[sd_v14] works on the release as downloaded."""
    root = genimage_tree(tmp_path / "GenImage", ("stable_diffusion_v_1_4", "Midjourney"))
    df = GenImageSource(str(root), train_generators=["SDv1.4"], test_generators=["mj", "sd_v14"]).manifest()
    assert set(df["subset"]) == {"sd_v14", "midjourney"}
    assert set(df.loc[df["split"] != "test", "subset"]) == {"sd_v14"}


def test_forensynths_progan_train_and_per_generator_tests_at_both_depths(tmp_path: Path) -> None:
    root = tmp_path / "CNNDetection"
    for split in ("train", "val"):
        for cat in ("car", "cat", "horse"):
            write_images(root / split / cat / "0_real", 3)
            write_images(root / split / cat / "1_fake", 3)
    for cls in ("0_real", "1_fake"):
        write_images(root / "test" / "stylegan" / "bedroom" / cls, 2)  # with a category level
        write_images(root / "test" / "stylegan" / "car" / cls, 2)
        write_images(root / "test" / "guided" / cls, 3, "jpg")  # UnivFD's diffusion set, flat
    df = ForenSynthsSource(str(root), categories=["car", "cat"]).manifest()
    assert df.groupby("split").size().to_dict() == {"test": 14, "train": 12, "val": 12}
    assert set(df[(df["split"] == "train") & (df["label"] == 1)]["method"]) == {"progan"}
    assert set(df[df["split"] == "train"]["subset"]) == {"car", "cat"}
    test = df[df["split"] == "test"]
    assert test.groupby("subset").size().to_dict() == {"guided": 6, "stylegan": 8}
    assert set(test[test["label"] == 1]["method"]) == {"guided", "stylegan"}
    with pytest.raises(DatasetNotFoundError, match=r"missing .*train/chair/0_real/, train/chair/1_fake/"):
        ForenSynthsSource(str(root), categories=["chair"]).check()
    with pytest.raises(DatasetNotFoundError, match=r"missing .*test/dalle/0_real/"):
        ForenSynthsSource(str(root), test_generators=["dalle"]).check()
    (root / "test" / "dalle").mkdir()  # present but empty
    with pytest.raises(DatasetNotFoundError, match=r"missing .*test/dalle/0_real/, test/dalle/1_fake/"):
        ForenSynthsSource(str(root)).check()


def test_chameleon_is_a_test_set(tmp_path: Path) -> None:
    root = tmp_path / "Chameleon"
    write_images(root / "0_real", 3, "jpg")
    with pytest.raises(DatasetNotFoundError, match=r"Chameleon at .* incomplete; missing .*1_fake/"):
        ChameleonSource(str(root)).check()
    write_images(root / "1_fake", 2)
    df = ChameleonSource(str(root)).manifest()
    assert set(df["split"]) == {"test"} and df["label"].tolist() == [0, 0, 0, 1, 1]


def test_image_folder_hashed_and_fixed_splits(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    write_images(root / "real", 30, "jpg")
    write_images(root / "fake" / "flux", 20, "webp")
    write_images(root / "fake" / "sdxl", 10)
    df = ImageFolderSource(str(root)).manifest()
    assert len(df) == 60 and set(df["split"]) == {"train", "val", "test"}
    assert df[df["label"] == 1].groupby("method").size().to_dict() == {"flux": 20, "sdxl": 10}
    again = ImageFolderSource(str(root)).manifest()
    assert df["split"].tolist() == again["split"].tolist()  # stable
    fixed = tmp_path / "fixed"
    for split in ("train", "val", "test"):
        write_images(fixed / split / "real", 2)
        if split != "test":
            write_images(fixed / split / "fake", 2)
    with pytest.raises(DatasetNotFoundError, match=r"missing .*test/fake/"):
        ImageFolderSource(str(fixed)).check()
