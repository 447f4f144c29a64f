"""Whole-image datasets in their release layouts: GenImage, ForenSynths (CNNDetection, with UnivFD's diffusion test
sets in the same form), Chameleon, and your own ``real/`` and ``fake/`` folders.

Each source checks its folder up front (one message naming every missing part and the expected layout) and returns
the manifest described in :mod:`dfdet.data.images`. Every source takes ``reencode`` (a
:class:`~dfdet.data.images.reencode.Reencode`): real and fake images are then re-encoded alike into a cache folder
once, so that the file format cannot be learnt as a shortcut (see :mod:`dfdet.data.images.audit`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from dfdet.data.images import COLUMNS, IMAGE_EXTENSIONS
from dfdet.data.images.reencode import Reencode
from dfdet.data.layouts import root_or_raise, stable_fraction
from dfdet.errors import DatasetNotFoundError

REAL_DIRS = {"nature": 0, "ai": 1, "0_real": 0, "1_fake": 1, "real": 0, "fake": 1}


def image_files(folder: Path) -> list[Path]:
    """Every image under ``folder`` (recursively, by extension), sorted."""
    found = []
    for parent, _, names in os.walk(folder):
        found += [Path(parent) / n for n in names if n.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(found)


def short_name(name: str) -> str:
    """A folder name as an option value: lower case, runs of other characters as ``_`` (``SD V1.4`` -> ``sd_v1_4``)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# GenImage's generators by the names its release, papers and users give them -> one name each (the release's folders
# are e.g. stable_diffusion_v_1_4/imagenet_ai_0419_sdv4, Midjourney/imagenet_midjourney, ADM/imagenet_ai_0508_adm).
GENIMAGE_NAMES = {
    "sd_v14": ("stable_diffusion_v_1_4", "sd_v1_4", "sdv14", "sd14", "sdv1_4", "imagenet_ai_0419_sdv4", "sdv4"),
    "sd_v15": ("stable_diffusion_v_1_5", "sd_v1_5", "sdv15", "sd15", "sdv1_5", "imagenet_ai_0424_sdv5", "sdv5"),
    "midjourney": ("imagenet_midjourney", "mj", "midjourney_v5"),
    "adm": ("imagenet_ai_0508_adm",),
    "glide": ("imagenet_glide",),
    "wukong": ("imagenet_ai_0424_wukong",),
    "vqdm": ("imagenet_ai_0419_vqdm",),
    "biggan": ("imagenet_ai_0419_biggan",),
}
GENIMAGE_ALIASES = {alias: name for name, aliases in GENIMAGE_NAMES.items() for alias in aliases}


def genimage_name(name: str) -> str:
    """A GenImage generator's one name, from a folder name or any usual alias (``Stable Diffusion V1.4``,
    ``stable_diffusion_v_1_4``, ``sdv14`` -> ``sd_v14``); other names as :func:`short_name` gives them.

    Example:
        >>> [genimage_name(n) for n in ("stable_diffusion_v_1_4", "SDv1.5", "Midjourney", "my_gan")]
        ['sd_v14', 'sd_v15', 'midjourney', 'my_gan']
    """
    short = short_name(name)
    return GENIMAGE_ALIASES.get(short, GENIMAGE_ALIASES.get(short.replace("_", ""), short))


def class_rows(
    root: Path, folder: Path, dataset: str, split: str, label: int, method: str, subset: str
) -> list[dict[str, object]]:
    """Manifest rows of every image under ``folder``; ``image_id`` is the path below ``root`` without suffix."""
    return [
        {
            "dataset": dataset,
            "split": split,
            "image_id": f.relative_to(root).with_suffix("").as_posix(),
            "label": label,
            "method": method,
            "subset": subset,
            "path": str(f),
        }
        for f in image_files(folder)
    ]


def _frame(rows: Iterable[dict[str, object]], reencode: Reencode | None) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=list(COLUMNS))
    return reencode.apply(df) if reencode is not None else df


def _incomplete(name: str, root: Path, missing: list[str], sketch: str) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"{name} at {root} is incomplete; missing (or without images): {', '.join(missing)}. Expected layout:\n{sketch}"
    )


GENIMAGE_SKETCH = (
    "<root>/<generator>/{train,val}/{ai,nature}/*.{png,jpg,...}  (one folder per generator, e.g. sd_v14, midjourney,\n"
    "adm, glide, wukong, vqdm, biggan; the release's extra level <generator>/<imagenet_ai_...>/{train,val} works too)"
)


class GenImageSource:
    """GenImage (Zhu et al., NeurIPS 2023): ImageNet photos (``nature``) and images of eight generators (``ai``).

    Split rule (the benchmark's protocol: train on one generator, test on all):

    - ``train``: the ``train/`` images of the training generators, less a held-out slice;
    - ``val``: that slice, ``val_fraction`` of them chosen by a hash of the file path (stable, class-stratified
      by construction since it is per file);
    - ``test``: the ``val/`` images of the test generators (GenImage has no separate test folder).

    ``method`` is ``real`` or the generator; ``subset`` is the generator folder for reals too (the nature images of
    ``sd_v14/`` have subset ``sd_v14``), so metrics per generator compare each generator with its own reals.
    Generator names are the folder names in lower case with other characters as ``_``, and the release's and the
    papers' names of its eight generators are one name each (:func:`genimage_name`: ``stable_diffusion_v_1_4``,
    ``sdv14`` -> ``sd_v14``), in options too.

    Args:
        root: the folder holding one folder per generator.
        train_generators: generators whose ``train/`` is used; null: every generator found.
        test_generators: generators whose ``val/`` is the test split; null: every generator found.
        val_fraction: share of the training images held out for validation.
        reencode: re-encode real and fake alike (format-bias control); None: the files as released.
    """

    name = "genimage"
    id_column = "image_id"

    def __init__(
        self,
        root: str | None,
        train_generators: list[str] | None = None,
        test_generators: list[str] | None = None,
        val_fraction: float = 0.05,
        reencode: Reencode | None = None,
    ) -> None:
        self.root = root
        self.train_generators = None if train_generators is None else [genimage_name(g) for g in train_generators]
        self.test_generators = None if test_generators is None else [genimage_name(g) for g in test_generators]
        self.val_fraction = val_fraction
        self.reencode = reencode

    def generators(self) -> tuple[Path, dict[str, Path]]:
        """The root and each generator's folder holding ``train/`` and ``val/`` (one level down allowed)."""
        root = root_or_raise("GenImage", self.root, GENIMAGE_SKETCH)
        found: dict[str, Path] = {}
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            inner = [c for c in d.iterdir() if (c / "train").is_dir() or (c / "val").is_dir()]
            base = d if (d / "train").is_dir() or (d / "val").is_dir() else inner[0] if len(inner) == 1 else d
            found[genimage_name(d.name)] = base
        return root, found

    def _chosen(self, found: dict[str, Path]) -> tuple[list[str], list[str], list[str]]:
        train = self.train_generators if self.train_generators is not None else list(found)
        test = self.test_generators if self.test_generators is not None else list(found)
        unknown = [g for g in dict.fromkeys(train + test) if g not in found]
        return train, test, unknown

    def check(self) -> None:
        root, found = self.generators()
        train, test, unknown = self._chosen(found)
        if unknown:
            raise DatasetNotFoundError(
                f"GenImage at {root}: no folder for generator(s) {', '.join(unknown)}; found: "
                f"{', '.join(found) or 'none'}. Set data.source.train_generators / test_generators to those names. "
                f"Expected layout:\n{GENIMAGE_SKETCH}"
            )
        needed = [(g, "train", c) for g in train for c in ("ai", "nature")]
        needed += [(g, "val", c) for g in test for c in ("ai", "nature")]
        missing = [f"{g}/{s}/{c}/" for g, s, c in needed if not image_files(found[g] / s / c)]
        if missing:
            raise _incomplete("GenImage", root, missing, GENIMAGE_SKETCH)

    def prepare(self) -> None:
        self.check()

    def manifest(self) -> pd.DataFrame:
        self.check()
        root, found = self.generators()
        train, test, _ = self._chosen(found)
        rows: list[dict[str, object]] = []
        for g in train:
            for cls in ("nature", "ai"):
                label = REAL_DIRS[cls]
                method = g if label else "real"
                for row in class_rows(root, found[g] / "train" / cls, self.name, "train", label, method, g):
                    if stable_fraction(str(row["image_id"])) < self.val_fraction:
                        row["split"] = "val"
                    rows.append(row)
        for g in test:
            for cls in ("nature", "ai"):
                label = REAL_DIRS[cls]
                rows += class_rows(root, found[g] / "val" / cls, self.name, "test", label, g if label else "real", g)
        return _frame(rows, self.reencode)


FORENSYNTHS_SKETCH = (
    "<root>/train/<category>/{0_real,1_fake}/*.png   (ProGAN, 20 LSUN categories: airplane, ..., tvmonitor)\n"
    "<root>/val/<category>/{0_real,1_fake}/*.png\n"
    "<root>/test/<generator>/{0_real,1_fake}/*  or  <root>/test/<generator>/<category>/{0_real,1_fake}/*\n"
    "(CNNDetection's test set: progan, stylegan, biggan, cyclegan, ...; UnivFD's diffusion sets such as guided,\n"
    "ldm_200, glide_100_27, dalle go under test/ in the same form)"
)


def _pairs(folder: Path) -> list[Path]:
    """Folders under ``folder`` (itself, its children) that hold both ``0_real`` and ``1_fake``."""
    if (folder / "0_real").is_dir() or (folder / "1_fake").is_dir():
        return [folder]
    return sorted(c for c in folder.iterdir() if c.is_dir() and ((c / "0_real").is_dir() or (c / "1_fake").is_dir()))


class ForenSynthsSource:
    """ForenSynths / CNNDetection (Wang et al., CVPR 2020): train on ProGAN's 20 categories, test per generator;
    UnivFD's diffusion test sets (Ojha et al., CVPR 2023) in the same form are more test generators.

    Splits: ``train/`` and ``val/`` as released (``method`` ``progan``, ``subset`` the category); ``test/<generator>``
    is the test split (``method`` and ``subset`` the generator), with or without a category level below it.

    Args:
        root: the folder holding ``train/``, ``val/`` and ``test/``.
        categories: ProGAN training categories to use (e.g. the 4-class setting ``[car, cat, chair, horse]``);
            null: all found.
        test_generators: test generators to use; null: all found.
        reencode: re-encode real and fake alike (format-bias control); None: the files as released.
    """

    name = "forensynths"
    id_column = "image_id"

    def __init__(
        self,
        root: str | None,
        categories: list[str] | None = None,
        test_generators: list[str] | None = None,
        reencode: Reencode | None = None,
    ) -> None:
        self.root = root
        self.categories = categories
        self.test_generators = test_generators
        self.reencode = reencode

    def _parts(self) -> tuple[Path, list[tuple[str, str, Path]]]:
        """(split, subset, folder holding 0_real and 1_fake) for everything chosen."""
        root = root_or_raise("ForenSynths", self.root, FORENSYNTHS_SKETCH)
        missing = [f"{s}/" for s in ("train", "val", "test") if not (root / s).is_dir()]
        if missing:
            raise _incomplete("ForenSynths", root, missing, FORENSYNTHS_SKETCH)
        parts: list[tuple[str, str, Path]] = []
        for split in ("train", "val"):
            found = {c.name: c for c in sorted((root / split).iterdir()) if c.is_dir()}
            for cat in self.categories if self.categories is not None else list(found):
                parts.append((split, cat, found.get(cat, root / split / cat)))
        found = {g.name: g for g in sorted((root / "test").iterdir()) if g.is_dir()}
        for gen in self.test_generators if self.test_generators is not None else list(found):
            for folder in (_pairs(found[gen]) if gen in found else []) or [root / "test" / gen]:
                parts.append(("test", gen, folder))  # an empty or missing folder: check() names its 0_real/1_fake
        return root, parts

    def check(self) -> None:
        root, parts = self._parts()
        missing = [
            f"{folder.relative_to(root).as_posix()}/{c}/"
            for _, _, folder in parts
            for c in ("0_real", "1_fake")
            if not image_files(folder / c)
        ]
        missing += [f"{s}/<category>/" for s in ("train", "val", "test") if not any(p[0] == s for p in parts)]
        if missing:
            raise _incomplete("ForenSynths", root, missing, FORENSYNTHS_SKETCH)

    def prepare(self) -> None:
        self.check()

    def manifest(self) -> pd.DataFrame:
        self.check()
        root, parts = self._parts()
        rows: list[dict[str, object]] = []
        for split, subset, folder in parts:
            fake_method = "progan" if split != "test" else subset
            rows += class_rows(root, folder / "0_real", self.name, split, 0, "real", subset)
            rows += class_rows(root, folder / "1_fake", self.name, split, 1, fake_method, subset)
        return _frame(rows, self.reencode)


CHAMELEON_SKETCH = "<root>/0_real/*  and  <root>/1_fake/*   (Chameleon's test set: real photos, AI-generated images)"


class ChameleonSource:
    """Chameleon (Yan et al., AIDE, ICLR 2025): hard AI-generated images that people took for photos. A test set:
    every row is in ``split`` (``test``), for evaluating a detector trained elsewhere (``evaluate.py data=chameleon``).

    Args:
        root: the folder holding ``0_real/`` and ``1_fake/``.
        split: the split its rows get.
        reencode: re-encode real and fake alike (format-bias control); None: the files as released.
    """

    name = "chameleon"
    id_column = "image_id"

    def __init__(self, root: str | None, split: str = "test", reencode: Reencode | None = None) -> None:
        self.root = root
        self.split = split
        self.reencode = reencode

    def check(self) -> None:
        root = root_or_raise("Chameleon", self.root, CHAMELEON_SKETCH)
        missing = [f"{c}/" for c in ("0_real", "1_fake") if not image_files(root / c)]
        if missing:
            raise _incomplete("Chameleon", root, missing, CHAMELEON_SKETCH)

    def prepare(self) -> None:
        self.check()

    def manifest(self) -> pd.DataFrame:
        self.check()
        root = root_or_raise("Chameleon", self.root, CHAMELEON_SKETCH)
        rows = class_rows(root, root / "0_real", self.name, self.split, 0, "real", "chameleon")
        rows += class_rows(root, root / "1_fake", self.name, self.split, 1, "chameleon", "chameleon")
        return _frame(rows, self.reencode)


FOLDER_SKETCH = (
    "<root>/real/**/*.{jpg,png,webp,...} and <root>/fake/**/*  (fake/<generator>/... names the generator)\n"
    "or <root>/{train,val,test}/{real,fake}/... for fixed splits"
)


class ImageFolderSource:
    """Your own images: ``real/`` and ``fake/`` folders (``fake/<generator>/...`` names the generator).

    Without ``train/``, ``val/``, ``test/`` folders each image goes to a split by a hash of its path (stable when
    images are added). ``subset`` is the first folder below ``real/`` or ``fake/`` (``all`` for files directly in it).

    Args:
        root: the folder.
        val_fraction, test_fraction: shares of the hashed split.
        reencode: re-encode real and fake alike (format-bias control); None: the files as they are.
    """

    name = "image_folder"
    id_column = "image_id"

    def __init__(
        self,
        root: str | None,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        reencode: Reencode | None = None,
    ) -> None:
        self.root = root
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.reencode = reencode

    def _class_dirs(self) -> tuple[Path, dict[str, Path]]:
        root = root_or_raise("Image folder", self.root, FOLDER_SKETCH)
        if any((root / s).is_dir() for s in ("train", "val", "test")):
            return root, {f"{s}/{c}": root / s / c for s in ("train", "val", "test") for c in ("real", "fake")}
        return root, {c: root / c for c in ("real", "fake")}

    def check(self) -> None:
        root, dirs = self._class_dirs()
        missing = [f"{key}/" for key, d in dirs.items() if not image_files(d)]
        if missing:
            raise _incomplete("Image folder", root, missing, FOLDER_SKETCH)

    def prepare(self) -> None:
        self.check()

    def manifest(self) -> pd.DataFrame:
        self.check()
        root, dirs = self._class_dirs()
        rows: list[dict[str, object]] = []
        for key, folder in dirs.items():
            cls = key.rsplit("/", 1)[-1]
            for row in class_rows(root, folder, self.name, key.split("/")[0], REAL_DIRS[cls], "real", "all"):
                rel = Path(str(row["path"])).relative_to(folder)
                row["subset"] = rel.parts[0] if len(rel.parts) > 1 else "all"
                row["method"] = "real" if cls == "real" else (rel.parts[0] if len(rel.parts) > 1 else "fake")
                if "/" not in key:
                    u = stable_fraction(str(row["image_id"]))
                    row["split"] = (
                        "test" if u < self.test_fraction else "val" if u < self.test_fraction + self.val_fraction
                        else "train"
                    )  # fmt: skip
                rows.append(row)
        return _frame(rows, self.reencode)
