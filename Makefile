# Two commands on a fresh machine with Python 3.11, git and make:
#   make book   build the course site, executing every notebook
#   make test   run the unit tests and every notebook under nbval
# and, after `make book`, with Debian's chromium installed:
#   make site-test   open every chapter page of the built site in headless Chromium
# Both create .venv if needed and install the pinned requirements and aadlib (editable) into it.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# TensorFlow's start-up banner (oneDNN, CPU features) is noise for readers and test logs.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: book test site-test data clean set-repository

$(INSTALLED): requirements.txt requirements-musicnn.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements-musicnn.txt
	$(PY) -m pip install --quiet --no-deps -e .
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

clean:
	rm -rf _build

# The repository URL lives in _config.yml (launch, repository and issues buttons); the Colab cell of
# every chapter and pyproject.toml repeat it, and tests/test_project.py checks that they agree.
# After forking or publishing: make set-repository URL=https://github.com/you/aad-book
CURRENT_URL := $(shell sed -n 's/^  url: //p' _config.yml)
set-repository:
	@test -n "$(URL)" || { echo "usage: make set-repository URL=https://github.com/you/aad-book"; exit 1; }
	sed -i 's#$(CURRENT_URL)#$(URL)#g' _config.yml pyproject.toml notebooks/*.ipynb
	@echo "repository URL: $(CURRENT_URL) -> $(URL)"
