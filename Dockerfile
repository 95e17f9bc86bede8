# The engine's image (docker-compose.yml builds it).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hypermarket ./hypermarket
COPY config ./config
RUN pip install --no-cache-dir .
STOPSIGNAL SIGTERM
CMD ["python", "-m", "hypermarket", "run", "--config", "/app/config/compose.yaml"]
