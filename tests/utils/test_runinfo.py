"""The data fingerprint recorded in run_info.json: what the manifest says, wherever the dataset lives."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dfdet.utils.runinfo import data_fingerprint, manifest_fingerprint


def manifest(root: str = "/data/ffpp") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": [f"{root}/real/a/0.png", f"{root}/real/a/1.png", f"{root}/fake/b/0.png", f"{root}/fake/c/0.png"],
            "label": [0, 0, 1, 1],
            "split": ["train", "train", "val", "test"],
            "frame_index": [0, 8, 0, 0],
        }
    )


def test_fingerprint_ignores_location_row_order_and_other_columns() -> None:
    reference = manifest_fingerprint(manifest())
    assert len(reference) == 64 and int(reference, 16) >= 0
    moved = manifest("/elsewhere/deeper/copy").iloc[::-1].drop(columns="frame_index")
    assert manifest_fingerprint(moved) == reference


@pytest.mark.parametrize(
    "change",
    [
        lambda df: df.assign(label=[0, 0, 1, 0]),  # one label flipped
        lambda df: df.assign(split=["train", "val", "val", "test"]),  # one frame moved to another split
        lambda df: df.iloc[:3],  # one frame dropped
        lambda df: df.assign(path=df["path"].str.replace("c/0.png", "c/1.png")),  # another file
    ],
)
def test_fingerprint_changes_with_the_data(change) -> None:
    assert manifest_fingerprint(change(manifest())) != manifest_fingerprint(manifest())


def test_fingerprint_needs_path_label_and_split() -> None:
    with pytest.raises(ValueError, match="split"):
        manifest_fingerprint(manifest().drop(columns="split"))


class _DataModule:
    def __init__(self) -> None:
        self.manifest: pd.DataFrame | None = None
        self.setups = 0

    def setup(self, stage: str | None = None) -> None:
        self.setups += 1
        self.manifest = manifest()


def test_data_fingerprint_sets_up_the_datamodule_once() -> None:
    dm = _DataModule()
    assert data_fingerprint(dm) == manifest_fingerprint(manifest())
    assert data_fingerprint(dm) == manifest_fingerprint(manifest()) and dm.setups == 1
    assert data_fingerprint(object()) is None  # no manifest at all


@pytest.mark.parametrize("overrides", [[], ["data=synthetic_audio", "model=lcnn"]], ids=["faces", "audio"])
def test_real_datamodules_are_fingerprinted(tiny_cfg, overrides: list[str], tmp_path: Path) -> None:
    from hydra.utils import instantiate

    audio = ["data.source.speakers=[2,1,1]", "data.source.utterances_per_speaker=2", "data.source.workers=1"]
    cfg = tiny_cfg(*overrides, *(audio if overrides else []))
    dm = instantiate(cfg.data)
    dm.prepare_data()
    fingerprint = data_fingerprint(dm)
    assert fingerprint is not None and dm.manifest is not None
    assert fingerprint == manifest_fingerprint(dm.manifest[["path", "label", "split"]].sample(frac=1, random_state=0))
    assert set(dm.manifest["split"]) == {"train", "val", "test"}
