# The two commands a newcomer types: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench lint format

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# DEBUG off; the web server on $(PORT) (8000), the sandbox on the port of $(SANDBOX_URL).
demo: install
	$(BIN)/python manage.py rundemo

# Three pytest workers (pytest-xdist): most of the suite waits on the sandbox, the Celery
# worker or the browser (a lone CI with two ran 21 min at a load of 1 to 2), so
# three overlap well even on two cores (docs/testing.md). TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 3
# pytest rewrites the test modules' asserts at every collection, in each worker, and keeps no
# copy when PYTHONDONTWRITEBYTECODE is set (this machine, the Dockerfile): some 10 s of CPU a
# pytest process. The tests write their bytecode (__pycache__, ignored by git; docs/testing.md).
test: install
	bin/ensure-chromium
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: install
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
