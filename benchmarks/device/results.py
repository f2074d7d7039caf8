"""The device run's results files: one JSON per part, rewritten (atomically) as each row arrives.

A part that is cut off by its time limit keeps every row written so far; ``status`` says how it
ended ("ok", "running" while it runs, set by ``run.py`` to "cut off" / "failed" afterwards).

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "x.json")
>>> part = PartFile(path, "x", "an example", dry_run=True)
>>> part.add(dict(n=1)); part.done()
>>> load(path)["status"], load(path)["rows"]
('ok', [{'n': 1}])
"""

import json
import time

from benchmarks.harness.rows import write_json  # the checkout's root is on sys.path (run.py, common.py)


def load(path):
    with open(path) as f:
        return json.load(f)


class PartFile:
    """One part's results: ``rows`` (measurements), ``skipped`` (what did not run, and why), metadata."""

    def __init__(self, path, part, title, dry_run, **meta):
        self.path, self.start = path, time.time()
        self.data = dict(part=part, title=title, dry_run=bool(dry_run), status="running", rows=[], skipped=[], **meta)
        self.save()

    def add(self, row):
        self.data["rows"].append(row)
        self.save()

    def skip(self, what, reason):
        self.data["skipped"].append(dict(what=what, reason=str(reason)))
        self.save()

    def update(self, **fields):
        self.data.update(fields)
        self.save()

    def done(self, **fields):
        self.data.update(fields, status="ok", seconds=round(time.time() - self.start, 1))
        self.save()

    def save(self):
        self.data["elapsed_s"] = round(time.time() - self.start, 1)
        write_json(self.path, self.data)
