# spamgw: SMPP proxy (2775), FastAGI (4573), admin HTTP (8080)
#
#   docker build -t spamgw .
#   docker run -e SPAMGW_ADMIN_TOKEN="$(openssl rand -hex 24)" \
#     -p 2775:2775 -p 127.0.0.1:4573:4573 -p 127.0.0.1:8080:8080 \
#     -v spamgw-data:/var/lib/spamgw spamgw
#
# Config: /etc/spamgw/spamgw.toml (examples/docker/spamgw.toml; mount your own over it).
# Data (list journals, quarantine): /var/lib/spamgw, a volume, owned by the spamgw user.
# tests/admin/test_docker.py checks what this file promises and runs its config.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY gateway ./gateway
# gcc only while pip builds the compiled content scorer (gateway/content/_native.c)
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install . \
    && apt-get purge -y --auto-remove gcc libc6-dev && rm -rf /var/lib/apt/lists/* \
    && python -c "import gateway.content._native" \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/spamgw \
       --shell /usr/sbin/nologin spamgw
COPY rules ./rules
COPY plugins ./plugins
COPY examples ./examples
COPY examples/docker/spamgw.toml /etc/spamgw/spamgw.toml
# the shipped lists seed the data volume (a named volume starts as a copy of this)
RUN mkdir -p /var/lib/spamgw \
    && cp -r /app/rules/lists /var/lib/spamgw/lists \
    && chown -R spamgw:spamgw /var/lib/spamgw \
    && chmod 0644 /etc/spamgw/spamgw.toml

USER spamgw
VOLUME ["/var/lib/spamgw"]
EXPOSE 2775 4573 8080
# no curl in the slim image: the standard library asks /healthz
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4); sys.exit(0 if r.status == 200 else 1)"]
ENTRYPOINT ["spamgw"]
CMD ["run", "--config", "/etc/spamgw/spamgw.toml"]
