# cutstream worker/CLI image: locked dependencies, no dev tools, no embedded stack,
# the default model baked in (verified by checksum at build time and again at load).
FROM python:3.11-slim

COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /usr/local/bin/uv
ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PATH=/app/.venv/bin:$PATH \
    CUTSTREAM_MODELS__DIR=/models \
    CUTSTREAM_STATE_DIR=/tmp/cutstream

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY schemas ./schemas
COPY processors ./processors
COPY streams ./streams
COPY cutstream ./cutstream
RUN uv sync --locked --no-dev

ARG MODELS=u2netp
RUN cutstream models pull ${MODELS}

RUN useradd --system --uid 10001 cutstream
USER 10001
ENTRYPOINT ["cutstream"]
CMD ["worker"]
