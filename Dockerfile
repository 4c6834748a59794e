# syntax=docker/dockerfile:1
# One image recipe for every process. SERVICE names what to install: one service
# (auth, tasks, agent, edge) or several separated by spaces (the `migrate` job uses
# "auth tasks edge"). Build: docker build --build-arg SERVICE=tasks -t todo-tasks .
#
# builder: uv installs the locked dependencies, then the workspace packages as regular
#          (non-editable) wheels, into /app/.venv. Every dependency ships a wheel for
#          CPython 3.11 on Linux, so no compiler is needed even here.
# runtime: the same slim Python, the venv, a non-root user. No uv, no build tools, no sources.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ARG SERVICE
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=<auth|tasks|agent|edge>" >&2; exit 1)
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src

# Layer 1: third-party dependencies, rebuilt only when the lock or a pyproject changes.
COPY pyproject.toml uv.lock ./
COPY libs/protos/pyproject.toml libs/protos/pyproject.toml
COPY libs/common/pyproject.toml libs/common/pyproject.toml
COPY testkit/pyproject.toml testkit/pyproject.toml
COPY services/auth/pyproject.toml services/auth/pyproject.toml
COPY services/tasks/pyproject.toml services/tasks/pyproject.toml
COPY services/agent/pyproject.toml services/agent/pyproject.toml
COPY edge/pyproject.toml edge/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    packages=""; for s in $SERVICE; do packages="$packages --package todo-$s"; done; \
    uv sync --frozen --no-dev --no-install-workspace $packages

# Layer 2: the gRPC code, generated from protos/ as `make setup` does (it is not committed),
# by the codegen tools in a throw-away environment of their own, so none of them ships.
COPY protos protos
COPY scripts/gen_protos.py scripts/gen_protos.py
RUN --mount=type=cache,target=/root/.cache/uv \
    UV_PROJECT_ENVIRONMENT=/tmp/codegen uv sync --frozen --only-group codegen --no-install-workspace \
 && /tmp/codegen/bin/python scripts/gen_protos.py \
 && rm -rf /tmp/codegen

# Layer 3: our own packages.
COPY libs libs
COPY services services
COPY edge edge
RUN --mount=type=cache,target=/root/.cache/uv \
    packages=""; for s in $SERVICE; do packages="$packages --package todo-$s"; done; \
    uv sync --frozen --no-dev --no-editable $packages

FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app
COPY --from=builder /app/.venv /app/.venv
COPY docker/healthcheck.py /usr/local/bin/healthcheck.py
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SERVICE=${SERVICE}
WORKDIR /app
USER app:app
# `exec` so the service is PID 1's process and receives SIGTERM (graceful drain).
# Compose names the command explicitly; this default serves the (first) built service.
CMD ["sh", "-c", "set -- $SERVICE; exec todo-$1 serve"]
