# OvenAI: `make run` and `make test` are the whole set-up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench drills drill-cluster install clean messages mutation

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# `make run PORT=9000` serves the product on 9000 and the simulator on 9001;
# SIM_PORT=... puts the simulator elsewhere.
PORT ?= 8000
run: $(STAMP)
	$(BIN)/ovenai serve --sandbox --port $(PORT)$(if $(SIM_PORT), --simulator-port $(SIM_PORT))

# lint-imports: the walls of docs/architecture.md ([tool.importlinter] in pyproject.toml).
# deptry: declared = imported. src/ may import runtime dependencies only; tests/ and bench/
# may use the dev ones too, but nothing undeclared ([tool.deptry] in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy
	$(BIN)/deptry src
	$(BIN)/deptry tests bench --ignore DEP002,DEP004
	$(BIN)/lint-imports --no-cache

# Branch coverage of every process the tests start (servers, workers, `ovenai` commands):
# [tool.coverage] in pyproject.toml; the total is printed last (under 90 % fails) and the
# per-module report kept in var/coverage/report.txt. The tests run in TEST_JOBS processes
# (pytest-xdist; each has its own databases and temporary folders): `make test TEST_JOBS=1`
# runs them one at a time, in one process. A test still running after TEST_TIMEOUT seconds
# fails with every thread's stack (pytest-timeout): a hang costs one test, not the whole run
# (the longest test, a drill's short form, takes under 2 minutes).
TEST_JOBS ?= 2
TEST_TIMEOUT ?= 600
test: lint
	@scripts/ensure-chromium.sh
	@scripts/ensure-nginx.sh
	@rm -rf var/coverage && mkdir -p var/coverage
	$(BIN)/coverage run -m pytest $(if $(filter 1,$(TEST_JOBS)),,-n $(TEST_JOBS)) --timeout=$(TEST_TIMEOUT)
	@$(BIN)/coverage combine --quiet
	@echo "screenshots of the browser tests (docs/testing.md): var/test-artifacts/screenshots/"
	@$(BIN)/coverage report > var/coverage/report.txt; status=$$?; \
		grep '^TOTAL' var/coverage/report.txt; exit $$status

# The long drills of tests/drills (docs/drills.md), about 44 minutes; not part of `make test`,
# which runs their short forms. The webhook parser fuzzed (atheris, then hypothesis: over 10
# minutes in all) and schemathesis over every operation of /api/v1/openapi.json against a
# real `ovenai serve --sandbox`, with an admin's token and with none; then faults against
# real serve and worker processes (about 10 minutes): PostgreSQL cut for 10 s at a loopback
# proxy, the Cloud API failing, duplicated and reordered webhooks, serve killed (SIGKILL).
drills: $(STAMP)
	$(BIN)/pytest tests/drills -m drills -s

# The cluster drill's long form alone (docs/drills.md "A cluster"; `make drills` runs it too):
# network namespaces as hosts (PostgreSQL, two serve behind nginx, two workers, the simulator
# as Meta), one serve and one worker killed with SIGKILL mid-run. Root only (it skips
# otherwise, saying why); about 3 minutes.
drill-cluster: $(STAMP)
	@scripts/ensure-nginx.sh
	$(BIN)/pytest tests/drills/test_cluster.py -m drills -s

# The headline benchmarks of bench/README.md and the peer (pywa, installed by the bench in its
# own virtualenv var/bench-peer-venv, never in .venv) in one run, about 11 minutes on the
# 2-core box; the dated summary table is printed and written to bench/results/<date>.md.
# `make bench BENCH_ARGS=--quick`: every step, shortened (a smoke run; its table is not kept).
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || apt-get install -y -q wrk >/dev/null 2>&1 || echo "bench: wrk is needed for the webhook benchmark (apt-get install wrk)"
	$(BIN)/python -m bench $(BENCH_ARGS)

# Mutation testing (docs/testing.md), not part of `make test`: mutmut on the modules where a
# silent bug costs most, each group with its own tests ([tool.mutmut.groups] in pyproject.toml);
# fails when a mutant survives unlisted in tests/mutation/equivalent.toml.
# `make mutation GROUPS="phones outbox"` runs some groups only (as make's argument: bash ignores
# an assignment to GROUPS, its own variable, so `GROUPS=... make mutation` runs every group).
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py $(GROUPS)

# The dashboard's catalogs: extract every msgid (babel.cfg: templates, and _/gettext/ngettext/N_
# in src/ovenai/web) and update both languages' .po files; then translate what is new or fuzzy
# (tests/web/dashboard/test_i18n.py fails until every entry has a translation).
LOCALE := src/ovenai/web/locale
messages: $(STAMP)
	$(BIN)/pybabel --quiet extract -F babel.cfg --add-location=file --sort-by-file \
		--project=OvenAI -o $(VENV)/messages.pot src/ovenai/web
	$(BIN)/pybabel --quiet update -i $(VENV)/messages.pot -d $(LOCALE) -D messages --ignore-obsolete \
		--ignore-pot-creation-date

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
