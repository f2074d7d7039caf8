"""Equal-budget tuning for the speech benchmark: k trials per criterion, selected on a validation carve.

Tsai et al. (ICLR 2021) tune RPC's relative parameters per data set; comparing a tuned RPC with
an untuned InfoNCE (or the reverse) says nothing. Here every criterion gets the same k trials over its own
natural knobs (``benchmarks.harness.tuning``: trial 0 is the criterion's default, the rest distinct draws):

* ``rpc``: alpha, beta, gamma, critic_scale and the learning rate;
* ``infonce`` (wav2vec InfoNCE / CPC) and ``binary`` (wav2vec v1's binary cross-entropy): the learning rate
  (their only loss-side knob in fairseq's wav2vec v1).

Selection never sees the held-out split: every fifth training utterance is carved out as a validation set,
the trial pretrains on the remaining training audio (its own manifest) and is scored by a phone probe fit on
those utterances and evaluated on the carve. The selected settings are then re-run with every seed on the
full training split and probed on the held-out split like the default rows.

>>> overrides("binary", {"lr": 0.002})[-1]
'optimization.lr=[0.002]'
>>> sorted(SPACES["rpc"]) == ["alpha", "beta", "critic_scale", "gamma", "lr"]
True
"""

import os

from benchmarks.harness import tuning

LRS = [2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2]
SPACES = {
    "rpc": {
        "alpha": [0.5, 1.0, 2.0],
        "beta": [0.003, 0.01, 0.03],
        "gamma": [0.03, 0.1, 0.3],
        "critic_scale": [0.02, 0.05, 0.1],
        "lr": LRS,
    },
    "infonce": {"lr": LRS},
    "binary": {"lr": LRS},
}
# the example config's values (examples/fairseq/wav2vec_cpc_tiny_rpc.yaml): trial 0 of each criterion
DEFAULTS = {
    "rpc": {"alpha": 1.0, "beta": 0.01, "gamma": 0.1, "critic_scale": 0.05, "lr": 1e-3},
    "infonce": {"lr": 1e-3},
    "binary": {"lr": 1e-3},
}
METRIC = "validation phone accuracy (probe fit on the training utterances minus every fifth, scored on that fifth)"


def overrides(criterion, config, base_overrides=None):
    """fairseq-hydra-train overrides for ``config`` on top of the criterion's base overrides."""
    base = list(base_overrides or [])
    keys = [f"criterion.{key}={value}" for key, value in sorted(config.items()) if key != "lr"]
    return base + keys + [f"optimization.lr=[{config['lr']}]"]


def carve_validation(data, records):
    """(tuning data dir with train.tsv minus the carve, records relabelled train / valid=carve)."""
    train = [r for r in records if r["split"] == "train"]
    carve = {r["path"] for r in train[::5]}
    tune_dir = os.path.join(data, "tune")
    os.makedirs(tune_dir, exist_ok=True)
    for name, keep in (("train.tsv", lambda r: r["path"] not in carve), ("valid.tsv", lambda r: r["path"] in carve)):
        with open(os.path.join(tune_dir, name), "w") as f:
            f.write(os.path.abspath(data) + "\n")  # paths stay relative to the corpus
            for r in train:
                if keep(r):
                    f.write(f"{r['path']}\t{r['n_samples']}\n")
    relabelled = [dict(r, split="valid" if r["path"] in carve else "train") for r in train]
    return tune_dir, relabelled


def run(criteria, base_overrides, k, seed, train_and_score, log=print):
    """The tuning record {criterion: tuning.record(...) + metric + every trial's scores}.

    ``train_and_score(criterion, trial_index, overrides) -> {"phone_acc": .., "speaker_acc": ..}``.
    """
    out = {}
    for criterion in criteria:
        scored = []
        for i, config in enumerate(tuning.trials(SPACES[criterion], DEFAULTS[criterion], k, seed=seed, name=criterion)):
            result = train_and_score(criterion, i, overrides(criterion, config, base_overrides[criterion]))
            scored.append({"config": config, "score": result["phone_acc"], "speaker_acc": result["speaker_acc"]})
            log(f"tuning {criterion} trial {i + 1}/{k} {config}: validation phone {result['phone_acc']:.3f}")
        out[criterion] = dict(tuning.record(scored, k), metric=METRIC, scores=scored)
    return out
