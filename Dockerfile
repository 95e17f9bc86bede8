# The engine's image (docker-compose.yml builds it). The first stage compiles the
# pure core with mypyc into a wheel (the full python image has a C compiler);
# the second installs only that wheel and its dependencies. Both stages are the
# same Debian release, so the compiled modules find the glibc they were built for.
FROM python:3.11-bookworm AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY hypermarket ./hypermarket
RUN HYPERMARKET_USE_MYPYC=1 pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
WORKDIR /app
COPY --from=build /wheels /wheels
COPY config ./config
RUN pip install --no-cache-dir /wheels/*.whl && rm -r /wheels
STOPSIGNAL SIGTERM
CMD ["python", "-m", "hypermarket", "run", "--config", "/app/config/compose.yaml"]
