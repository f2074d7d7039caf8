"""Result rows: one dict per run, a stable key per configuration, and a resumable results.json.

A row holds what was run (``part``, ``objective``, knobs, seed, budget) and what was measured. The
file is rewritten after every run; a restarted run loads it and skips every key already there.

>>> run_key(objective="RPC", lr=1e-3, seed=0, hyper={"alpha": 0.3})
'hyper=alpha=0.3|lr=0.001|objective=RPC|seed=0'
>>> mean_std([float("nan")])
'n/a'
>>> cell([0.5, 0.7])
'60.0 ± 10.0'
"""

import json
import math
import os


def _fmt(v):
    if isinstance(v, dict):
        return ",".join(f"{k}={_fmt(v[k])}" for k in sorted(v))
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def run_key(**config):
    """A deterministic string naming one configuration (order-independent)."""
    return "|".join(f"{k}={_fmt(config[k])}" for k in sorted(config))


def finite(values):
    return [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def mean_std(values, scale=100.0, digits=1):
    """'mean ± std (min-max)' of the finite values, in percent by default; 'n/a' when none is finite."""
    v = finite(values)
    if not v:
        return "n/a"
    m = sum(v) / len(v)
    s = (sum((x - m) ** 2 for x in v) / len(v)) ** 0.5
    f = f"{{:.{digits}f}}"
    return f"{f.format(scale * m)} ± {f.format(scale * s)} ({f.format(scale * min(v))}-{f.format(scale * max(v))})"


def cell(values, scale=100.0, digits=1):
    """'mean ± std' (population std) of the finite values; 'n/a' when none is finite."""
    return mean_std(values, scale, digits).split(" (")[0]


def mean(values):
    v = finite(values)
    return sum(v) / len(v) if v else float("nan")


def select(rows, **where):
    """Rows whose fields equal every ``where`` item."""
    return [r for r in rows if all(r.get(k) == v for k, v in where.items())]


class ResultsFile:
    """results.json holding {"args", "results": [rows], "wall", **extra}; rewritten on every ``add``.

    ``done(key)`` tells a resumed run which configurations it can skip (``fresh=True`` ignores the file)."""

    def __init__(self, path, args, fresh=False):
        self.path, self.args, self.extra = path, args, {}
        self.rows, self.wall_before = [], 0.0
        if os.path.exists(path) and not fresh:
            with open(path) as f:
                saved = json.load(f)
            self.rows = [r for r in saved.get("results", []) if "key" in r]
            self.wall_before = saved.get("wall", 0.0)
            self.extra = {k: v for k, v in saved.items() if k not in ("args", "results", "wall")}

    def find(self, key):
        """The row saved under ``key`` (one part's row), or None."""
        return next((r for r in self.rows if r.get("key") == key), None)

    def find_run(self, run):
        """Any row of the training configuration ``run`` (a part reuses another part's identical run)."""
        return next((r for r in self.rows if r.get("run") == run), None)

    def add(self, row, wall):
        self.rows = [r for r in self.rows if r.get("key") != row["key"]] + [row]
        self.save(wall)

    def save(self, wall):
        write_json(self.path, dict(args=self.args, results=self.rows, wall=self.wall_before + wall, **self.extra))


def write_json(path, data):
    """Write ``data`` to ``path`` through a temporary file beside it and a rename, so a run killed mid-write
    leaves the previous file intact (the results files the benchmarks rewrite as rows arrive)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, default=str)
    os.replace(tmp, path)
