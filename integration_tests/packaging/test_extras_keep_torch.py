"""``pip install rpc-plugins[<extra>]`` beside an installed torch must not replace that torch, nor numpy.

Each era's environment already holds its host at the version CI tests; this asks pip (``--dry-run``) what
installing the project with that host's extra (and with the host-independent ``test`` and ``dev`` extras) would
change, and fails if torch or numpy would be installed, upgraded or downgraded (an exact pin in an extra, or a
range that forces another version).
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# extra -> the import that tells this environment is that host's era (None: any environment)
EXTRAS = {
    "lightly": "lightly",
    "solo": "solo",
    "fairseq": "fairseq",
    "transformers": "transformers",
    "open_clip": "open_clip",
    "test": None,
    "dev": None,
}
KEPT = ("torch", "numpy")


def _installs(extra, tmp_path):
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
    return {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_installing_the_extra_keeps_torch_and_numpy(extra, tmp_path):
    module = EXTRAS[extra]
    if module is not None and importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed in this environment")
    installs = _installs(extra, tmp_path)
    assert "rpc-plugins" in installs  # the report is about our project
    for name in KEPT:
        if importlib.util.find_spec(name) is not None:
            version = __import__(name).__version__
            assert name not in installs, f"[{extra}] would replace {name} {version} with {installs[name]}"
