"""Whole images as a modality: the crop policy of the contract, identical in evaluation and prediction; random crops
at native resolution in training; per-subset (generator) metrics against a hand computation."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.metrics import average_precision_score

from dfdet.contract import ContractError, InputContract
from dfdet.data import DeepfakeDataModule
from dfdet.data.readers import ImageReader
from dfdet.metrics.per_attack import per_subset_scores
from dfdet.predict import ModelInfo, Predictor
from dfdet.transforms.crops import crop_origins, image_inputs
from dfdet.transforms.images import build_image_train_transform

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def test_contract_crop_policy() -> None:
    image = InputContract(modality="image", size=64)
    assert (image.crop, image.crops, image.resize) == ("center", 1, None)
    assert InputContract(modality="image", size=64, crop="grid").crops == 5
    assert "native resolution" in image.describe()
    with pytest.raises(ContractError, match="apply to whole-image models"):
        InputContract(modality="face", size=64, crop="grid")
    with pytest.raises(ContractError, match="resize=32 is out of range"):
        InputContract(modality="image", size=64, resize=32)  # never below the crop
    with pytest.raises(ContractError, match="crop='random' is not one of"):
        InputContract(modality="image", size=64, crop="random")


def test_crops_pad_small_images_and_never_resize() -> None:
    rng = np.random.default_rng(0)
    large = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    x = image_inputs(large, 64, MEAN, STD)
    pixels = (x[0].transpose(1, 2, 0) * np.float32(STD) + np.float32(MEAN)) * 255
    np.testing.assert_allclose(pixels, large[13:77, 28:92], atol=1e-3)  # the centre, untouched
    small = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert image_inputs(small, 64, MEAN, STD, "grid", 5).shape == (5, 3, 64, 64)  # padded, not upscaled
    assert crop_origins(100, 80, 64, "grid", 4) == [(0, 0), (0, 16), (36, 0), (36, 16)]


def test_training_crops_are_windows_of_the_image() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (66, 67, 3), dtype=np.uint8)
    transform = build_image_train_transform(64, MEAN, STD, seed=3)
    for _ in range(5):
        crop = transform(image).numpy().transpose(1, 2, 0)
        pixels = np.round((crop * np.float32(STD) + np.float32(MEAN)) * 255).astype(np.int64)
        windows = [image[t : t + 64, c : c + 64] for t in range(3) for c in range(4)]
        candidates = windows + [w[:, ::-1] for w in windows]
        assert any(np.array_equal(pixels, w) for w in candidates)


class GeneratedImages:
    """A tiny whole-image source written by the test: reals are smooth noise, fakes carry a periodic up-sampling
    pattern; two generators (subsets), each with its own reals."""

    name = "generated"
    id_column = "image_id"

    def __init__(self, root: Path) -> None:
        self.root = root

    def check(self) -> None:
        pass

    def prepare(self) -> None:
        pass

    def manifest(self) -> pd.DataFrame:
        rng = np.random.default_rng(0)
        rows = []
        for i in range(48):
            split = ("train", "train", "val", "test")[i % 4]
            subset, fake = ("gan", "diffusion")[(i // 8) % 2], (i // 4) % 2 == 1  # each split: both, per subset
            h, w = int(rng.integers(48, 90)), int(rng.integers(48, 90))
            image = rng.normal(128, 20, (h // 8 + 1, w // 8 + 1, 3))
            image = np.kron(image, np.ones((8, 8, 1)))[:h, :w]
            if fake:
                image[::2, ::2] += 40  # a periodic trace
            path = self.root / f"{i}.png"
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path)
            rows.append({"dataset": self.name, "split": split, "image_id": str(i), "label": int(fake),
                         "method": subset if fake else "real", "subset": subset, "path": str(path)})  # fmt: skip
        return pd.DataFrame(rows)


class RecordingModel:
    """A model of an image contract that records its inputs and scores them by their mean."""

    def __init__(self, contract: InputContract) -> None:
        self.info = ModelInfo(
            name="rec", version="0", format="onnx", backbone="none", threshold=0.5, threshold_source="config",
            **ModelInfo.contract_fields(contract),
        )  # fmt: skip
        self.seen: list[np.ndarray] = []

    def logits(self, x: np.ndarray) -> np.ndarray:
        self.seen.append(x.copy())
        return x.mean(axis=(1, 2, 3)).astype(np.float32)


def test_evaluation_and_prediction_see_the_same_pixels(tmp_path: Path) -> None:
    contract = InputContract(modality="image", size=32, mean=MEAN, std=STD, crop="grid", crops=4)
    reader = ImageReader(32, MEAN, STD, "grid", 4, train_transform=build_image_train_transform(32, MEAN, STD))
    dm = DeepfakeDataModule(GeneratedImages(tmp_path), reader, modality="image", batch_size=8)
    dm.setup()
    test = dm.datasets["test"]
    assert len(test) == 4 * 12 and dm.datasets["train"][0]["image"].shape == (3, 32, 32)
    model = RecordingModel(contract)
    predictor = Predictor(model, SimpleNamespace(frames_per_video=4))  # type: ignore[arg-type]
    path = test.paths[0]  # type: ignore[attr-defined]
    result = predictor.predict(path).result
    assert result["crops_per_frame"] == 4 and "error" not in result
    expected = torch.stack([test[k]["image"] for k in range(4)]).numpy()
    np.testing.assert_array_equal(model.seen[0], expected)  # bit-identical crops


def test_per_subset_scores_against_a_hand_computation() -> None:
    preds = torch.tensor([0.2, 0.6, 0.9, 0.4, 0.3, 0.1, 0.8, 0.7])
    target = torch.tensor([0, 0, 1, 1, 0, 0, 1, 1])
    subsets = ["gan"] * 4 + ["diffusion"] * 4
    out: dict[str, Any] = per_subset_scores(preds, target, subsets, threshold=0.5)
    # gan: reals 0.2 (right), 0.6 (wrong) -> 0.5; fakes 0.9 (right), 0.4 (wrong) -> 0.5
    assert (out["real_acc_gan"], out["fake_acc_gan"], out["acc_gan"]) == (0.5, 0.5, 0.5)
    assert (out["real_acc_diffusion"], out["fake_acc_diffusion"], out["acc_diffusion"]) == (1.0, 1.0, 1.0)
    assert out["mean_acc"] == pytest.approx(0.75)
    gan_ap = average_precision_score([0, 0, 1, 1], [0.2, 0.6, 0.9, 0.4])
    assert out["ap_gan"] == pytest.approx(gan_ap) and out["ap_diffusion"] == pytest.approx(1.0)
    assert out["mean_ap"] == pytest.approx((gan_ap + 1.0) / 2)


def test_a_whole_image_model_trains_and_reports_generators(tmp_path: Path) -> None:
    import lightning as L
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(str(conf), version_base="1.3"):
        cfg = compose("train", ["model=image_small", "model.input.size=32", "trainer.max_epochs=2"])
    model = instantiate(cfg.model)
    assert model.contract.modality == "image"
    mean, std = model.contract.mean, model.contract.std
    reader = ImageReader(32, mean, std, train_transform=build_image_train_transform(32, mean, std))
    dm = DeepfakeDataModule(GeneratedImages(tmp_path), reader, modality="image", batch_size=8)
    trainer = L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(model, datamodule=dm)
    metrics = trainer.test(model, datamodule=dm, verbose=False)[0]
    for key in ("test/acc_gan", "test/acc_diffusion", "test/mean_acc", "test/ap_gan", "test/real_acc_gan"):
        assert 0.0 <= metrics[key] <= 1.0, key


def test_whole_image_inputs_keep_the_image() -> None:
    contract = InputContract(modality="image", size=64, crop="whole")
    assert contract.crops == 1 and "one input of its own size" in contract.describe()
    with pytest.raises(ContractError, match="crops applies to crop=grid"):
        InputContract(modality="image", size=64, crop="whole", crops=4)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    x = image_inputs(image, 64, MEAN, STD, "whole")
    assert x.shape == (1, 3, 64, 96)  # sides trimmed to multiples of 32, centred
    pixels = (x[0].transpose(1, 2, 0) * np.float32(STD) + np.float32(MEAN)) * 255
    np.testing.assert_allclose(pixels, image[13:77, 12:108], atol=1e-3)
    assert image_inputs(image[:20, :30], 64, MEAN, STD, "whole").shape == (1, 3, 64, 64)  # padded like crops
    assert image_inputs(np.zeros((40, 3000, 3), np.uint8), 32, MEAN, STD, "whole").shape == (1, 3, 32, 2048)


def test_whole_images_evaluate_export_and_predict_at_their_own_size(tmp_path: Path) -> None:
    """crop=whole end to end: evaluation items of each image's size (batches of one), an ONNX graph with dynamic
    height and width verified against eager PyTorch, and prediction through it."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from dfdet.export import ExportOptions, export_detector
    from dfdet.predict import load_model

    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(str(conf), version_base="1.3"):
        cfg = compose("train", ["model=image_small", "model.input.size=32", "model.input.crop=whole"])
    model = instantiate(cfg.model).eval()
    c = model.contract
    reader = ImageReader(32, c.mean, c.std, "whole", train_transform=build_image_train_transform(32, c.mean, c.std))
    dm = DeepfakeDataModule(GeneratedImages(tmp_path), reader, modality="image", batch_size=8)
    dm.setup()
    sizes = {tuple(batch["image"].shape) for batch in dm.test_dataloader()}
    assert len(sizes) > 1 and all(s[0] == 1 and s[2] % 32 == 0 and s[3] % 32 == 0 for s in sizes)
    results = export_detector(
        model, {"model": {}}, tmp_path / "out", "whole", ExportOptions(formats=("onnx",), speed_batch_size=None)
    )
    assert any("x" in name for name in results["onnx"]["max_abs_diff"])  # verified at a second size
    predictor = Predictor(load_model(results["onnx"]["path"]), SimpleNamespace(frames_per_video=1))  # type: ignore[arg-type]
    path = dm.datasets["test"].paths[0]  # type: ignore[attr-defined]
    result = predictor.predict(path).result
    image = torch.from_numpy(image_inputs(np.asarray(Image.open(path).convert("RGB")), 32, c.mean, c.std, "whole"))
    with torch.no_grad():
        expected = float(torch.sigmoid(model(image)).item())
    assert result["fake_probability"] == pytest.approx(expected, abs=1e-4)  # temperature 1: not calibrated
