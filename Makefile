# rpc-plugins: one command for the demo, one for the whole test matrix.
# Every target builds what it needs (venvs in .venvs/, Debian data), idempotently.
SHELL := /bin/bash
export OMP_NUM_THREADS ?= 2
export PYTHONDONTWRITEBYTECODE := 1

# One virtual environment per era (envs/<era>.sh builds .venvs/<era>): main (lightly/timm), solo-main (solo-learn
# main, Lightning 2), fairseq-torch2, transformers (HF wav2vec 2.0 on the newest torch), and floor (the oldest
# supported torch, 2.4.1, with no host: the core alone).
ERAS := main solo-main fairseq-torch2 transformers floor

# tests/ (the core), integration_tests/docs (every code block of README and docs, in its host's era) and
# integration_tests/packaging (extras keep torch and numpy) run in every host era; the floor era runs the core's.
COMMON_TESTS         := tests integration_tests/docs integration_tests/packaging
MAIN_TESTS           := $(COMMON_TESTS) integration_tests/lightly integration_tests/mi integration_tests/benchmarks integration_tests/open_clip
SOLO-MAIN_TESTS      := $(COMMON_TESTS) integration_tests/solo
FAIRSEQ-TORCH2_TESTS := $(COMMON_TESTS) integration_tests/fairseq
TRANSFORMERS_TESTS   := $(COMMON_TESTS) integration_tests/transformers
FLOOR_TESTS          := tests

.PHONY: demo test lint docs envs system gpu-dry-run bench-cost $(addprefix test-,$(ERAS)) $(addprefix env-,$(ERAS))

demo: env-main system
	.venvs/main/bin/python examples/demo.py

# Each era is built just before its tests, not all up front: the venvs take about 28 GB together, more
# than a CI disk may have free. envs/reclaim.sh then removes the era's venv if less than
# RPC_MIN_FREE_GB (default 16) GB stay free, so the next era has room; with room to spare they are kept.
test: system
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory docs || status=1; \
	for era in $(ERAS); do \
	  $(MAKE) --no-print-directory test-$$era || status=1; \
	  bash envs/reclaim.sh $$era; \
	done; \
	if [ $$status -ne 0 ]; then echo "SOME TEST ENVIRONMENTS FAILED"; fi; exit $$status

# pytest over the directories that exist (an adapter's folder may not be there yet)
define run_pytest
	@start=$$(date +%s); dirs=""; for d in $(2); do [ -e "$$d" ] && dirs="$$dirs $$d"; done; \
	echo "=== [$(1)] pytest$$dirs"; \
	.venvs/$(1)/bin/python -m pytest -q -p no:cacheprovider $$dirs; rc=$$?; \
	echo "=== [$(1)] rc=$$rc in $$(( $$(date +%s) - start )) s"; exit $$rc
endef

envs: $(addprefix env-,$(ERAS))

# test-<era>: build the era's environment, then pytest its directories
define era_rules
test-$(1): env-$(1) system
	$$(call run_pytest,$(1),$$($(shell echo $(1) | tr a-z A-Z)_TESTS))
env-$(1):
	@bash envs/$(1).sh
endef
$(foreach era,$(ERAS),$(eval $(call era_rules,$(era))))

system:
	@bash envs/system.sh

# ruff format check and lint (rules in pyproject.toml) over the whole tree, mypy over the core with the main era's torch
lint: env-main
	@bash envs/lint.sh
	@start=$$(date +%s); echo "=== [lint] ruff format --check . && ruff check . && mypy (rpc_plugins/)"; \
	.venvs/lint/bin/ruff format --check . && .venvs/lint/bin/ruff check . \
	  && .venvs/lint/bin/mypy --python-executable .venvs/main/bin/python; rc=$$?; \
	echo "=== [lint] rc=$$rc in $$(( $$(date +%s) - start )) s"; exit $$rc

# the documentation site (mkdocs.yml, docs/) with --strict into site/: a broken reference or link fails it
docs:
	@bash envs/docs.sh
	@start=$$(date +%s); echo "=== [docs] mkdocs build --strict"; \
	NO_MKDOCS_2_WARNING=1 .venvs/docs/bin/python -m mkdocs build --strict --quiet --site-dir site; rc=$$?; \
	echo "=== [docs] rc=$$rc in $$(( $$(date +%s) - start )) s"; exit $$rc

# the GPU script's CPU dry run (tiny sizes, no time limit); on a GPU machine: bash benchmarks/gpu.sh run
gpu-dry-run: env-main
	OMP_NUM_THREADS=1 PYTHON=.venvs/main/bin/python bash benchmarks/gpu.sh dry-run /tmp/rpc_gpu_dry

bench-cost: env-main
	.venvs/main/bin/python benchmarks/cost/run.py
