# Security helpdesk bot: container image. See docs/docker.md.
#
#   docker build -t helpdesk-bot .
#   docker run -v ./config.yaml:/app/config/config.yaml:ro -v helpdesk-data:/app/data \
#       -e HELPDESK_MATRIX__PASSWORD=... -p 8080:8080 helpdesk-bot

# --- builder: install the project and its dependencies into a self-contained venv ---
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Only what the wheel needs: the packages are `bot` and `migrations` (pyproject.toml).
COPY pyproject.toml ./
COPY bot ./bot
COPY migrations ./migrations
# A non-editable install: the runtime needs only /opt/venv, not /src.
RUN pip install --no-cache-dir . \
    && helpdesk-bot --help > /dev/null

# --- runtime: the venv, the shipped defaults, a non-root user ---
FROM python:3.11-slim-bookworm AS runtime

# A fixed uid/gid so volume ownership is predictable and `runAsNonRoot` can verify it.
RUN groupadd --system --gid 10001 helpdesk \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin helpdesk

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The shipped playbooks and tips live outside the config volume, so mounting a config
# directory (or only config.yaml) never hides them. The example config is for reference.
COPY config/config.example.yaml config/playbooks.yaml config/tips.yaml /app/defaults/
# /app/data must belong to the bot: a fresh named volume inherits this ownership.
RUN mkdir -p /app/config /app/data/store \
    && chown -R 10001:10001 /app/data

# Environment wins over config.yaml (bot/config.py), so only what must differ in a
# container is set here. database.url and matrix.store_path keep their relative defaults
# (data/helpdesk.db, data/store), which resolve to the /app/data volume from WORKDIR /app,
# and stay overridable in config.yaml.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HELPDESK_CONFIG=/app/config/config.yaml \
    HELPDESK_WEB__HOST=0.0.0.0 \
    HELPDESK_WEB__PORT=8080 \
    HELPDESK_INCIDENTS__PLAYBOOKS_FILE=/app/defaults/playbooks.yaml \
    HELPDESK_TIPS__FILE=/app/defaults/tips.yaml

VOLUME ["/app/config", "/app/data"]
USER 10001:10001
EXPOSE 8080

# Liveness only (/readyz also needs a finished sync). Slim images have no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# The bot stops syncing, flushes queued replies and closes the database on SIGTERM.
STOPSIGNAL SIGTERM
ENTRYPOINT ["helpdesk-bot"]
CMD ["run"]
