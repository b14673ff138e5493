# Two commands on a fresh machine with Python 3.11, 3.12 or 3.13, git and make:
#   make book   build the course site, executing every notebook (again: only those whose code changed)
#   make test   run the unit tests and every notebook under nbval
# and, after `make book` and `make book-student` (run if missing), with Debian's chromium installed:
#   make site-test   open every chapter page of both editions of the site in headless Chromium
# More:
#   make book-student       the student edition of the site (every solution taken out) in
#                           _build/student/_build/html, from the notebooks `make book` executed
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

.PHONY: book book-student test site-test test-portability data clean set-repository lock

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

# The executed notebooks are cached in _build/.jupyter_cache (execute_notebooks: cache), keyed by their
# code cells: a rebuild executes again only the notebooks whose code changed, and a fresh clone (or
# `make clean`) executes them all. --all re-reads every page all the same, so that -W sees every warning
# on every build. Outputs depend on more than a notebook's code: a change of aadlib or of the locked
# packages empties the cache, and one of chapter 05 or 06 (whose results chapter 07 reads) drops 07 from it.
JUPYTER_CACHE := _build/.jupyter_cache
_build/.executed-with: $(wildcard aadlib/*.py aadlib/registry/*) requirements.txt
	rm -rf $(JUPYTER_CACHE)
	mkdir -p _build && touch $@
_build/.executed-after: notebooks/05_gan_detection.ipynb notebooks/06_transfer_learning.ipynb _build/.executed-with | $(INSTALLED)
	$(PY) -c 'from jupyter_cache import get_cache; cache = get_cache("$(JUPYTER_CACHE)"); [cache.remove_cache(r.pk) for r in cache.list_cache_records() if r.uri.endswith("07_comparison.ipynb")]'
	touch $@

book: data _build/.executed-after
	$(VENV)/bin/jupyter-book build . -W --keep-going --all
	@echo "The course site: $(CURDIR)/_build/html/index.html"

# The same book with hide_solutions (book/_ext/student_edition.py writes its configuration and takes
# out the gated solutions); it renders the notebooks from the cache, executing only what is missing.
book-student: data _build/.executed-after
	mkdir -p _build/student
	$(PY) book/_ext/student_edition.py _config.yml > _build/student/_config.yml
	$(VENV)/bin/jupyter-book build . -W --keep-going --all --config _build/student/_config.yml --path-output _build/student
	@echo "The student edition: $(CURDIR)/_build/student/_build/html/index.html"

test: data
	$(PY) -m pytest tests notebooks --nbval-lax -p no:cacheprovider

site-test: $(INSTALLED)
	test -f _build/html/index.html || $(MAKE) book
	test -f _build/student/_build/html/index.html || $(MAKE) book-student
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
