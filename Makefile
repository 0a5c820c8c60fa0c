# transformer-apps. On a fresh machine two commands are enough:
#   make run    create .venv, install, run the main job (live vit classification)
#   make test   create/update .venv with the dev extra, run the quality gates and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# On a Jetson, reuse JetPack's CUDA torch and system OpenCV (GStreamer) from the system site-packages.
JETSON := $(wildcard /etc/nv_tegra_release)
VENV_FLAGS := $(if $(JETSON),--system-site-packages)
SOURCES := core plugins tests examples benchmarks
# Debian packages the apps and tests use: espeak-ng (speech corpus, TTS), chromium (browser tests), ffmpeg.
SYSTEM_PACKAGES := espeak-ng chromium chromium-driver ffmpeg

.PHONY: run test lint bench system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --progress-bar off -e '.[all,dev]'
	touch $@

system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing system packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "note: system packages missing ($$missing); tests that need them are skipped." \
		     "Install with: sudo apt-get install $$missing"; \
	fi

run: $(VENV)/.installed
	$(BIN)/apps list

lint: $(VENV)/.installed
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/vermin -q -t=3.10- --no-tips --violations --eval-annotations $(SOURCES)

test: $(VENV)/.installed system-deps lint
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/apps bench all

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
