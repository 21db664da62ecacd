# kt-unlearn: `make tutorial` runs the tutorial on the embedded world, `make test` runs the tests, `make check`
# the unit tier (pytest -m unit: losses, methods, step, loop, metrics, taxonomy, CLI errors; <= 60 s on 2 cores).
# Each creates .venv on first use and installs what it needs (pyproject.toml is the single source of
# dependencies). Override the torch wheels for your platform, e.g. make test TORCH_SPEC="torch torchvision".
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
BIN := $(VENV)/bin
STAMP := $(VENV)/.kt-installed
OUT ?= outputs
# pytest-xdist workers of `make test` (files dealt out whole), each on cores / TEST_JOBS threads (tests/conftest.py),
# its notebook kernels splitting its share (kt_harness/cli/tutorial.py kernel_threads)
TEST_JOBS ?= 2

.PHONY: tutorial test check world lab strip clean-cache

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install $(TORCH_SPEC)
	$(BIN)/python -m pip install -e ".[notebooks,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (kt-unlearn)"
	touch $(STAMP)

tutorial: $(STAMP)
	$(BIN)/kt tutorial --out $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile

check: $(STAMP)
	$(BIN)/python -m pytest -m unit

world: $(STAMP)
	$(BIN)/kt world --json $(OUT)/world.json --samples $(OUT)/world_samples.png

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

strip: $(STAMP)
	$(BIN)/nbstripout notebooks/*.ipynb

clean-cache:  # the repo-local test cache and this machine's run cache ($KT_CACHE/runs.jsonl, unlearn-requests/, models/)
	rm -rf .kt_cache
	rm -rf "$${KT_CACHE:-$$HOME/.cache/kt_lib}/runs.jsonl" "$${KT_CACHE:-$$HOME/.cache/kt_lib}/runs.jsonl.locks" "$${KT_CACHE:-$$HOME/.cache/kt_lib}/unlearn-requests" "$${KT_CACHE:-$$HOME/.cache/kt_lib}/models"
