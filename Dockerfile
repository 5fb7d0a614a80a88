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

# The default model (u2net-int8) is made from u2net at pull with NNCF (the `quantize`
# extra): installed for the pull and removed in the same layer, so workers never carry it.
ARG MODELS="u2net-int8 u2netp"
RUN uv sync --locked --no-dev --extra quantize --no-cache \
    && cutstream models pull ${MODELS} \
    && uv sync --locked --no-dev --no-cache \
    && rm -f /models/u2net.onnx

RUN useradd --system --uid 10001 cutstream
USER 10001
ENTRYPOINT ["cutstream"]
CMD ["worker"]
