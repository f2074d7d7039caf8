"""Hypothesis settings: under CI (CI=true) examples are derandomized, so a landing run sees the same cases
as the run before it and a failure reproduces; locally every run explores new examples."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")
