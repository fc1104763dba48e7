# proxylab: two commands on a fresh Debian/Ubuntu machine, as root:
#   make report   set everything up, run the seed scenarios on the local lab, render the report
#   make test     set everything up and run the test suite
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
SYSTEM_PACKAGES := squid dnsmasq-base iproute2 curl python3-venv python3-pip
# Commands whose absence means the system packages are not installed yet.
SYSTEM_COMMANDS := squid dnsmasq ip curl

.PHONY: all setup system venv node test test-unit lint report bench clean lab-down

all: test

setup: system venv

# Installs only what is missing, so a set-up machine pays nothing. Services are
# never started by the package manager (a temporary policy-rc.d says no): the lab
# starts its own squid and dnsmasq inside its namespaces.
system:
	@missing=""; for c in $(SYSTEM_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	$(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages (missing:$$missing)"; \
	  if [ "$$(id -u)" != 0 ]; then echo "error: installing system packages needs root (run as root or sudo make ...)"; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  own_policy=""; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1; fi; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; rc=$$?; \
	  [ -n "$$own_policy" ] && rm -f /usr/sbin/policy-rc.d; \
	  [ $$rc = 0 ] || { echo "error: apt-get could not install: $(SYSTEM_PACKAGES)"; exit 1; }; \
	  for s in squid dnsmasq; do (service $$s stop || true) >/dev/null 2>&1; done; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@set -o pipefail; $(PY) -m pip install -q --upgrade pip 2>&1 | { grep -v '^WARNING: Location' || true; }
	@echo "installing proxylab and its dependencies into $(VENV)"
	@set -o pipefail; $(PY) -m pip install -q -e '.[test]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	@touch $@

# Node.js functions (runtime: nodejs20.x): the real aws-lambda-ric and the Node
# probe's @aws-sdk/client-s3, from the npm registry into /var/cache/proxylab/node,
# once (about 70 s on a 2-core machine: the RIC builds its native client; then a
# no-op). nodejs22.x / nodejs24.x (Node from the registry, one RIC build each, about
# 90 s more apiece): `proxylab setup node`. Without them their tests skip, saying so.
node: venv
	@$(VENV)/bin/proxylab setup node --runtime nodejs20.x || echo "warning: Node.js runtimes not installed (see above); their tests will skip"

test: setup node
	$(VENV)/bin/proxylab lab down --all --quiet || true
	$(VENV)/bin/ruff check lib tests benchmarks
	$(VENV)/bin/pytest -q -ra

test-unit: setup
	$(VENV)/bin/pytest -q -m "not lab"

lint: venv
	$(VENV)/bin/ruff check lib tests benchmarks

report: setup
	$(VENV)/bin/proxylab report --catalog seed

bench: setup
	$(PY) benchmarks/run.py

lab-down: venv
	$(VENV)/bin/proxylab lab down --all

clean: lab-down
	rm -rf $(VENV) reports/*/ data/runs/*/ benchmarks/out
