"""``pip install rpc-plugins[<host>]`` beside an installed torch must not replace that torch.

Each era's environment already holds its host at the version CI tests; this asks pip (``--dry-run``) what
installing the project with that host's extra would change, and fails if torch would be installed,
upgraded or downgraded (an exact torch pin in an extra, or a host range that forces another torch).
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
# extra -> the import that tells this environment is that host's era
HOST_EXTRAS = {"lightly": "lightly", "solo": "solo", "fairseq": "fairseq", "transformers": "transformers"}
LEGACY = {"solo": "solo-legacy", "fairseq": "fairseq-legacy"}  # what the 2021-22 eras install


def _extra_for_this_environment(extra):
    if importlib.util.find_spec(HOST_EXTRAS[extra]) is None:
        pytest.skip(f"{HOST_EXTRAS[extra]} is not installed in this environment")
    if torch.__version__.startswith("1.") and extra in LEGACY:
        return LEGACY[extra]
    return extra


@pytest.mark.parametrize("extra", sorted(HOST_EXTRAS))
def test_installing_the_extra_keeps_torch(extra, tmp_path):
    extra = _extra_for_this_environment(extra)
    report = tmp_path / "report.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--report",
            str(report),
            f"{REPO_ROOT}[{extra}]",
        ],
        check=True,
        timeout=600,
    )
    installs = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert "rpc-plugins" in installs  # the report is about our project
    assert "torch" not in installs, f"[{extra}] would replace torch {torch.__version__} with {installs['torch']}"
