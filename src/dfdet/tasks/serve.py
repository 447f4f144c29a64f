"""Serving: the HTTP API and web page around one model, with uvicorn."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from dfdet.predict.errors import PredictError
from dfdet.serve.access import AccessPolicy, bind_warning, is_loopback
from dfdet.serve.app import create_app
from dfdet.serve.jobs import JobSettings
from dfdet.serve.keys import AuthSettings
from dfdet.serve.limits import ServeSettings
from dfdet.serve.observe import configure_logging
from dfdet.serve.server import build_server
from dfdet.tasks.common import build, log
from dfdet.tasks.predict import build_predictor


def serve(cfg: DictConfig) -> None:
    """Loads ``cfg.model_path`` and serves it on ``cfg.host``:``cfg.port`` until interrupted (see conf/serve.yaml).

    Raises:
        PredictError: no model, a model file that cannot be loaded, or a non-local ``host`` with neither API keys
            nor ``access.auth_proxy=true``.
    """
    if OmegaConf.is_missing(cfg, "model_path") or not cfg.get("model_path"):
        raise PredictError("model= is required: python serve.py model=<model.onnx|best.ckpt> [port=8000]")
    host = str(cfg.host)
    settings: ServeSettings = build(cfg.limits)
    access: AccessPolicy = build(cfg.access).for_bound_host(host)
    configure_logging(str(cfg.get("log_format", "text")))
    auth: AuthSettings = build(cfg.auth)
    keys = auth.load()
    refusal = bind_warning(host, access.auth_proxy or bool(keys))
    if refusal is not None:  # open to every machine on the network: refuse rather than warn
        raise PredictError(f"refusing to start: {refusal}, or configure API keys (auth.keys_file= or DFDET_API_KEYS)")
    if keys and not is_loopback(host) and not access.auth_proxy:
        log.warning("API keys cross the network in clear text over plain HTTP: terminate TLS in a proxy in front")
    jobs: JobSettings | None = build(cfg.jobs) if cfg.get("jobs") else None
    predictor = build_predictor(cfg)
    app = create_app(predictor, settings, access, auth, jobs)
    info = predictor.info
    log.info(
        "Serving %s (%s, %s, threshold %.3f) on http://%s:%d (workers %d, queue %d, uploads %d, upload limit %d "
        "bytes; hosts %s; %d API keys; jobs %s)",
        info.name, info.format, info.backbone, info.threshold, host, cfg.port, settings.workers, settings.queue_size,
        settings.max_uploads, settings.max_upload_bytes, ", ".join(access.allowed_hosts), len(keys),
        jobs.db_path if jobs else "off",
    )  # fmt: skip
    server = build_server(
        app, host, int(cfg.port), settings.header_timeout_s, int(cfg.max_connections), str(cfg.log_level),
        own_logging=True,
    )  # fmt: skip
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it shut down on; uvicorn.run() swallows it likewise
        log.info("Stopped")
    finally:
        app.state.admission.shutdown()
        app.state.ops.close()
