# rpc-plugins: one command for the demo, one for the whole test matrix.
# Every target builds what it needs (venvs in .venvs/, Debian data), idempotently.
SHELL := /bin/bash
export OMP_NUM_THREADS ?= 2
export PYTHONDONTWRITEBYTECODE := 1

MAIN_TESTS    := tests integration_tests/lightly integration_tests/mi integration_tests/benchmarks
SOLO_TESTS    := tests integration_tests/solo
FAIRSEQ_TESTS := tests integration_tests/fairseq

.PHONY: demo test test-main test-solo test-fairseq envs env-main env-solo env-fairseq system bench-cost

demo: env-main system
	.venvs/main/bin/python examples/demo.py

test: system envs
	@status=0; \
	for era in main solo fairseq; do \
	  $(MAKE) --no-print-directory test-$$era || status=1; \
	done; \
	if [ $$status -ne 0 ]; then echo "SOME TEST ENVIRONMENTS FAILED"; fi; exit $$status

# pytest over the directories that exist (an adapter's folder may not be there yet)
define run_pytest
	@start=$$(date +%s); dirs=""; for d in $(2); do [ -e "$$d" ] && dirs="$$dirs $$d"; done; \
	echo "=== [$(1)] pytest$$dirs"; \
	.venvs/$(1)/bin/python -m pytest -q -p no:cacheprovider $$dirs; rc=$$?; \
	echo "=== [$(1)] rc=$$rc in $$(( $$(date +%s) - start )) s"; exit $$rc
endef

test-main: env-main system
	$(call run_pytest,main,$(MAIN_TESTS))

test-solo: env-solo system
	$(call run_pytest,solo,$(SOLO_TESTS))

test-fairseq: env-fairseq system
	$(call run_pytest,fairseq,$(FAIRSEQ_TESTS))

envs: env-main env-solo env-fairseq

env-main:
	@bash envs/main.sh
env-solo:
	@bash envs/solo.sh
env-fairseq:
	@bash envs/fairseq.sh
system:
	@bash envs/system.sh

bench-cost: env-main
	.venvs/main/bin/python benchmarks/cost/run.py
