"""Serving: the HTTP API and web page around one model, with uvicorn."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from dfdet.predict.errors import PredictError
from dfdet.serve.app import create_app
from dfdet.serve.limits import ServeSettings
from dfdet.tasks.common import build, log
from dfdet.tasks.predict import build_predictor


def serve(cfg: DictConfig) -> None:
    """Loads ``cfg.model_path`` and serves it on ``cfg.host``:``cfg.port`` until interrupted (see conf/serve.yaml).

    Raises:
        PredictError: no model, or a model file that cannot be loaded.
    """
    import uvicorn

    if OmegaConf.is_missing(cfg, "model_path") or not cfg.get("model_path"):
        raise PredictError("model= is required: python serve.py model=<model.onnx|best.ckpt> [port=8000]")
    predictor = build_predictor(cfg)
    settings: ServeSettings = build(cfg.limits)
    app = create_app(predictor, settings)
    info = predictor.info
    log.info(
        "Serving %s (%s, %s, threshold %.3f) on http://%s:%d (workers %d, queue %d, upload limit %d bytes)",
        info.name, info.format, info.backbone, info.threshold, cfg.host, cfg.port, settings.workers,
        settings.queue_size, settings.max_upload_bytes,
    )  # fmt: skip
    try:
        uvicorn.run(
            app,
            host=str(cfg.host),
            port=int(cfg.port),
            log_level=str(cfg.log_level),
            limit_concurrency=int(cfg.max_connections),
            server_header=False,
        )
    finally:
        app.state.admission.shutdown()
