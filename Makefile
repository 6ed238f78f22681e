# pixret_ros: the two commands are `make demo` and `make test` (both set up first).
# `make setup` creates .venv from requirements/venv.txt, builds the ROS interfaces with CMake
# and installs the package into the venv. Every step is a file target: re-running is a no-op,
# and an edit of Python sources costs one `cmake --install` (well under a second).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BUILD := build
VPY := $(VENV)/bin/python
STAMP_DEPS := $(VENV)/.deps-installed
STAMP_IFACE := $(BUILD)/.interfaces-built
STAMP_PY := $(BUILD)/.python-installed
PY_SOURCES := $(shell find pixret_ros -name '*.py' -not -path '*/__pycache__/*' 2>/dev/null) pixret_ros/py.typed
IFACE_SOURCES := $(wildcard msg/*.msg srv/*.srv cmake/*.cmake) CMakeLists.txt package.xml \
	scripts/launcher.py.in scripts/build_interfaces.sh pixret_ros/entry_points.py
SHARE_SOURCES := $(wildcard launch/* config/*)

# DDS for tests: loopback only, one domain per run, the shared-memory profile of config/.
TEST_ENV := ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST \
	ROS_DOMAIN_ID=$${ROS_DOMAIN_ID:-$$(( $$$$ % 100 + 1 ))} \
	FASTRTPS_DEFAULT_PROFILES_FILE=$(CURDIR)/config/fastdds_shm.xml \
	PYTHONPATH=$(CURDIR)

# colcon-test: colcon in a venv of its own; which ctest parts and pytest marks it runs there.
COLCON_VENV := .venv-colcon
STAMP_COLCON := $(COLCON_VENV)/.deps-installed
COLCON_TEST_PARTS ?= ^pixret_(evaluation|ros)$$
COLCON_TEST_MARK ?= installed

.PHONY: setup test lint unit colcon-test demo bench bench-node clean help
.DEFAULT_GOAL := help

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

setup: $(STAMP_PY)  ## create .venv, build the interfaces, install pixret_ros into it
	@$(TEST_ENV) $(VPY) -c 'import pixret_ros.msg, pixret_ros.srv, pixret_ros.engine, rclpy' \
		&& echo "setup: ok ($(VENV): rclpy, pixret_ros.msg/srv and pixret_ros.engine import)"

$(STAMP_DEPS): requirements/venv.txt requirements/runtime.txt tools/install_person_model.py
	@echo "setup: creating $(VENV) with the pins of requirements/ (about 2 minutes)"
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@$(VPY) -m pip install --disable-pip-version-check -r requirements/venv.txt \
		> $(VENV)/pip-install.log 2>&1 \
		|| { grep -v "is ignored" $(VENV)/pip-install.log | tail -30; exit 1; }
	@$(VPY) tools/install_person_model.py
	@touch $@

$(STAMP_IFACE): $(STAMP_DEPS) $(IFACE_SOURCES)
	@echo "setup: building msg/srv interfaces with CMake (about 30 s)"
	@mkdir -p $(BUILD)
	@scripts/build_interfaces.sh $(VENV) $(BUILD)
	@touch $@

$(STAMP_PY): $(STAMP_IFACE) $(PY_SOURCES) $(SHARE_SOURCES)
	@cmake --install $(BUILD) > $(BUILD)/install.log
	@touch $@

lint: setup  ## ruff check, ruff format --check and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	for part in test/*/; do $(VENV)/bin/mypy "$$part" || exit 1; done

unit: setup  ## run the test suite only
	$(TEST_ENV) $(VPY) -m pytest $(PYTEST_ARGS)

test: lint unit colcon-test  ## set up, then lint, run the whole test suite and the colcon check

colcon-test: setup $(STAMP_COLCON)  ## colcon build + colcon test (installed-package tests) in a temporary workspace
	ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_DOMAIN_ID=$${ROS_DOMAIN_ID:-$$(( $$$$ % 100 + 1 ))} \
		scripts/colcon_test.sh $(VENV) $(COLCON_VENV)/bin/colcon \
		'$(COLCON_TEST_PARTS)' '$(COLCON_TEST_MARK)'

$(STAMP_COLCON): requirements/colcon.txt
	@echo "colcon-test: creating $(COLCON_VENV) with the pins of requirements/colcon.txt"
	@test -x $(COLCON_VENV)/bin/python || $(PYTHON) -m venv $(COLCON_VENV)
	@$(COLCON_VENV)/bin/python -m pip install --disable-pip-version-check \
		-r requirements/colcon.txt > $(COLCON_VENV)/pip-install.log 2>&1 \
		|| { grep -v "is ignored" $(COLCON_VENV)/pip-install.log | tail -30; exit 1; }
	@touch $@

demo: setup  ## build the demo data, evaluate it offline, then live through pixret_node over DDS
	$(TEST_ENV) $(VPY) tools/demo.py $(DEMO_ARGS)

bench: setup  ## benchmark engine vs. baseline on ../shared/data (photos and streams) and the demo data
	$(TEST_ENV) $(VPY) tools/bench.py --data ../shared/data --demo build/demo $(BENCH_ARGS)

bench-node: setup  ## node end to end over DDS: stamp -> detections latency, rate, RSS (50 instances)
	$(TEST_ENV) $(VPY) tools/bench_node.py $(BENCH_NODE_ARGS)

clean:  ## remove the build folder (keeps .venv)
	rm -rf $(BUILD)
