# Two commands on a fresh machine with Python 3.11, 3.12 or 3.13, git and make:
#   make book   build the course site, executing every notebook
#   make test   run the unit tests and every notebook under nbval
# and, after `make book`, with Debian's chromium installed:
#   make site-test   open every chapter page of the built site in headless Chromium
# More:
#   make test-portability   every notebook under nbval in four numeric settings (benchmarks/portability.py);
#                           SETTINGS="avx2" NOTEBOOKS="notebooks/03_*.ipynb" narrow it
#   make lock               regenerate the lock requirements.txt from requirements.in
# All create .venv if needed and install the locked requirements (requirements.txt, every package
# pinned with its hashes) and aadlib (editable) into it, then check the result with `pip check`.

SUPPORTED_PYTHONS := 3.11 3.12 3.13
PYTHON ?= $(firstword $(foreach version,$(SUPPORTED_PYTHONS),$(shell command -v python$(version))) $(shell command -v python3))
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# TensorFlow's start-up banner (oneDNN, CPU features) is noise for readers and test logs.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: book test site-test test-portability data clean set-repository lock

$(INSTALLED): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] not in [tuple(map(int, v.split("."))) for v in "$(SUPPORTED_PYTHONS)".split()])' 2>/dev/null \
		|| { echo "error: aad-book needs Python 3.11, 3.12 or 3.13 (NumPy 2.4 needs 3.11 or later; TensorFlow 2.21 has no wheels for 3.14), but '$(PYTHON)' is $$($(PYTHON) --version 2>/dev/null || echo 'not found'); install one of them, or run make PYTHON=/path/to/python3.12."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) \
		|| { rm -rf $(VENV); echo "error: '$(PYTHON) -m venv' could not create $(VENV); on Debian or Ubuntu install the python3-venv package (for example python3.11-venv) and run make again."; exit 1; }
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $@

data: $(INSTALLED)
	$(PY) -m aadlib fetch anomaly_mini

book: data
	$(VENV)/bin/jupyter-book build . -W --keep-going
	@echo "The course site: $(CURDIR)/_build/html/index.html"

test: data
	$(PY) -m pytest tests notebooks --nbval-lax -p no:cacheprovider

site-test: $(INSTALLED)
	test -f _build/html/index.html || $(MAKE) book
	$(PY) -m pytest tests_site -p no:cacheprovider

# Fails if any notebook fails in any setting; writes benchmarks/portability.md either way.
SETTINGS ?= default avx2 onednn-off threads-1
NOTEBOOKS ?= $(wildcard notebooks/*.ipynb)
test-portability: data
	$(PY) benchmarks/portability.py run --settings $(SETTINGS) -- $(NOTEBOOKS); status=$$?; \
		$(PY) benchmarks/portability.py report; exit $$status

clean:
	rm -rf _build

# requirements.in holds the direct requirements; uv resolves them for every platform (--universal:
# Linux, macOS, Windows) and writes every package with its hashes. uv is used for this only, from
# its own environment; pip installs the lock.
UV_VERSION := 0.13.9
lock:
	test -x .venv-lock/bin/uv || { $(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet uv==$(UV_VERSION); }
	.venv-lock/bin/uv pip compile --universal --generate-hashes --python-version 3.11 --quiet requirements.in -o requirements.txt

# The repository URL and the git ref the chapters' Colab cells install from live in _config.yml
# (repository.url, repository.branch: also the launch, repository and issues buttons); the Colab
# cell of every chapter and pyproject.toml repeat them, and tests/test_project.py checks that they agree.
# After forking or publishing: make set-repository URL=https://github.com/you/aad-book
# For a release, pin the chapters to its tag: make set-repository REF=v0.2.0 (then tag that commit v0.2.0).
CURRENT_URL := $(shell sed -n 's/^  url: //p' _config.yml)
CURRENT_REF := $(shell sed -n 's/^  branch: //p' _config.yml)
NEW_URL = $(or $(URL),$(CURRENT_URL))
NEW_REF = $(or $(REF),$(CURRENT_REF))
set-repository:
	@test -n "$(URL)$(REF)" || { echo "usage: make set-repository [URL=https://github.com/you/aad-book] [REF=v0.2.0]"; exit 1; }
	sed -i 's#git+$(CURRENT_URL)@$(CURRENT_REF)#git+$(NEW_URL)@$(NEW_REF)#g' notebooks/*.ipynb
	sed -i 's#^  url: $(CURRENT_URL)$$#  url: $(NEW_URL)#; s#^  branch: $(CURRENT_REF)$$#  branch: $(NEW_REF)#' _config.yml
	sed -i 's#$(CURRENT_URL)#$(NEW_URL)#g' pyproject.toml
	@echo "repository: $(CURRENT_URL)@$(CURRENT_REF) -> $(NEW_URL)@$(NEW_REF)"
