# The two commands in README.md: `make serve` and `make test`. Both set up .venv first (idempotent).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup serve test test-all

setup:
	bash scripts/setup.sh

serve: setup
	$(BIN)/xscreen serve

test: setup
	bash scripts/test.sh

test-all: setup
	$(BIN)/python -m pytest -m "" tests
