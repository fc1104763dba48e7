# proxylab: two commands on a fresh Debian/Ubuntu machine, as root:
#   make report   set everything up, run the seed scenarios on the local lab, render the report
#   make test     set everything up and run the test suite
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# Japanese scenario titles in charts: IPA Gothic (Debian fonts-ipafont-gothic, a 3.5 MB
# download, 12 MB installed) rather than fonts-noto-cjk (57 MB, 91 MB installed);
# report/charts.py falls back to either (and to the other CJK families it knows).
CJK_FONT_PACKAGE := fonts-ipafont-gothic fontconfig
# gcc: `pip install -e .` compiles the audit's reader (lib/proxylab/audit/_scan.c).
SYSTEM_PACKAGES := squid dnsmasq-base iproute2 curl gcc python3-venv python3-pip $(CJK_FONT_PACKAGE)
# Commands whose absence means the system packages are not installed yet.
SYSTEM_COMMANDS := squid dnsmasq ip curl gcc

.PHONY: all setup system venv squid6 node clients jdk test test-unit lint report publish-tools zenn bench clean lab-down lab notebook nbfilter

all: test

setup: system venv

# Installs only what is missing, so a set-up machine pays nothing. Services are
# never started by the package manager (a temporary policy-rc.d says no): the lab
# starts its own squid and dnsmasq inside its namespaces.
system:
	@missing=""; for c in $(SYSTEM_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	$(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	fc-list :lang=ja 2>/dev/null | grep -q . || missing="$$missing a-Japanese-font"; \
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

# The audit engines' extras come with the tests, so their tests run (pyspark and chdb
# are large wheels, ~1 GB installed; `pip install -e .` alone stays small).
EXTRAS ?= test,duckdb,chdb,spark

venv: $(VENV)/.installed nbfilter

$(VENV)/.installed: pyproject.toml setup.py lib/proxylab/audit/_scan.c
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@set -o pipefail; $(PY) -m pip install -q --upgrade pip 2>&1 | { grep -v '^WARNING: Location' || true; }
	@echo "installing proxylab and its dependencies into $(VENV)"
	@set -o pipefail; $(PY) -m pip install -q -e '.[$(EXTRAS)]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	@touch $@

# --- Squid 6 (the lab's default: the seed's proxy behaved like Squid >= 6.3) --------
# Debian 13's squid package in a minimal Debian 13 root of its own, made once with
# Debian's mmdebstrap from Debian's mirror (~40 MB, ~20 s) and cached in
# /var/cache/proxylab/; the host's libraries are untouched. A present root costs nothing.
squid6: setup
	@command -v mmdebstrap >/dev/null 2>&1 || { \
	  echo "installing mmdebstrap (Debian's tool for making a Debian root)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null; } || \
	  { echo "error: apt-get could not install mmdebstrap"; exit 1; }; }
	@$(VENV)/bin/proxylab lab setup --squid 6
# ----------------------------------------------------------------------------------


# Node.js functions (runtime: nodejs20.x): the real aws-lambda-ric and the Node
# probe's @aws-sdk/client-s3, from the npm registry into /var/cache/proxylab/node,
# once (about 70 s on a 2-core machine: the RIC builds its native client; then a
# no-op). nodejs22.x / nodejs24.x (Node from the registry, one RIC build each, about
# 90 s more apiece): `proxylab setup node`. Without them their tests skip, saying so.
node: venv
	@$(VENV)/bin/proxylab setup node --runtime nodejs20.x || echo "warning: Node.js runtimes not installed (see above); their tests will skip"

# The client matrix's optional clients (`proxylab clients`): Debian's Go and JDK, aiohttp
# and awscrt from PyPI, the Go and Java cell programs built into
# /var/cache/proxylab/clients, once (then a no-op). Without them their cells read
# "not installed: proxylab setup clients" and the matrix test skips those clients.
clients: venv
	@$(VENV)/bin/proxylab setup clients || echo "warning: matrix clients not installed (see above); their cells will say so"

# Debian's JDK for `proxylab audit --engine spark` (local mode) and its test: the one
# command is `make jdk` (= `proxylab setup jdk`: apt-get install default-jdk-headless,
# ~1 min, a no-op when a JDK is there). `make test` runs it; where it cannot install,
# the Spark test says how instead of running, and the rest of the suite needs no Java.
jdk: venv
	@$(VENV)/bin/proxylab setup jdk || echo "warning: no JDK (see above): the Spark engine's test will say how to install one"

# Zenn's own Markdown renderer (zenn-markdown-html, npm; ~15 s once, into
# /var/cache/proxylab/zenn): the test of `report --md-flavor zenn` renders with it.
ZENN_DIR := /var/cache/proxylab/zenn
zenn:
	@test -f $(ZENN_DIR)/node_modules/zenn-markdown-html/package.json || { \
	  command -v npm >/dev/null 2>&1 || { echo "warning: no npm: the Zenn rendering test will skip"; exit 0; }; \
	  mkdir -p $(ZENN_DIR) && cd $(ZENN_DIR) && { test -f package.json || echo '{"private":true}' > package.json; } && \
	  timeout 300 npm install --no-audit --no-fund --loglevel=error zenn-markdown-html@0.5.4 >/dev/null || \
	  echo "warning: zenn-markdown-html not installed: the Zenn rendering test will skip"; }

test: setup squid6 node clients zenn jdk
	$(VENV)/bin/proxylab lab down --all --quiet || true
	$(VENV)/bin/ruff check lib tests benchmarks
	$(VENV)/bin/pytest -q -ra

test-unit: setup
	$(VENV)/bin/pytest -q -m "not lab"

lint: venv
	$(VENV)/bin/ruff check lib tests benchmarks

# The report's PDF is printed by Debian's headless Chromium and checked with poppler's
# pdftoppm (every page must render); both are installed here when missing.
PUBLISH_PACKAGES := chromium poppler-utils
publish-tools:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (the report's PDF)"; \
	  if [ "$$(id -u)" != 0 ]; then echo "error: installing$$missing needs root"; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends $$missing >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } || \
	  { echo "error: apt-get could not install:$$missing"; exit 1; }; fi

report: setup squid6 publish-tools
	$(VENV)/bin/proxylab report --catalog seed --pdf
	@pages=$$(pdfinfo reports/seed/report.pdf | awk '/^Pages:/ {print $$2}'); \
	tmp=$$(mktemp -d); pdftoppm -r 30 -png reports/seed/report.pdf $$tmp/page; \
	made=$$(ls $$tmp | wc -l); rm -rf $$tmp; \
	if [ "$$made" != "$$pages" ] || [ "$$pages" = 0 ]; then \
	  echo "error: reports/seed/report.pdf: $$made of $$pages pages render"; exit 1; fi; \
	echo "reports/seed/report.pdf: all $$pages pages render"

# The audit is measured against chDB (PyPI, the `chdb` extra, installed by make venv) and GoAccess (Debian's
# goaccess, 1.7) in the same run; both are installed here once, only when missing.
bench: setup
	@command -v goaccess >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends goaccess >/dev/null 2>&1; } || echo "warning: goaccess not installed; the audit benchmark skips it"
	$(PY) benchmarks/run.py

lab-down: venv
	$(VENV)/bin/proxylab lab down --all

# --- notebooks -------------------------------------------------------------------
# JupyterLab on notebooks/, on 127.0.0.1 with a fresh token; the URL is printed.
lab notebook: venv
	$(VENV)/bin/proxylab notebook

# Git stores notebooks through a clean filter that drops outputs (.gitattributes names
# it), so JupyterLab's autosave never puts outputs into a commit. Written into this
# checkout's git config; a checkout that is not a git repository has nothing to filter.
nbfilter:
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  git config filter.proxylab-nbstrip.clean "$(PYTHON) lib/proxylab/report/nbstrip.py"; \
	  git config --unset filter.proxylab-nbstrip.required || true; fi

clean: lab-down
	rm -rf $(VENV) reports/*/ data/runs/*/ benchmarks/out
