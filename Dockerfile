# syntax=docker/dockerfile:1
#
# The project's own services (gateway, worker, one-shot commands such as
# `topics create`, and the compose stack's `init` service) run from this one image. The entrypoint is the `regsosek` CLI;
# docker-compose.yml picks the command and configures everything through
# REGSOSEK_* environment variables (see `regsosek config`). Healthchecks live in
# the compose file, next to the ports they probe.
#
#   docker build -t regsosek-streaming .
#   docker run --rm regsosek-streaming config

# ---------------------------------------------------------------- build stage
FROM python:3.11-slim AS build

# A compiler for the dependencies that have no wheel on this architecture
# (faust-streaming's Cython extensions on arm64). It stays in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src

# Dependencies first, from the lock alone (every file checked against its hashes, the same
# pins `make setup` and CI install), so that a code change does not download them again.
# The lock includes the dev extra (one resolution for everything); its top-level tools are
# removed again so the image carries no test tooling.
COPY pyproject.toml requirements.lock ./
RUN /opt/venv/bin/pip install --require-hashes -r requirements.lock \
    && python -c "import re, tomllib; print('\n'.join(re.split('[ <>=!\\[;]', d, maxsplit=1)[0] for d in tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['dev']))" \
        > /tmp/dev-tools.txt \
    && /opt/venv/bin/pip uninstall --yes -r /tmp/dev-tools.txt

# Then the project itself (what .dockerignore lets through). `simulate` checks that
# the simulator's commands reached the group through their entry points.
COPY . .
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation . \
    && /opt/venv/bin/regsosek --help > /dev/null \
    && /opt/venv/bin/regsosek simulate --help > /dev/null

# -------------------------------------------------------------- runtime stage
FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="regsosek-streaming" \
      org.opencontainers.image.description="Regsosek streaming ingestion: Kafka -> Faust -> ClickHouse" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REGSOSEK_STATE_DIR=/data

# Non-root user with a fixed numeric id (Kubernetes' runAsNonRoot can check it);
# /data is its state directory and the mount point of the worker's volume.
RUN groupadd --system --gid 10001 regsosek \
    && useradd --system --uid 10001 --gid regsosek --create-home \
        --home-dir /home/regsosek --shell /usr/sbin/nologin regsosek \
    && install -d -o regsosek -g regsosek -m 0750 /data

COPY --from=build /opt/venv /opt/venv

# The compose `init` service (deploy/compose/init.py) makes the stack's CA and
# certificates with openssl, which Debian's ca-certificates brings along: fail
# the build here, not at the first `docker compose up`, if a base image drops it.
RUN openssl version > /dev/null

USER 10001:10001
WORKDIR /home/regsosek

# worker: /metrics, health, progress (REGSOSEK_WEB_PORT); gateway: field apps (REGSOSEK_GATEWAY_PORT)
EXPOSE 6066 8080

ENTRYPOINT ["regsosek"]
CMD ["--help"]
