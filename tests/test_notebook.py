"""The quickstart notebook runs top to bottom (with the tiny settings), so it never goes stale."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # a Jupyter kernel runs the whole notebook
def test_quickstart_notebook_executes(tmp_path: Path, monkeypatch, data_dir: Path) -> None:
    monkeypatch.setenv("DFDET_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("DFDET_NOTEBOOK_DIR", str(tmp_path))
    monkeypatch.setenv("DFDET_DATA_DIR", str(data_dir))
    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # ROC and histogram shown
    assert (tmp_path / "eval" / "metrics.json").is_file()
