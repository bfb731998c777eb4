# recsys: the CLI and the serving API on a slim Python image.
#   docker build -t recsys . && docker run -p 8000:8000 -v "$PWD/data:/app/data" recsys
# The container serves the bundle in /app/data/bundle (make it with `recsys run`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    OPENBLAS_NUM_THREADS=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY recsys_cli ./recsys_cli
COPY conf ./conf
RUN pip install .

EXPOSE 8000
# the same command line tests/serve/test_dockerfile.py runs (no Docker daemon in CI)
CMD ["recsys", "serve", "serve.host=0.0.0.0", "serve.port=8000", "tracking=none"]
