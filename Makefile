# pa3report: `make report` builds everything; `make test` checks the tool; `make help` lists it all.
PYTHON ?= python3
# VENV=.venv: a private virtual environment, made on first use (downloads PyTorch, ~3 GB).
# VENV= (empty): use $(PYTHON) as it is, e.g. on Colab or a GPU machine that has torch already.
VENV ?= .venv
# SYSTEM_SITE=1: make .venv with --system-site-packages, so a torch installed on the machine is reused.
SYSTEM_SITE ?=
# Extra pip flags, e.g. PIP_FLAGS="--no-deps --no-build-isolation" on a machine without network.
PIP_FLAGS ?=

ifeq ($(strip $(VENV)),)
PY    := $(PYTHON)
STAMP := .pa3report-installed
else
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.pa3report-installed
endif

# Options: PA3_DATA=path PA3_BUILD=path QUICK=1 LISTS=a,b EXP=name JOBS=n DEVICE=.. NAME=.. SURNAME=..
ifdef PA3_DATA
export PA3_DATA
endif
ifdef PA3_BUILD
export PA3_BUILD
endif
ifdef NAME
export PA3_NAME := $(NAME)
endif
# DEVICE=cpu|cuda|mps: train there instead of the first of cuda, mps, cpu that PyTorch sees.
ifdef DEVICE
export PA3_DEVICE := $(DEVICE)
endif
ifdef SURNAME
export PA3_SURNAME := $(SURNAME)
endif
QUICK_FLAG := $(if $(filter 1 yes true,$(QUICK)),--quick,)
JOBS ?= 1
# LISTS=handout,sweep: train only these experiment lists (experiments/<name>.toml); empty: all.
LISTS ?=
LISTS_FLAG := $(if $(strip $(LISTS)),--lists "$(strip $(LISTS))",)

.PHONY: report run runs list check test test-all bench zip verify prune clean help

help:
	@echo "make report              train what is not cached, then write build/html/index.html"
	@echo "make report LISTS=handout  train only the handout's runs (README: what each list takes)"
	@echo "make report QUICK=1      a preview in minutes: 2 epochs on 1,000 images (start here)"
	@echo "make runs                train what is not cached, without the report"
	@echo "make run EXP=name        retrain one experiment"
	@echo "make list                experiments and their cache status"
	@echo "make check               every claim of the answers with its verdict; unanswered or broken answers"
	@echo "make zip NAME=.. SURNAME=..  the submission zip (needs the full report)"
	@echo "make verify ZIP=file.zip check a submission: retrain its cheapest runs from its own code"
	@echo "make prune               remove cached results the current list and code no longer produce"
	@echo "make test                the fast tests (about 2 minutes on 2 cores)"
	@echo "make test-all            every test, the slow ones too (what CI runs)"
	@echo "make bench               time the training engine (benchmarks/bench.py); AGAINST=rev: against that revision"
	@echo "make clean               remove the report and figures (keeps trained runs)"
	@echo "make help                this list"
	@echo "options:"
	@echo "  PA3_DATA=path           CIFAR-10 (folder or archive); remembered after the first use"
	@echo "  PA3_BUILD=path          where results go (default build/), e.g. a mounted drive"
	@echo "  QUICK=1                 preview runs (cached separately)"
	@echo "  LISTS=a,b               train only these lists of experiments/ (report, runs, list, zip);"
	@echo "                          the others' cached runs still show, the rest as not run"
	@echo "  JOBS=n                  train n runs at once (for machines with many cores)"
	@echo "  DEVICE=cpu|cuda|mps     where to train (default: the first of cuda, mps, cpu present)"
	@echo "  EXP=name                the experiment of make run"
	@echo "  NAME=.. SURNAME=..      the student, shown in the report header and the zip's name"
	@echo "  VENV=                   use PYTHON as it is, no virtual environment (Colab, GPU box)"
	@echo "  SYSTEM_SITE=1           let .venv see the machine's packages (reuse its torch)"
	@echo "  PYTHON=python3.x        the interpreter (3.10 to 3.13)"
	@echo "  PIP_FLAGS=..            extra pip flags, e.g. \"--no-deps --no-build-isolation\" offline"

# The environment is set up once; editing pyproject.toml installs again.
$(STAMP): pyproject.toml
ifneq ($(strip $(VENV)),)
	test -x $(PY) || $(PYTHON) -m venv $(if $(filter 1 yes true,$(SYSTEM_SITE)),--system-site-packages,) $(VENV)
	$(PY) -m pip install -q --upgrade pip
endif
	$(PY) -m pip install -q $(PIP_FLAGS) -e '.[dev]'
	touch $@

runs: $(STAMP)
	$(PY) -m pa3report run --all $(LISTS_FLAG) $(QUICK_FLAG) --jobs $(JOBS)

# One process: trains what is missing (JOBS trajectories in parallel), then renders from the cache.
report: $(STAMP)
	$(PY) -m pa3report report $(LISTS_FLAG) $(QUICK_FLAG) --jobs $(JOBS)

run: $(STAMP)
	@test -n "$(EXP)" || { echo "error: name the experiment: make run EXP=p3_unet (make list shows them)" >&2; exit 2; }
	$(PY) -m pa3report run $(EXP) --force $(QUICK_FLAG)

check: $(STAMP)
	$(PY) -m pa3report check $(QUICK_FLAG)

# Re-renders the full report with the name in its header, then packages it.
zip: $(STAMP)
	$(PY) -m pa3report zip --name "$(NAME)" --surname "$(SURNAME)" $(LISTS_FLAG)

# A grader's check of a submission: files as packed, page as recorded, cheapest runs retrained.
verify: $(STAMP)
	@test -n "$(ZIP)" || { echo "error: name the zip: make verify ZIP=ada-lovelace-pa3.zip" >&2; exit 2; }
	$(PY) -m pa3report verify "$(ZIP)"

list: $(STAMP)
	$(PY) -m pa3report list $(LISTS_FLAG) $(QUICK_FLAG)

prune: $(STAMP)
	$(PY) -m pa3report prune

# The fast set: the tests marked slow (parallel jobs, subprocess end-to-end runs, fuzzing) wait for test-all.
test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(PY) -m pytest -q

# AGAINST=rev: time this checkout's engine against git revision rev's, alternately in one run.
bench: $(STAMP)
	$(PY) benchmarks/bench.py$(if $(strip $(AGAINST)), --against "$(strip $(AGAINST))",)

# The build folder of the other targets: PA3_BUILD when set, else build/.
BUILD_DIR := $(if $(strip $(PA3_BUILD)),$(strip $(PA3_BUILD)),build)

clean:
	rm -rf "$(BUILD_DIR)/html" "$(BUILD_DIR)/figures" "$(BUILD_DIR)/report.json" "$(BUILD_DIR)"/*.zip
