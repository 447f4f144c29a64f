"""The allow-list of stored-config targets: every shipped config's target is on it, hostile ones are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import get_object
from omegaconf import OmegaConf

from dfdet.errors import CheckpointError, UnsafeConfigError
from dfdet.utils.safe_config import ALLOWED_TARGETS, LEGACY_TARGETS, check_targets, iter_targets

CONF = Path(__file__).resolve().parents[2] / "conf"


def _shipped_targets() -> dict[str, str]:
    """Every ``_target_`` of ``conf/**/*.yaml`` (read as YAML: nested, flow style), to the file naming it first."""
    found: dict[str, str] = {}
    for path in sorted(CONF.rglob("*.yaml")):
        for _, target in iter_targets(yaml.safe_load(path.read_text())):
            found.setdefault(str(target), str(path.relative_to(CONF)))
    return found


def test_every_shipped_config_target_is_allowed() -> None:
    shipped = _shipped_targets()
    assert len(shipped) > 30  # the scan reads the configs (flow-style and nested targets included)
    missing = {t: f for t, f in shipped.items() if t not in ALLOWED_TARGETS}
    assert not missing, f"add these to dfdet.utils.safe_config (a config names them): {missing}"


@pytest.mark.parametrize("target", sorted(ALLOWED_TARGETS - LEGACY_TARGETS))
def test_every_allowed_target_exists(target: str) -> None:
    assert callable(get_object(target))


AUDIO_MODELS = ("lcnn", "rawnet2", "spec_cnn", "aasist", "aasist_l", "ssl")
RUNS = [
    *[[f"model={m.stem}", f"data={'synthetic_audio' if m.stem in AUDIO_MODELS else 'synthetic'}"]
      for m in sorted((CONF / "model").glob("*.yaml"))],
    *[["model=small", f"model/head={h.stem}"] for h in sorted((CONF / "model" / "head").glob("*.yaml"))],
    *[[f"experiment={e.stem}"] for e in sorted((CONF / "experiment").glob("*.yaml"))],
    *[[f"data={d}", "model=small"] for d in ("ffpp", "celebdf", "dfdc", "folder")],
    *[[f"data={d}", "model=lcnn"] for d in ("asvspoof2019_la", "audio_folder")],
    *[["data=synthetic_audio", "model=ssl", f"model/ssl_backend={b.stem}", f"model/ssl_frontend={f.stem}"]
      for b in sorted((CONF / "model" / "ssl_backend").glob("*.yaml"))
      for f in sorted((CONF / "model" / "ssl_frontend").glob("*.yaml"))[:1]],
    *[["data=synthetic_audio", "model=lcnn", f"audio_augment={a.stem}"]
      for a in sorted((CONF / "audio_augment").glob("*.yaml"))],
    ["synthesis=sbi", "logger=tensorboard", "callbacks=none"],
    ["synthesis=blend_pairs", "logger=wandb"],
]  # fmt: skip


@pytest.mark.parametrize("overrides", RUNS, ids=lambda o: ",".join(o))
def test_the_stored_config_of_every_shipped_run_passes(overrides: list[str], tmp_path: Path) -> None:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, f"paths.output_dir={tmp_path}", f"paths.log_dir={tmp_path}"])
    check_targets(OmegaConf.to_container(cfg, resolve=True), origin="x.ckpt")  # what on_save_checkpoint stores


def _wrap(payload: dict[str, Any]) -> dict[str, Any]:
    """A run config whose model network is ``payload``."""
    return {"model": {"_target_": "dfdet.models.DeepfakeDetector", "net": payload, "image_size": 64}}


HOSTILE = {
    "file write": (
        _wrap({"_target_": "pathlib.Path.write_text", "_args_": [{"_target_": "pathlib.Path", "_args_": ["m"]}, "x"]}),
        "pathlib.Path.write_text",
        "model.net._target_",
    ),
    "nested in _args_": (
        _wrap({"_target_": "dfdet.models.build_backbone", "_args_": [{"_target_": "pandas.read_pickle"}]}),
        "pandas.read_pickle",
        "model.net._args_[0]._target_",
    ),
    "partial": (
        {"model": {"optimizer": {"_target_": "os.system", "_partial_": True, "_args_": ["touch m"]}}},
        "os.system",
        "model.optimizer._target_",
    ),
    "in a list": ({"callbacks": [{"_target_": "subprocess.run", "args": ["touch", "m"]}]}, "subprocess.run", "[0]"),
    "builtin": ({"data": {"_target_": "builtins.eval", "_args_": ["1"]}}, "builtins.eval", "data._target_"),
    "dfdet helper": (
        {"data": {"_target_": "dfdet.utils.runinfo.write_json"}},
        "dfdet.utils.runinfo.write_json",
        "data._target_",
    ),
    "dfdet prefix": ({"data": {"_target_": "dfdet.models.DeepfakeDetectorX"}}, "DeepfakeDetectorX", "data"),
    "not a string": ({"data": {"_target_": ["os", "system"]}}, "os", "data._target_"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_targets_are_refused_naming_key_and_target(name: str) -> None:
    cfg, target, path = HOSTILE[name]
    with pytest.raises(UnsafeConfigError, match="nothing was run") as info:
        check_targets(cfg, origin="evil.ckpt")
    message = str(info.value)
    assert target in message and path in message and "evil.ckpt" in message and "\n" not in message
    assert isinstance(info.value, CheckpointError)
    with pytest.raises(UnsafeConfigError):
        check_targets(OmegaConf.create(cfg), origin="evil.ckpt")  # an OmegaConf node is walked the same way


def test_a_resolver_that_would_build_a_config_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = "{_target_: pathlib.Path, _args_: [" + str(marker) + "]}"
    payload = "${oc.create:{_target_: pathlib.Path.touch, _args_: [" + path + "]}}"
    with pytest.raises(UnsafeConfigError, match=r"interpolation at model\.net"):
        check_targets({"model": {"net": payload}}, origin="evil.ckpt")
    assert not marker.exists()
