# spamgw: SMPP proxy (2775), FastAGI (4573), admin HTTP (8080)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install . && useradd --system --uid 10001 --home /app spamgw
COPY rules ./rules
COPY plugins ./plugins
COPY examples ./examples
RUN mkdir -p /var/lib/spamgw && chown -R spamgw /var/lib/spamgw /app/rules

USER spamgw
EXPOSE 2775 4573 8080
# mount your own config at /etc/spamgw/spamgw.toml (listen on 0.0.0.0 inside the container)
ENTRYPOINT ["spamgw"]
CMD ["run", "--config", "/etc/spamgw/spamgw.toml"]
