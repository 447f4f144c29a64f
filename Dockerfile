# The dfdet server (serve.py) on CPU, from the committed uv.lock. See docs/deployment.md, "Operations".
#   docker build -t dfdet .
#   docker run -p 127.0.0.1:8000:8000 -v "$PWD/deploy:/models:ro" -v dfdet-data:/data \
#       -e DFDET_API_KEYS="alice sha256:<hex>" dfdet model=/models/best.onnx
# The server listens on 0.0.0.0 inside the container, so it refuses to start without API keys (DFDET_API_KEYS or
# auth.keys_file=/path/in/a/mount) or access.auth_proxy=true (an authenticating proxy in front).
FROM python:3.11-slim

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never PYTHONUNBUFFERED=1

# libglib2.0-0: OpenCV (albumentations) needs it even in its headless build
RUN apt-get update && apt-get install -y --no-install-recommends libglib2.0-0 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-install-project
COPY src ./src
COPY conf ./conf
COPY serve.py predict.py export.py ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev

# Unprivileged; /data holds the job database, job uploads and Hydra's run folders (keep it as a volume).
RUN useradd --system --uid 10001 --home-dir /data --create-home dfdet
USER dfdet
ENV PATH=/app/.venv/bin:$PATH DFDET_ROOT=/data
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["python", "/app/serve.py", "host=0.0.0.0", "port=8000"]
CMD ["model=/models/model.onnx"]
