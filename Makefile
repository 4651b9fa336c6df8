# The README's two commands are `make demo` and `make test`; both work on a fresh machine (Debian, root or sudo).
PY ?= python3

.PHONY: install deps demo test lint bench rust-test

install:
	$(PY) -m pip install -q '.[all]' -r requirements-dev.txt

# Real Redis for the response-cache tests; the tests start their own servers on loopback ports.
deps:
	@command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools; }

demo: install
	promptkey keys examples/

test: deps install
	$(PY) -m pytest -q -p no:cacheprovider tests

rust-test:
	cargo test --quiet

lint:
	cargo fmt --check
	cargo clippy --all-targets --quiet -- -D warnings
	ruff check .
	ruff format --check .
	$(PY) -m mypy.stubtest promptkey._core

bench: install
	$(PY) benches/report.py
