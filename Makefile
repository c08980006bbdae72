# The two commands that matter:  make run  (start everything)  and  make test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := libs/score-common libs/score-devenv libs/score-ops $(wildcard services/*)

.PHONY: install run stop stop-all status sample inspect test test-unit clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps $(addprefix -e ,$(PACKAGES))
	@touch $@

install: $(VENV)/.installed

## Start RabbitMQ, FerretDB (or the servers named in AMQP_URI / MONGODB_URI) and all five services.
run: install
	$(BIN)/score-dev up

stop:
	$(BIN)/score-dev down

stop-all:
	$(BIN)/score-dev down --all

status:
	$(BIN)/score-dev status

## Publish samples/partner-enrollment.json as a partner would (pika).
sample:
	$(BIN)/score-dev sample

## Show what each service holds in its own database.
inspect:
	$(BIN)/score-dev inspect

## Unit, integration, contract, deployment and end-to-end tests on the real servers.
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: install
	$(BIN)/pytest -m "not integration and not e2e" $(PYTEST_ARGS)

clean: stop
	rm -rf $(VENV) var
