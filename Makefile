# The README's two commands are `make demo` and `make test`; both work on a fresh machine (Debian, root or sudo).
PY ?= python3
# Reinstall (a release build of the extension) only when a source file changed since the last install.
STAMP := .install-stamp
SOURCES := Cargo.toml pyproject.toml requirements-dev.txt $(shell find rust python -type f -not -name '*.so' -not -path '*/__pycache__/*')

.PHONY: install deps demo test lint bench rust-test

$(STAMP): $(SOURCES)
	$(PY) -m pip install -q '.[all]' -r requirements-dev.txt
	@touch $@

install: $(STAMP)

# Real Redis for the response-cache tests; the tests start their own servers on loopback ports.
deps:
	@command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools; }

demo: install
	promptkey replay examples/trace.jsonl

test: deps install
	$(PY) -m pytest -q -p no:cacheprovider tests

rust-test:
	cargo test --quiet

lint:
	cargo fmt --check
	cargo clippy --all-targets --quiet -- -D warnings
	ruff check .
	ruff format --check .
	$(PY) -m mypy
	cd /tmp && $(PY) -m mypy.stubtest promptkey._core

bench: install
	$(PY) benches/report.py
