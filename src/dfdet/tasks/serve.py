"""Serving: the HTTP API and web page around one model, with uvicorn."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from dfdet.predict.errors import PredictError
from dfdet.serve.access import AccessPolicy, bind_warning
from dfdet.serve.app import create_app
from dfdet.serve.limits import ServeSettings
from dfdet.serve.server import build_server
from dfdet.tasks.common import build, log
from dfdet.tasks.predict import build_predictor


def serve(cfg: DictConfig) -> None:
    """Loads ``cfg.model_path`` and serves it on ``cfg.host``:``cfg.port`` until interrupted (see conf/serve.yaml).

    Raises:
        PredictError: no model, or a model file that cannot be loaded.
    """
    if OmegaConf.is_missing(cfg, "model_path") or not cfg.get("model_path"):
        raise PredictError("model= is required: python serve.py model=<model.onnx|best.ckpt> [port=8000]")
    host = str(cfg.host)
    settings: ServeSettings = build(cfg.limits)
    access: AccessPolicy = build(cfg.access).for_bound_host(host)
    warning = bind_warning(host, access.auth_proxy)
    if warning is not None:
        log.warning(warning)
    predictor = build_predictor(cfg)
    app = create_app(predictor, settings, access)
    info = predictor.info
    log.info(
        "Serving %s (%s, %s, threshold %.3f) on http://%s:%d (workers %d, queue %d, uploads %d, upload limit %d "
        "bytes; hosts %s)",
        info.name, info.format, info.backbone, info.threshold, host, cfg.port, settings.workers, settings.queue_size,
        settings.max_uploads, settings.max_upload_bytes, ", ".join(access.allowed_hosts),
    )  # fmt: skip
    server = build_server(
        app, host, int(cfg.port), settings.header_timeout_s, int(cfg.max_connections), str(cfg.log_level)
    )
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it shut down on; uvicorn.run() swallows it likewise
        log.info("Stopped")
    finally:
        app.state.admission.shutdown()
