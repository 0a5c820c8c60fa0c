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
# Debian packages the apps and tests use: espeak-ng (speech corpus, TTS), chromium (browser tests), ffmpeg,
# a CJK font (Chinese in the browser screenshots), WordNet (control's instruction synonyms), OSMesa (MuJoCo's
# offscreen rendering of the robot arm); vit's camera scenes: typefaces and wallpapers to train on, the
# reserved typefaces its held-out set is rendered from (URW base35, DejaVu; WenQuanYi above), Xvfb (window test);
# asr: festival + festvox-kdlpc16k (a second training synthesiser) and its Italian, Finnish and Czech voices
# (English with an accent), flite + sox (held-out evaluation speech).
SYSTEM_PACKAGES := espeak-ng chromium chromium-driver ffmpeg fonts-wqy-zenhei wordnet-base libosmesa6 \
	fonts-noto-core fonts-liberation2 fonts-freefont-ttf fonts-lato fonts-open-sans fonts-roboto-unhinted \
	fonts-cantarell gnome-backgrounds mate-backgrounds desktop-base ukui-wallpapers lomiri-wallpapers \
	lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 visp-images-data fonts-urw-base35 fonts-dejavu-core xvfb \
	festival festvox-kdlpc16k festvox-italp16k festvox-itapc16k festvox-suopuhe-lj festvox-suopuhe-mv \
	festvox-czech-dita festvox-czech-machac flite sox

.PHONY: run test test-compat lint bench system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

# On a Jetson the pip OpenCV wheel goes again, so that JetPack's GStreamer cv2 (csi://) is the one imported.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --progress-bar off -e '.[all,dev]'
	$(if $(JETSON),$(BIN)/python scripts/keep_system_opencv.py)
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

# The main job: live ViT classification. 'apps prepare vit' builds the offline default model once (a few
# minutes on 2 cores, then instant); 'apps run vit' reads camera 0 when /dev/video0 exists, else a generated
# clip, and runs headless without a display. RUN_ARGS passes more, e.g. RUN_ARGS="--output http://0.0.0.0:8090".
run: $(VENV)/.installed
	$(BIN)/apps prepare vit
	$(BIN)/apps run vit $(RUN_ARGS)

# ruff; Python 3.10 compatibility; the layering contracts (pyproject's [tool.importlinter]); no import cycle
# and no private name imported between any two modules of core/ and plugins/.
lint: $(VENV)/.installed
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/vermin -q -t=3.10- --no-tips --violations --eval-annotations $(SOURCES)
	$(BIN)/lint-imports
	$(BIN)/python scripts/check_imports.py

test: $(VENV)/.installed system-deps lint
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/apps bench all

clean:
	rm -rf $(VENV) $(COMPAT) .pytest_cache .ruff_cache *.egg-info

# Compatibility: the suite again with transformers 4.57.x (the line that still supports Python 3.10), in a
# second venv that sees the main venv's packages but shadows transformers and what it pins.
COMPAT := .venv-compat
# kernels (a dependency of transformers 5) adds a setuptools egg_info writer; its releases from 0.13 on
# need huggingface-hub >= 1, so the compat venv shadows it with one that imports beside hub 0.x.
COMPAT_PINS := 'transformers>=4.57,<4.58' 'huggingface-hub>=0.34,<1.0' 'tokenizers>=0.22,<=0.23.0' gradio datasets \
	'kernels>=0.10,<0.13'

$(COMPAT)/.installed: $(VENV)/.installed
	rm -rf $(COMPAT) && $(PYTHON) -m venv $(COMPAT)
	main=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	compat=$$($(COMPAT)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	echo "import site; site.addsitedir('$$main')" > $$compat/zz_main_venv.pth
	$(COMPAT)/bin/python -m pip install --quiet --upgrade pip setuptools
	$(COMPAT)/bin/python -m pip install --quiet --progress-bar off $(COMPAT_PINS)
	touch $@

test-compat: $(COMPAT)/.installed system-deps
	$(COMPAT)/bin/python -c 'import transformers, sys; print("transformers", transformers.__version__, "on Python", sys.version.split()[0])'
	$(COMPAT)/bin/python -m pytest
	$(BIN)/python scripts/check_wheels.py --python-version 3.10
