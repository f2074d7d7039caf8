"""``pip install rpc-plugins[transformers]`` beside this era's torch keeps that torch (no pin in the extra)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_installing_the_transformers_extra_keeps_torch(tmp_path):
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report),
                    f"{REPO_ROOT}[transformers]"], check=True, timeout=600)
    installs = {item["metadata"]["name"].lower(): item["metadata"]["version"]
                for item in json.loads(report.read_text())["install"]}
    assert "rpc-plugins" in installs
    assert "torch" not in installs, f"[transformers] would replace torch {torch.__version__} with {installs['torch']}"
