"""Equal-budget hyperparameter search: every objective gets the same number k of trials.

Each objective searches its own natural knobs (e.g. RPC's alpha, beta, gamma and temperature, an
InfoNCE-family temperature, and the learning rate for all), so no objective is compared at a hand-picked
setting against a tuned peer (Tsai et al., ICLR 2021, tune RPC's alpha, beta, gamma per data set).
Trial 0 is the objective's default; trials 1..k-1 are distinct draws from its grid, seeded by the
objective's name. Selection is on a validation score (higher is better), never on the test set.

>>> space = {"lr": [1e-3, 3e-3], "temperature": [0.1, 0.5]}
>>> t = trials(space, {"lr": 1e-3, "temperature": 0.5}, k=3, seed=0, name="NT-Xent")
>>> len(t), t[0], len({tuple(sorted(c.items())) for c in t})
(3, {'lr': 0.001, 'temperature': 0.5}, 3)
>>> record([{"config": t[0], "score": 0.8}, {"config": t[1], "score": 0.9}], k=3)["selected"] == t[1]
True
"""

import itertools
import random
import zlib


def trials(space, default, k, seed=0, name=""):
    """k configurations: ``default`` first, then distinct random draws from the product of ``space``."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    keys = sorted(space)
    grid = [dict(zip(keys, values)) for values in itertools.product(*(space[key] for key in keys))]
    first = {key: default[key] for key in keys}
    rest = [c for c in grid if c != first]
    rng = random.Random(seed * 1_000_003 + zlib.crc32(name.encode()))
    rng.shuffle(rest)
    return [first] + rest[: k - 1]


def record(scored, k):
    """{"trials": k, "selected": best config, "score": its validation score, "done": trials scored}.

    ``scored``: [{"config": {...}, "score": float}]; non-finite scores (diverged trials) never win."""
    ok = [s for s in scored if s["score"] == s["score"]]
    best = max(ok, key=lambda s: s["score"]) if ok else (scored[0] if scored else {"config": {}, "score": None})
    return {"trials": k, "done": len(scored), "selected": dict(best["config"]), "score": best["score"]}
