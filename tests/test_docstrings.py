"""Every ``>>>`` example in the core's docstrings runs and prints what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import rpc_plugins

MODULES = sorted(m.name for m in pkgutil.walk_packages(rpc_plugins.__path__, "rpc_plugins."))


@pytest.mark.parametrize("name", ["rpc_plugins"] + MODULES)
def test_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
