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
CMD ["recsys", "serve", "--host", "0.0.0.0", "--port", "8000"]
