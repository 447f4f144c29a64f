"""Released checkpoints of other code bases converted into this project's networks (timm layouts).

Each converter is a callable ``converter(state, net) -> state`` that maps the tensors of a released file (already
read by :func:`read_state`) onto the ``state_dict`` of ``net``, the plain timm network the matching
``conf/published/<name>.yaml`` builds; :mod:`dfdet.tasks.import_weights` loads the result strictly, applies the
model's tuning strategy and writes a checkpoint in train.py's layout. Two-class heads (softmax over real/fake, class
1 = fake) become this project's single fake logit: ``softmax(z)[1] = sigmoid(z_1 - z_0)``, so the head is the
difference of the two rows and every probability is unchanged.

Sources and the layouts read (each proved by a parity test in ``tests/models/test_published.py``):

- :class:`SBI`: Shiohara & Yamasaki, CVPR 2022 (mapooon/SelfBlendedImages): ``{"model": Detector.state_dict()}``,
  ``net.*`` an ``efficientnet_pytorch`` EfficientNet-B4 with a 2-class ``_fc``, onto timm's ``tf_efficientnet_b4``
  (the same network: TF "same" padding, BN eps 1e-3, SiLU).
- :class:`DeepfakeBenchXception`: DeepfakeBench (SCLBD/DeepfakeBench) ``xception`` detector, ``backbone.*`` the
  FaceForensics++ Xception (``last_linear``), onto timm's ``legacy_xception`` (the same module tree).
- :class:`DeepfakeBenchEfficientNetB4`: DeepfakeBench's ``efficientnetb4`` detector: ``backbone.efficientnet.*`` an
  ``efficientnet_pytorch`` B4 (image_size 380) whose stem is an unpadded ``nn.Conv2d``, run at 256 px, and
  ``backbone.last_layer`` 2-class; onto ``tf_efficientnet_b4`` with the stem unpadded and the other "same" paddings
  frozen at their 380-px values (:func:`dfdet.models.static_padding.build_static_padding_backbone`): at 256 px timm's
  dynamic padding would differ in the stride-2 layers.
- :class:`DeepfakeBenchCLIP`: DeepfakeBench's ``clip`` detector: ``backbone.*`` a transformers
  ``CLIPVisionTransformer`` and ``head.*`` a 2-class linear layer on its ``pooler_output``.
- :class:`UnivFD`: Ojha et al., CVPR 2023: ``fc.weight``/``fc.bias`` (or ``weight``/``bias``) on CLIP's projected
  image embedding, plus the CLIP ViT-L/14 encoder from a second file (OpenAI layout ``visual.*`` or transformers
  layout ``vision_model.*`` with ``visual_projection``); CLIP's projection is folded into the linear head.
- :class:`GenD`: Yermakov et al., WACV 2026 (yermandy/GenD, the Hugging Face ``GenD`` model):
  ``feature_extractor.vision_model.*`` (transformers CLIP) and ``model.linear.*`` applied to the L2-normalised
  ``pooler_output``.
- :class:`Effort`: Yan et al., ICML 2025 (DeepfakeBench's ``effort`` detector): ``backbone.*`` a transformers CLIP
  vision tower whose attention projections are SVD residual layers (``weight_main``, ``U_residual``, ``S_residual``,
  ``V_residual``, ``bias``), ``head.*`` 2-class; each projection is recombined (W_main + U diag(S) V).
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from dfdet.errors import CheckpointError, ModelConfigError

State = dict[str, torch.Tensor]
_WRAPPERS = ("state_dict", "model", "model_state_dict", "net")


def read_state(path: str | os.PathLike, what: str = "weights") -> State:
    """The tensors of a released file: ``.safetensors``, a ``torch.save`` file (read with ``weights_only=True``;
    nested under ``state_dict``/``model``/... and DataParallel's ``module.`` prefix unwrapped) or a TorchScript
    archive (OpenAI's CLIP release).

    Raises:
        ModelConfigError: the file is missing.
        CheckpointError: it holds no tensors this function can read.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelConfigError(f"{what}={path} does not exist: put the released file there (docs/foundation_models.md)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return _unwrap(load_file(str(path)), path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types; a TorchScript archive is tried next
        if not (zipfile.is_zipfile(path) and _is_torchscript(path)):
            raise CheckpointError(f"{what}={path} is not a readable PyTorch file ({type(exc).__name__})") from None
        obj = torch.jit.load(str(path), map_location="cpu").state_dict()
    return _unwrap(obj, path)


def _is_torchscript(path: Path) -> bool:
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("constants.pkl") for name in archive.namelist())


def _unwrap(obj: object, path: Path) -> State:
    while isinstance(obj, Mapping) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{path} holds no state dict (a mapping of parameter names to tensors)")
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def take(state: Mapping[str, torch.Tensor], prefix: str, source: str) -> State:
    """The tensors under ``prefix`` (stripped). Raises CheckpointError naming ``source`` when there are none."""
    out = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not out:
        sample = ", ".join(list(state)[:4])
        raise CheckpointError(f"not a {source} checkpoint: no '{prefix}*' tensors (it holds {sample}, ...)")
    return out


def fake_logit(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A (2, D) real/fake head as one fake logit: rows 1 - 0 (softmax(z)[1] = sigmoid(z_1 - z_0))."""
    if weight.shape[0] != 2:
        raise CheckpointError(f"expected a 2-class head, got {tuple(weight.shape)}")
    return weight[1:] - weight[:1], bias[1:] - bias[:1]


def _linear(state: Mapping[str, torch.Tensor], name: str) -> torch.Tensor:
    """``name``'s weight, recombined from Effort's SVD residual parts when it has them."""
    if f"{name}.weight" in state:
        return state[f"{name}.weight"]
    main, u, s, v = (state[f"{name}.{p}"] for p in ("weight_main", "U_residual", "S_residual", "V_residual"))
    return main + (u * s) @ v


def hf_clip_vision(state: Mapping[str, torch.Tensor]) -> State:
    """A transformers ``CLIPVisionTransformer`` state (``embeddings.*``, ``pre_layrnorm``, ``encoder.layers.N``,
    ``post_layernorm``; no ``vision_model.`` prefix) as timm's CLIP ``VisionTransformer`` (``pre_norm``)."""
    out: State = {
        "cls_token": state["embeddings.class_embedding"].reshape(1, 1, -1),
        "pos_embed": state["embeddings.position_embedding.weight"].unsqueeze(0),
        "patch_embed.proj.weight": state["embeddings.patch_embedding.weight"],
    }
    for src, dst in (("pre_layrnorm", "norm_pre"), ("post_layernorm", "norm")):
        out[f"{dst}.weight"], out[f"{dst}.bias"] = state[f"{src}.weight"], state[f"{src}.bias"]
    layers = sorted({int(m.group(1)) for k in state if (m := re.match(r"encoder\.layers\.(\d+)\.", k))})
    for i in layers:
        src, dst = f"encoder.layers.{i}", f"blocks.{i}"
        attn = f"{src}.self_attn"
        out[f"{dst}.attn.qkv.weight"] = torch.cat([_linear(state, f"{attn}.{p}_proj") for p in "qkv"])
        out[f"{dst}.attn.qkv.bias"] = torch.cat([state[f"{attn}.{p}_proj.bias"] for p in "qkv"])
        out[f"{dst}.attn.proj.weight"] = _linear(state, f"{attn}.out_proj")
        out[f"{dst}.attn.proj.bias"] = state[f"{attn}.out_proj.bias"]
        for a, b in (
            ("layer_norm1", "norm1"),
            ("layer_norm2", "norm2"),
            ("mlp.fc1", "mlp.fc1"),
            ("mlp.fc2", "mlp.fc2"),
        ):
            out[f"{dst}.{b}.weight"], out[f"{dst}.{b}.bias"] = state[f"{src}.{a}.weight"], state[f"{src}.{a}.bias"]
    return out


_OPENAI_SWAPS = (
    ("conv1.", "patch_embed.proj."), ("transformer.resblocks.", "blocks."), ("ln_pre.", "norm_pre."),
    ("ln_post.", "norm."), (".ln_1.", ".norm1."), (".ln_2.", ".norm2."), ("attn.in_proj_", "attn.qkv."),
    ("attn.out_proj.", "attn.proj."), ("mlp.c_fc.", "mlp.fc1."), ("mlp.c_proj.", "mlp.fc2."),
)  # fmt: skip


def openai_clip_visual(state: Mapping[str, torch.Tensor]) -> tuple[State, torch.Tensor]:
    """OpenAI CLIP's ``visual.*`` layout as timm's CLIP ViT, and the projection ``proj`` (D, E) kept apart."""
    visual = take(state, "visual.", "OpenAI CLIP")
    out: State = {}
    for key, value in visual.items():
        if key in ("proj", "class_embedding", "positional_embedding"):
            continue
        for old, new in _OPENAI_SWAPS:
            key = key.replace(old, new)
        out[key] = value
    out["cls_token"] = visual["class_embedding"].reshape(1, 1, -1)
    out["pos_embed"] = visual["positional_embedding"].unsqueeze(0)
    return out, visual["proj"]


def _classifier_name(net: nn.Module) -> str:
    """The module name of ``net``'s classifier (timm's ``get_classifier()``)."""
    head = net.get_classifier()  # type: ignore[operator]
    return next(n for n, m in net.named_modules() if m is head)


def _with_head(net: nn.Module, body: State, weight: torch.Tensor, bias: torch.Tensor) -> State:
    """``body`` plus the classifier of ``net`` (timm's ``get_classifier()``) under its own name."""
    name = _classifier_name(net)
    return {**body, f"{name}.weight": weight, f"{name}.bias": bias}


def pair_in_order(body: Mapping[str, torch.Tensor], net: nn.Module, source: str) -> State:
    """``body``'s tensors onto ``net``'s ``state_dict`` without its classifier, paired in order (two module trees
    that hold the same tensors in the same order under other names), each pair checked for shape.

    Raises:
        CheckpointError: the counts differ or a pair's shapes do not fit, naming both tensors.
    """
    head = f"{_classifier_name(net)}."
    expected = {k: v for k, v in net.state_dict().items() if not k.startswith(head)}
    if len(body) != len(expected):
        raise CheckpointError(f"{source}: {len(body)} tensors in the file, {len(expected)} in {type(net).__name__}")
    out: State = {}
    for (src, value), (dst, like) in zip(body.items(), expected.items(), strict=True):
        if value.shape != like.shape:
            raise CheckpointError(f"{source}: {src} {tuple(value.shape)} does not fit {dst} (a different network?)")
        out[dst] = value
    return out


class SBI:
    """SBI's released EfficientNet-B4 (``efficientnet_pytorch``) onto timm's ``tf_efficientnet_b4``.

    The two module trees hold the same tensors in the same order (stem, blocks with expand / depthwise / SE /
    project convolutions and their BNs, head); they are paired in order (:func:`pair_in_order`).
    """

    def __call__(self, state: Mapping[str, torch.Tensor], net: nn.Module) -> State:
        source = take(state, "net.", "SBI (efficientnet_pytorch Detector)")
        body = pair_in_order({k: v for k, v in source.items() if not k.startswith("_fc.")}, net, "SBI")
        return _with_head(net, body, *fake_logit(source["_fc.weight"], source["_fc.bias"]))


class DeepfakeBenchXception:
    """DeepfakeBench's ``xception`` detector onto timm's ``legacy_xception`` (same tree; ``last_linear`` -> ``fc``;
    the unused ``adjust_channel`` branch of ``mode: original`` is dropped)."""

    def __call__(self, state: Mapping[str, torch.Tensor], net: nn.Module) -> State:
        backbone = take(state, "backbone.", "DeepfakeBench xception")
        head = {k.rsplit(".", 1)[-1]: v for k, v in backbone.items() if k.startswith("last_linear.")}
        body = {k: v for k, v in backbone.items() if not k.startswith(("last_linear.", "adjust_channel."))}
        return _with_head(net, body, *fake_logit(head["weight"], head["bias"]))


class DeepfakeBenchEfficientNetB4:
    """DeepfakeBench's ``efficientnetb4`` detector onto timm's ``tf_efficientnet_b4`` with efficientnet_pytorch's
    padding (:mod:`dfdet.models.static_padding`): ``backbone.efficientnet.*`` an efficientnet_pytorch B4 whose stem is
    an unpadded ``nn.Conv2d`` and whose ``_fc`` is ``nn.Identity``, paired in order (:func:`pair_in_order`);
    ``backbone.last_layer`` the 2-class head on the average-pooled features (the unused ``adjust_channel`` branch of
    ``mode: original`` is dropped)."""

    def __call__(self, state: Mapping[str, torch.Tensor], net: nn.Module) -> State:
        backbone = take(state, "backbone.", "DeepfakeBench efficientnetb4")
        efficientnet = take(backbone, "efficientnet.", "DeepfakeBench efficientnetb4")
        body = pair_in_order(efficientnet, net, "DeepfakeBench efficientnetb4")
        head = take(backbone, "last_layer.", "DeepfakeBench efficientnetb4")
        return _with_head(net, body, *fake_logit(head["weight"], head["bias"]))


class DeepfakeBenchCLIP:
    """DeepfakeBench's ``clip`` detector (transformers CLIP vision tower + 2-class head on ``pooler_output``)."""

    def __call__(self, state: Mapping[str, torch.Tensor], net: nn.Module) -> State:
        body = hf_clip_vision(take(state, "backbone.", "DeepfakeBench clip"))
        return _with_head(net, body, *fake_logit(state["head.weight"], state["head.bias"]))


class Effort(DeepfakeBenchCLIP):
    """Effort (DeepfakeBench's ``effort`` detector): as :class:`DeepfakeBenchCLIP`, the SVD residual attention
    projections recombined into plain weights (the model's ``svd_residual`` strategy then decomposes them again)."""


class GenD:
    """GenD's Hugging Face model: transformers CLIP under ``feature_extractor.vision_model.`` and a 2-class linear
    head ``model.linear`` on the L2-normalised feature (this project's ``layernorm`` strategy's head)."""

    def __call__(self, state: Mapping[str, torch.Tensor], net: nn.Module) -> State:
        body = hf_clip_vision(take(state, "feature_extractor.vision_model.", "GenD"))
        return _with_head(net, body, *fake_logit(state["model.linear.weight"], state["model.linear.bias"]))


class UnivFD:
    """UnivFD: a linear layer on CLIP ViT-L/14's projected image embedding; the projection is folded into it.

    Args:
        encoder: the CLIP weights file (OpenAI's ``ViT-L-14.pt`` or any state dict in OpenAI's ``visual.*`` layout,
            or transformers' ``openai/clip-vit-large-patch14`` ``model.safetensors``).
    """

    def __init__(self, encoder: str | None = None) -> None:
        self.encoder = encoder

    def __call__(self, state: Mapping[str, torch.Tensor], net: nn.Module) -> State:
        if self.encoder is None:
            raise ModelConfigError(
                "UnivFD needs the CLIP ViT-L/14 weights too: published.convert.encoder=/path/to/ViT-L-14.pt"
            )
        clip = read_state(self.encoder, "published.convert.encoder")
        if any(k.startswith("visual.") for k in clip):
            body, proj = openai_clip_visual(clip)
        else:
            body = hf_clip_vision(take(clip, "vision_model.", "CLIP (OpenAI or transformers layout)"))
            proj = clip["visual_projection.weight"].T
        weight = state.get("fc.weight", state.get("weight"))
        bias = state.get("fc.bias", state.get("bias"))
        if weight is None or bias is None:
            raise CheckpointError("not a UnivFD head: expected fc.weight / fc.bias (fc_weights.pth)")
        return _with_head(net, body, weight @ proj.T, bias)  # fc(proj^T x) = (W proj^T) x
