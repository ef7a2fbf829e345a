# The hub as a container: the wheel, not an editable checkout, run by a non-root user.
# Docker is not available where this project is built and tested, so tests/test_wheel_install.py is the proof of
# these steps: it builds the wheel from the same folders (SOURCES there = the COPY lines below) with the same
# `pip wheel` command, installs it into a fresh environment (there with --no-deps: the dependencies come from the
# test's interpreter instead of PyPI), and runs `exchange serve` from an unrelated directory. Keep the two identical.

# --- build stage: the wheel from the project's tracked folders
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exchange ./exchange
COPY alembic ./alembic
COPY structures ./structures
COPY mappings ./mappings
RUN pip install --no-cache-dir "setuptools>=68" wheel \
 && pip wheel --no-deps --no-build-isolation -w /dist .

# --- run stage: dependencies from PyPI, then the wheel itself (not editable)
FROM python:3.11-slim
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/exchange-*.whl \
 && rm /tmp/exchange-*.whl \
 && useradd --create-home --uid 10001 exchange \
 && mkdir /data && chown exchange /data
USER exchange
WORKDIR /data
# SQLite in the volume by default; compose.yaml sets a PostgreSQL URL (postgresql://user:password@host:5432/db).
ENV EXCHANGE_DATABASE_URL=sqlite:////data/exchange.db \
    PYTHONUNBUFFERED=1
VOLUME /data
EXPOSE 8000
# /health answers while the process is alive; orchestrators should route traffic on /ready (database and schema).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
CMD ["exchange", "serve", "--host", "0.0.0.0", "--port", "8000"]
