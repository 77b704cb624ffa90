PY ?= python3

.PHONY: install test lint demo bench
install:
	$(PY) -m pip install -q -e '.[dev]'

test:
	$(PY) -m pytest -q tests

lint:
	$(PY) -m ruff check gateway tests loadtest plugins
	$(PY) -m mypy

demo:
	$(PY) -m gateway.demo

bench:
	$(PY) loadtest/bench_engine.py
	$(PY) loadtest/bench_lists.py
