"""SyncNet (model=syncnet): the sliding audio windows, offsets that follow a shifted sound track, contrastive
training on real talking clips, and export of the two-input graph."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from dfdet.models.syncnet import SyncNet

TINY = ["model=syncnet_tiny", "data=synthetic_av", "trainer.max_epochs=1"]
SOURCE = ["data.source.persons=[2,2,2]", "data.source.clips_per_person=1", "data.source.size=48",
          "data.source.seconds=1.2"]  # fmt: skip


@pytest.fixture(scope="module")
def data_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the module: the tiny talking-clip set is generated once."""
    return tmp_path_factory.mktemp("talking")


def tiny(compose_cfg, data: Path, *overrides: str):  # type: ignore[no-untyped-def]
    return compose_cfg("train", [*TINY, *SOURCE, f"paths.data_dir={data}", *overrides])


def test_audio_windows_slide_one_frame_per_offset(compose_cfg, data_path: Path) -> None:
    net: SyncNet = instantiate(tiny(compose_cfg, data_path).model).net
    assert net.needed_samples() == 3200 + 2 * 3 * 640
    audio = torch.arange(7040, dtype=torch.float32)[None]
    windows = net.audio_windows(audio)
    assert windows.shape == (1, 7, 3200)
    assert windows[0, :, 0].tolist() == [1920 + 640 * k for k in range(-3, 4)]  # centred, one frame a step
    with pytest.raises(ValueError, match="needs 7040 samples"):
        net.audio_windows(audio[:, :6000])


def test_a_shifted_sound_track_moves_the_distances(compose_cfg, data_path: Path) -> None:
    net: SyncNet = instantiate(tiny(compose_cfg, data_path).model).net.eval()
    x = {"clip": torch.randn(2, 5, 3, 48, 48), "audio": torch.randn(2, 7040)}
    shifted = {"clip": x["clip"], "audio": torch.roll(x["audio"], 2 * 640, dims=1)}  # the sound 2 frames later
    with torch.no_grad():
        d, e = net.distances(x), net.distances(shifted)
    torch.testing.assert_close(e[:, 2:], d[:, :-2])  # what was at offset k is now at k + 2
    s = net.sync(x)
    assert s["offset"].tolist() == (d.argmin(1) - 3).float().tolist()
    assert torch.allclose(s["confidence"], d.median(1).values - d.min(1).values)


@pytest.mark.slow
def test_contrastive_training_on_real_talking_clips(compose_cfg, data_path: Path) -> None:
    """On the real clips of the built-in set, the in-sync sound ends up nearer than the sound shifted by 2-3 frames
    (for most clip-shift pairs after 50 steps; the test clips are few and short)."""
    cfg = tiny(compose_cfg, data_path, "data.batch_size=64")
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    batch = next(iter(datamodule.train_dataloader()))
    real = batch["label"] == 0
    assert real.sum() >= 4 and batch["audio"].shape == (len(real), 7040)
    torch.manual_seed(0)
    model = instantiate(cfg.model)
    net: SyncNet = model.net
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    x = {"clip": batch["clip"][real], "audio": batch["audio"][real]}
    labels = {"label": torch.zeros(int(real.sum()))}
    net.train()
    losses = []
    for _ in range(50):
        optimizer.zero_grad()
        net(x)
        loss = net.auxiliary_losses(labels)["contrastive_loss"]
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    net.eval()
    with torch.no_grad():
        s = net.sync(x)
        d = s["distances"]
    far = d[:, [0, 1, 5, 6]]  # shifted by 2-3 frames
    assert (s["d0"][:, None] < far).float().mean() >= 0.85  # 0.98 with this seed
    assert (s["offset"].abs() <= 1).float().mean() >= 0.8 and (s["confidence"] > 0).all()  # 0.92 with this seed


@pytest.mark.slow
def test_syncnet_trains_evaluates_and_exports(compose_cfg, data_path: Path, tmp_path: Path) -> None:
    from dfdet.export import ExportOptions, export_detector
    from dfdet.models import load_detector
    from dfdet.tasks.train import train

    run = [f"paths.output_dir={tmp_path / 'run'}", "trainer.accelerator=cpu", "trainer.enable_progress_bar=false",
           "data.batch_size=16", "logger=csv", "trainer.log_every_n_steps=1"]  # fmt: skip
    cfg = tiny(compose_cfg, data_path, *run)
    metrics = train(cfg)
    assert "test/auc" in metrics
    log = next((tmp_path / "run").rglob("metrics.csv")).read_text()
    assert "train/contrastive_loss" in log
    model, _ = load_detector(tmp_path / "run" / "checkpoints" / "best.ckpt")
    options = ExportOptions(formats=("onnx",), speed_batch_size=None, batch_sizes=(1, 3))
    result = export_detector(model, model.run_config or {}, tmp_path / "exported", "syncnet", options)
    assert max(result["onnx"]["max_abs_diff"].values()) <= 1e-4
