# syntax=docker/dockerfile:1
# gpulens: the Python service with the built dashboard inside, one image,
# installed from the wheel the way `pip install gpulens` installs it.
#
# The backend serves the page, /api and /ws/gpu from one origin, exactly as
# `make start` does, so the WebSocket Origin check needs no configuration and
# the security headers are the ones the browser tests run against.
#
#   docker build -f deploy/docker/backend.Dockerfile -t gpulens .
#   docker run --rm --gpus all --pid=host -p 127.0.0.1:5000:5000 gpulens
#   docker run --rm -e TELEMETRY_PROVIDER=replay -p 127.0.0.1:5000:5000 gpulens   # no GPU: demo
#
# --gpus all needs the NVIDIA Container Toolkit on the host; it mounts
# libnvidia-ml and nvidia-smi (NVIDIA_DRIVER_CAPABILITIES=utility, below).
# --pid=host lets process names and owners be resolved: GPU pids are host pids.
# Inside, HOST=0.0.0.0 (a container must listen beyond its own loopback);
# publish the port on 127.0.0.1 or put nginx in front, and list the names the
# browser uses in ALLOWED_HOSTS (e.g. -e ALLOWED_HOSTS=gpu.example.com).
#
# Base images are pinned to exact tags. Pin the digests too when you build for
# production: docker buildx imagetools inspect python:3.12.12-slim-bookworm
ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm
ARG NODE_IMAGE=node:20.20.2-alpine

# --- the dashboard: npm ci && npm run build, as `make build` -----------------
FROM ${NODE_IMAGE} AS spa
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
RUN npm run build

# --- the wheel, with that dashboard inside: as `make dist` -------------------
# hatch_build.py takes the dashboard built above (GPULENS_PREBUILT_DASHBOARD=1)
# instead of running npm, so this stage needs no Node.
FROM ${PYTHON_IMAGE} AS wheel
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN pip install --no-cache-dir build==1.6.1
COPY pyproject.toml README.md LICENSE hatch_build.py ./
COPY src/ ./src/
COPY --from=spa /src/frontend/dist ./frontend/dist/
RUN GPULENS_PREBUILT_DASHBOARD=1 python -m build --wheel --outdir /dist .

# --- the virtual environment: the locked dependencies, then the wheel ---------
# Exactly what a user does on a host: pip install -r requirements.lock, then
# the wheel (the dashboard is inside the package, gpulens/static).
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/gpulens/.venv
COPY requirements.lock /tmp/requirements.lock
RUN /opt/gpulens/.venv/bin/pip install --no-cache-dir -r /tmp/requirements.lock
COPY --from=wheel /dist/ /tmp/dist/
RUN /opt/gpulens/.venv/bin/pip install --no-cache-dir --no-deps /tmp/dist/gpulens-*.whl

# --- runtime: the virtual environment, nothing else --------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 gpulens \
    && useradd --system --uid 10001 --gid gpulens --no-create-home \
       --home-dir /opt/gpulens --shell /usr/sbin/nologin gpulens \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/gpulens
COPY --from=builder /opt/gpulens/.venv /opt/gpulens/.venv
ENV PATH=/opt/gpulens/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=5000 \
    HISTORY_PATH=/var/lib/gpulens/history.db \
    NVIDIA_DRIVER_CAPABILITIES=utility
# The history store: keep it across containers with -v gpulens-history:/var/lib/gpulens.
VOLUME ["/var/lib/gpulens"]
WORKDIR /opt/gpulens
USER 10001:10001
EXPOSE 5000
# 200 while the server answers; a missing GPU shows as "degraded" in the body,
# which the dashboard explains, and does not make the container unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('PORT', '5000'), timeout=4)"]
CMD ["gpulens", "serve"]
