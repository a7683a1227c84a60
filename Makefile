# probefuzz -- developer and CI entry points (GNU make).
#
# Works as root on a fresh Debian bookworm: `deps` installs the missing Debian
# packages, `venv` the Python environment, `kernel-tree` the cached kernel tree.
# Every step is idempotent and close to instant when already done.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall the venv only when pyproject.toml changes.
VENV_STAMP := $(VENV)/.probefuzz-installed
PYTEST_WORKERS ?= 2
# mypy checks the packages and the bench scripts (bench/ has no __init__.py:
# explicit_package_bases in pyproject.toml names its files bench.<module>)
TYPED_PACKAGES := harness corpus mutators fuzz bench

# Debian packages the project runs (see corpus/hosttools.py TOOLS):
#   device-tree-compiler: dtc      coccinelle: spatch     linux-source-6.12: the tree
#   swig: builds pylibfdt          gcc-aarch64-linux-gnu + cpp: preprocess arm64 .dts
#   xz-utils + tar: extract the tree
#   flex bison bc libssl-dev libelf-dev: kbuild host tools for `apply --build`
#   qemu-system-arm ccache cpio: `validate` builds an arm64 Image and boots it
DEB_PACKAGES := device-tree-compiler coccinelle linux-source-6.12 swig \
	gcc gcc-aarch64-linux-gnu cpp git perl make xz-utils tar \
	flex bison bc libssl-dev libelf-dev qemu-system-arm ccache cpio

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# pytest exits 5 when it selected no test; that is not a failure here.
PYTEST_OK_IF_NONE = || { rc=$$?; [ $$rc -eq 5 ] || exit $$rc; echo "(no tests selected)"; }

.PHONY: help deps venv kernel-tree test test-slow mutation-check lint bench demo clean distclean

help:
	@echo "make demo         install what is missing, then show the RK3568 regression"
	@echo "make test         install what is missing, then ruff, mypy and the fast tests"
	@echo "make test-slow    the slow and quality (seeded-bug) tests, then mutation-check"
	@echo "make mutation-check  break named behaviours one at a time; the fast tests must notice"
	@echo "make lint         ruff + mypy only"
	@echo "make bench        run bench/*.py"
	@echo "make deps         apt-get install the missing Debian packages (root or sudo)"
	@echo "make venv         .venv with 'pip install -e .[dev]'"
	@echo "make kernel-tree  prepare ~/.cache/probefuzz/linux-source-6.12 (about a minute once)"
	@echo "make clean        remove caches; 'make distclean' also removes .venv"

# Query dpkg first so that a machine with everything installed never touches apt.
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		case "$$(dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null || true)" in \
			*" installed") ;; \
			*) missing="$$missing $$p" ;; \
		esac; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	echo "deps: installing$$missing"; \
	$(SUDO) apt-get update -q; \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	dtc --version >/dev/null && spatch --version >/dev/null && test -f /usr/src/linux-source-6.12.tar.xz

venv: $(VENV_STAMP)

# `| deps`: swig must exist before pip builds pylibfdt, but a deps run must not
# force a reinstall (order-only prerequisite).
$(VENV_STAMP): pyproject.toml | deps
	@if [ ! -x $(BIN)/python ]; then \
		if ! $(PYTHON) -c 'import ensurepip' 2>/dev/null; then \
			$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv; \
		fi; \
		echo "venv: creating $(VENV) with $$($(PYTHON) --version)"; \
		$(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

kernel-tree: venv
	$(BIN)/probefuzz kernel-tree

lint: venv
	@status=0; \
	echo "== ruff check ."; $(BIN)/ruff check . || status=1; \
	echo "== mypy $(TYPED_PACKAGES)"; $(BIN)/mypy $(TYPED_PACKAGES) || status=1; \
	echo "== lint-imports (pyproject.toml [tool.importlinter])"; \
	$(BIN)/lint-imports --no-cache --no-logo || status=1; \
	exit $$status

# Lint and tests both run so one report shows everything; the exit status is
# non-zero if either failed.
test: deps venv kernel-tree
	@status=0; \
	$(MAKE) lint || status=1; \
	echo "== pytest -m 'not slow' -n $(PYTEST_WORKERS)"; \
	( $(BIN)/pytest -m "not slow" -n $(PYTEST_WORKERS) $(PYTEST_OK_IF_NONE) ) || status=1; \
	exit $$status

test-slow: deps venv kernel-tree
	@status=0; \
	( $(BIN)/pytest -m "slow or quality" -n $(PYTEST_WORKERS) $(PYTEST_OK_IF_NONE) ) || status=1; \
	$(MAKE) mutation-check || status=1; \
	exit $$status

# Each named mutation (tests/mutation_check.py) is applied to a temporary copy of
# the project and must make a fast test fail; survivors are listed, exit 1.
mutation-check: deps venv kernel-tree
	$(BIN)/python tests/mutation_check.py

bench: deps venv kernel-tree
	@status=0; ran=0; \
	for f in bench/[!_]*.py; do \
		[ -e "$$f" ] || continue; \
		ran=1; echo "== $$f"; \
		$(BIN)/python "$$f" || status=1; \
	done; \
	[ $$ran -eq 1 ] || echo "bench: no bench/*.py yet"; \
	exit $$status

# Exit status 1 from a verb means "findings", which is what the demo shows.
demo: deps venv kernel-tree
	@tree="$$($(BIN)/probefuzz kernel-tree | sed -n 1p)"; \
	dts="$$tree/arch/arm64/boot/dts/rockchip/rk3568-odroid-m1.dts"; \
	echo "== the regression: NEXT (linux-next at bcb81ac6ae3c) booting $${dts#$$tree/}"; \
	echo "   expect the rk_iommu_of_xlate NULL dereference reported on linux-next"; \
	$(BIN)/probefuzz repro --variant NEXT "$$dts" || [ $$? -eq 1 ]; \
	echo "== probefuzz explore: fuzz the guard variants around NEXT on the bundled boards, rank them"; \
	out=probefuzz-out/demo; \
	$(BIN)/probefuzz explore --out "$$out" || { rc=$$?; \
		if [ $$rc -eq 2 ]; then \
			echo "   ($$out is the demo's own campaign from other code: starting it afresh)"; \
			rm -rf "$$out"; $(BIN)/probefuzz explore --out "$$out" || [ $$? -eq 1 ]; \
		else [ $$rc -eq 1 ]; fi; }; \
	echo "== next: probefuzz apply --variant NEXT --tree $$tree, then probefuzz propose --variant ID --tree $$tree --base-ref probefuzz/NEXT --out /tmp/series (see README)"

# The prepared kernel tree is kept (it is a cache outside the repo):
# rm -rf ~/.cache/probefuzz to drop it.
clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis build out
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
