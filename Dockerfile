# One image for all three programs (demo-as, scoped-tools-server, demo-client); docker-compose.yml
# picks the program with `command:`. Builds on machines without a container registry: the only
# image named here is the base, there is no `# syntax=` line and uv comes from PyPI, not an image.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# uv from PyPI, pinned to the version that wrote uv.lock.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

# Use the interpreter the base image ships (never download one), put the environment at a fixed
# path, and copy files out of uv's cache so the venv survives without it.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH

WORKDIR /app

# Dependencies first, from the lock file alone: this layer is rebuilt only when
# pyproject.toml or uv.lock change, not on every code edit.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project

# Then the three packages; installing the project itself is quick.
COPY README.md ./
COPY demo_as ./demo_as
COPY scoped_tools_server ./scoped_tools_server
COPY demo_client ./demo_client
RUN uv sync --locked --no-dev

# Run as an unprivileged user. /data holds the AS database, /lab-secret the lab secret the RS
# reads (named volumes in compose); creating them here, owned by that user and mode 0700 (the
# database holds the private signing key), makes a fresh named volume inherit both. The AS
# creates its files there 0600.
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/app app \
 && mkdir -p /data /lab-secret \
 && chown 10001:10001 /data /lab-secret \
 && chmod 0700 /data /lab-secret
USER 10001:10001
# Relative default paths (./data, the client's state directory) land in the user's home, which it
# can write; /app stays read-only for it.
WORKDIR /home/app

# The servers bind 127.0.0.1 by default; docker-compose.yml sets the listen address by
# environment (and explains why). Without compose, run e.g.
#   docker run --rm IMAGE demo-client --help
CMD ["demo-as", "--help"]
