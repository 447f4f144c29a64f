"""Item readers of the one datamodule: a reader per kind of item, checked against the data's modality; the
audio-visual item (a clip of face crops with the sound centred on it) read from preprocessed talking clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dfdet.contract import ContractError, InputContract
from dfdet.data import DeepfakeDataModule, ProcessedSource
from dfdet.data.audio.io import extract_audio_track, video_frame_rate
from dfdet.data.datamodule import DataConfigError
from dfdet.data.readers import AudioVisualReader, AudioWindowReader, FrameReader, face_reader
from dfdet.models import DeepfakeDetector
from dfdet.tasks.preprocess import preprocess
from dfdet.testing.media import make_av_folder
from dfdet.transforms import build_eval_transform
from dfdet.transforms.presets import rank_seed

SIDE, CLIP, SAMPLES, RATE = 32, 2, 4000, 16000


def test_readers_must_fit_the_modality(tmp_path: Path) -> None:
    source = ProcessedSource("folder", str(tmp_path), tmp_path / "processed")
    with pytest.raises(DataConfigError, match="FrameReader \\(image items\\) cannot read audio data"):
        DeepfakeDataModule(source, FrameReader(), modality="audio")
    with pytest.raises(DataConfigError, match="cannot read face data"):
        DeepfakeDataModule(source, AudioWindowReader(8000, RATE), modality="face")
    assert face_reader(None).keys == ("image",) and face_reader(4, 2).keys == ("clip",)
    with pytest.raises(DataConfigError, match="is not a fake synthesis: use synthesis=sbi"):
        DeepfakeDataModule(source, FrameReader(), synthesis={"method": "sbi"})  # type: ignore[arg-type]
    assert DeepfakeDataModule(source, FrameReader(), synthesis={}).synthesis is None  # type: ignore[arg-type]


def test_ranks_draw_different_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("SLURM_PROCID", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert rank_seed(42) == 42  # one process: seeds as before
    monkeypatch.setenv("RANK", "1")
    one = rank_seed(42)
    assert rank_seed(42) == one  # reproducible
    monkeypatch.setenv("RANK", "2")
    assert len({42, one, rank_seed(42)}) == 3  # and distinct per rank


class TinyAudioVisualNet(nn.Module):
    """A stand-in audio-visual network: pooled clip pixels and sound energy, one logit."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        feats = torch.stack([x["clip"].mean(dim=(1, 2, 3, 4)), x["audio"].abs().mean(dim=1)], dim=1)
        return self.fc(feats)


@pytest.fixture(scope="module")
def av_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[DeepfakeDataModule, Path]:
    from hydra import compose, initialize_config_dir

    tmp = tmp_path_factory.mktemp("av")
    root = tmp / "release"
    make_av_folder(root, per_split=1, seconds=1.0, fps=10)
    conf = Path(__file__).resolve().parents[2] / "conf"
    overrides = [
        "data=folder", f"data.root={root}", f"paths.data_dir={tmp / 'data'}", f"paths.output_dir={tmp / 'run'}",
        "data.frames_per_video=4", "preprocessor.detect_every=1", "preprocessor.cropper.size=64", "workers=1",
        "progress=false",
    ]  # fmt: skip
    with initialize_config_dir(str(conf), version_base="1.3"):
        preprocess(compose("preprocess", overrides=overrides))
    source = ProcessedSource("folder", str(root), tmp / "data" / "processed" / "folder")
    reader = AudioVisualReader(CLIP, CLIP, SAMPLES, RATE)
    transform = build_eval_transform(SIDE, (0.5,) * 3, (0.5,) * 3)
    dm = DeepfakeDataModule(source, reader, modality="audio_visual", eval_transform=transform, batch_size=4)
    dm.setup()
    return dm, root


def test_audio_visual_items_hold_the_clip_and_its_sound(av_data: tuple[DeepfakeDataModule, Path]) -> None:
    dm, root = av_data
    batch = next(iter(dm.test_dataloader()))
    n = len(batch["label"])
    assert batch["clip"].shape == (n, CLIP, 3, SIDE, SIDE) and batch["audio"].shape == (n, SAMPLES)
    dataset = dm.datasets["test"]
    for i in range(len(dataset)):
        item = dataset[i]
        source, first, last = dataset.spans[i]  # type: ignore[attr-defined]
        if "silent" in source:
            assert item["audio_present"] == 0 and not item["audio"].any()
            continue
        wave, fps = extract_audio_track(source, RATE), video_frame_rate(source)
        start = int(round((first + last + 1) / 2 / fps * RATE - SAMPLES / 2))
        expected = np.zeros(SAMPLES, np.float32)
        lo, hi = max(start, 0), min(start + SAMPLES, len(wave))
        expected[lo - start : hi - start] = wave[lo:hi]
        assert item["audio_present"] == 1 and item["audio"].abs().sum() > 0
        np.testing.assert_allclose(item["audio"].numpy(), expected)
    assert any("silent" in s for s, _, _ in dataset.spans)  # type: ignore[attr-defined]


def test_a_module_consumes_the_inputs_its_contract_names(av_data: tuple[DeepfakeDataModule, Path]) -> None:
    dm, _ = av_data
    contract = InputContract(
        modality="audio_visual", size=SIDE, clip_len=CLIP, num_samples=SAMPLES, sample_rate=RATE, mean=(0.5,) * 3,
        std=(0.5,) * 3,
    )  # fmt: skip
    assert contract.input_keys == ("clip", "audio") and contract.layout == "NTCHW+NL"
    model = DeepfakeDetector(TinyAudioVisualNet(), torch.optim.SGD, input=contract)
    batch = next(iter(dm.train_dataloader()))
    loss = model.training_step(batch, 0)
    assert loss is not None and torch.isfinite(loss)
    loss.backward()
    assert model.net.fc.weight.grad is not None and model.net.fc.weight.grad.abs().sum() > 0
    face = DeepfakeDetector(TinyAudioVisualNet(), torch.optim.SGD, input={"modality": "face", "size": SIDE})
    with pytest.raises(ContractError, match=r"reads batch \['image'\] \(face input\) but the data gives"):
        face.training_step(batch, 0)
