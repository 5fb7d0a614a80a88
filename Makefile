# cutstream — every target sets up what it needs first (a pinned uv, the locked venv, models).
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
NODE_MODULES := $(TOOLS)/node/node_modules
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
SYNCED := $(VENV)/.synced
MODELS ?= u2net-int8 u2netp
export UV_PYTHON_DOWNLOADS := never

.PHONY: help setup models kcat chromium node screenshots run test lint format clean docs bench bench-rembg bench-encoders bench-e2e bench-memory bench-admission bench-batch bench-tenants bench-stack bench-scale bench-renditions profile quality precision bench-edges crossval canvas-pictures bench-isa

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(SYNCED): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --all-extras --compile-bytecode --python $(PYTHON)
	@touch $@

setup: $(SYNCED) ## Install the locked environment into .venv (uv bootstrapped into .tools)

models: $(SYNCED) ## Download and verify the models in MODELS (default: u2netp)
	$(BIN)/cutstream models pull $(MODELS)

run: models ## Run the whole service on the embedded stack (cutstream up)
	$(BIN)/cutstream up

kcat: ## Debian's kcat, for the test that walks through producing from other languages
	@command -v kcat >/dev/null || apt-get install -y -q kcat >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null && apt-get install -y -q kcat >/dev/null) \
		|| echo "warning: could not install kcat (apt-get install kcat); its test will fail"

node: ## Node.js, npm and ajv, for the tests that run the docs' Node snippets as written
	@command -v node >/dev/null && command -v npm >/dev/null || apt-get install -y -q nodejs npm >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null && apt-get install -y -q nodejs npm >/dev/null) \
		|| echo "warning: could not install node and npm (apt-get install nodejs npm); their tests will fail"
	@test -d $(NODE_MODULES)/ajv-formats || npm install --prefix $(TOOLS)/node --no-save --no-package-lock \
		--no-audit --no-fund --silent ajv@8.17.1 ajv-formats@3.0.1 \
		|| echo "warning: could not install ajv from npm; the schema test in Node will fail"

chromium: ## Debian's chromium, for the console's browser tests (Playwright drives it)
	@command -v chromium >/dev/null || apt-get install -y -q chromium >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null) \
		|| echo "warning: could not install chromium (apt-get install chromium); the console tests will fail"

test: models kcat chromium node ## Run the whole test suite (unit + integration on the real embedded stack)
	$(BIN)/pytest

screenshots: models chromium ## The console at 1440 and 390 px, into docs/img (README, docs/console.md)
	CUTSTREAM_SCREENSHOTS=docs/img $(BIN)/pytest -q tests/integration/test_console.py -k screenshots

lint: $(SYNCED) ## ruff check, ruff format --check, mypy, import contracts (layers)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(SYNCED) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## Remove the venv, tool cache and local state (not the model cache)
	rm -rf $(VENV) $(TOOLS) .cutstream .pytest_cache .mypy_cache .ruff_cache

docs: $(SYNCED) ## Regenerate docs/configuration.md, docs/options.md and schemas/json/
	$(BIN)/python -m streams.config.docs
	$(BIN)/python -m schemas.export

bench: $(SYNCED) ## Throughput: model only vs the remove path, u2netp and u2net, PNG and WebP; renditions
	$(BIN)/cutstream models pull u2netp u2net
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.renditions

bench-renditions: models ## Four renditions from one request vs one PNG vs four requests
	$(BIN)/python -m bench.renditions

profile: models ## Time per pipeline stage (where the time goes), into docs/benchmarks.md
	$(BIN)/python -m bench.profile

quality: $(SYNCED) ## MAE / max F / IoU / speed of each model and quality mode on ../shared/eval/sod-dev
	$(BIN)/cutstream models pull u2net-int8 u2netp u2net
	$(BIN)/python -m bench.quality

crossval: $(SYNCED) ## The best mode's curve by 5-fold cross-validation on sod-dev; out-of-fold scores
	$(BIN)/cutstream models pull u2net-int8 u2netp u2net
	$(BIN)/python -m bench.crossval

canvas-pictures: models ## Three subjects on three marketplace presets, into docs/img/presets.jpg
	$(BIN)/python -m bench.canvases

bench-edges: models ## Edge colours on a new background, with and without foreground estimation (sod-dev)
	$(BIN)/python -m bench.edges

precision: $(SYNCED) ## bf16 against f32 masks of each model on sod-dev (a CPU with native bf16)
	$(BIN)/cutstream models pull u2netp u2net
	$(BIN)/python -m bench.precision

REMBG_VENV := bench/out/rembg-venv
$(REMBG_VENV)/bin/rembg: | $(UV)
	$(UV) venv -q --python $(PYTHON) $(REMBG_VENV)
	VIRTUAL_ENV=$(REMBG_VENV) $(UV) pip install -q "rembg[cpu,cli]==2.0.86"

bench-isa: models ## Each model alone with oneDNN held to older instruction sets (no AMX, no VNNI, AVX2)
	$(BIN)/cutstream models pull u2net-int8 u2netp u2net
	$(BIN)/python -m bench.isa

bench-rembg: models $(REMBG_VENV)/bin/rembg ## rembg 2.0.86 vs cutstream remove, same images and weights
	$(BIN)/cutstream models pull u2net
	$(BIN)/python -m bench.rembg --rembg $(REMBG_VENV)/bin/rembg

bench-encoders: models ## PNG/WebP encoder settings compared on real cutouts
	$(BIN)/python -m bench.encoders

bench-memory: models ## Worker RSS under tiny PNGs that decode to 49 MP each, as inputs and as backdrops
	$(BIN)/python -m bench.memory

bench-e2e: models ## Images/s and latency through Kafka and S3, 1 and 2 workers; `submit` vs `remove` timed
	$(BIN)/python -m bench.e2e

bench-batch: models ## Bulk imports: planning 10k items, batch vs local rate, interactive p95 beside a batch
	$(BIN)/python -m bench.batch

bench-stack: models ## Idle CPU of `cutstream up`: fresh, after 20,000 records and 100 photos, after a restart
	$(BIN)/python -m bench.stack

bench-tenants: models ## One tenant's hostile batches beside another's batch and sync requests
	$(BIN)/python -m bench.tenants

bench-scale: models ## Scale-out: 1 vs 2 workers with one inference thread each, 72 images
	$(BIN)/python -m bench.scale

bench-admission: $(SYNCED) ## Latency metering adds per request at 100/s; ledger commands/s
	$(BIN)/python -m bench.admission
