"""Audio networks (front-end included) export to ONNX as one graph and match onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dfdet.models.audio import LCNN
from dfdet.models.frontends import LFCC, LogMel, RawWaveform
from dfdet.models.rawnet import RawNet2


@pytest.mark.parametrize(
    "build",
    [
        lambda: LCNN(LFCC(), channels=(4, 4, 4, 4, 4), embedding=8),
        lambda: LCNN(LogMel(n_mels=32), channels=(4, 4, 4, 4, 4), embedding=8),
        lambda: RawNet2(RawWaveform(), sinc_channels=8, block_channels=(8, 8, 8), gru_hidden=8),
    ],
    ids=["lcnn_lfcc", "lcnn_logmel", "rawnet2"],
)
def test_onnx_export_matches_torch(build, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    net = build().eval()
    path = tmp_path / "net.onnx"
    x = 0.1 * torch.randn(2, 8000)
    torch.onnx.export(
        net, (x,), str(path), input_names=["wave"], output_names=["logit"], dynamic_axes={"wave": {0: "batch"}},
        dynamo=False, opset_version=17,
    )  # fmt: skip
    session = ort.InferenceSession(str(path))
    for batch in (x, 0.1 * torch.randn(3, 8000)):
        out = session.run(None, {"wave": batch.numpy()})[0]
        with torch.no_grad():
            assert np.allclose(out, net(batch).numpy(), atol=1e-5)
