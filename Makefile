# pa3report: `make report` builds everything; `make test` checks the tool.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.pa3report-installed

# Options: PA3_DATA=path  QUICK=1  EXP=name  JOBS=n  NAME=.. SURNAME=..
ifdef PA3_DATA
export PA3_DATA
endif
ifdef NAME
export PA3_NAME := $(NAME)
endif
ifdef SURNAME
export PA3_SURNAME := $(SURNAME)
endif
QUICK_FLAG := $(if $(filter 1 yes true,$(QUICK)),--quick,)
JOBS ?= 1

.PHONY: report run runs list check test bench zip clean help

help:
	@echo "make report              run what is not cached, then build build/html/"
	@echo "make run EXP=name        retrain one experiment"
	@echo "make list                experiments and their cache status"
	@echo "make check               unanswered questions and broken answers"
	@echo "make test                the test suite"
	@echo "make zip NAME=.. SURNAME=..  the submission zip"
	@echo "options: PA3_DATA=path QUICK=1 NAME=.. SURNAME=.. (shown in the report header)"

# The virtual environment is made once; editing pyproject.toml reinstalls.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

runs: $(STAMP)
	$(PY) -m pa3report run --all $(QUICK_FLAG) --jobs $(JOBS)

# One process: trains what is missing (JOBS trajectories in parallel), then renders from the cache.
report: $(STAMP)
	$(PY) -m pa3report report $(QUICK_FLAG) --jobs $(JOBS)

run: $(STAMP)
	@test -n "$(EXP)" || { echo "error: name the experiment: make run EXP=p3_unet (make list shows them)" >&2; exit 2; }
	$(PY) -m pa3report run $(EXP) --force $(QUICK_FLAG)

check: $(STAMP)
	$(PY) -m pa3report check $(QUICK_FLAG)

# Re-renders the full report with the name in its header, then packages it.
zip: $(STAMP)
	$(PY) -m pa3report zip --name "$(NAME)" --surname "$(SURNAME)"

list: $(STAMP)
	$(PY) -m pa3report list $(QUICK_FLAG)

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench.py

clean:
	rm -rf build/html build/figures build/report.json build/*.zip
