"""The speech benchmarks' tables (``run.py``'s fairseq rows and ``run_hf.py``'s transformers rows): probe
accuracies per pretraining criterion, and the equal-budget tuning record.

>>> rows = [{"method": "rpc", "phone_acc": 0.5, "speaker_acc": 0.9},
...         {"method": "rpc", "phone_acc": 0.7, "speaker_acc": 0.9}]
>>> print(probe_table(rows, ["rpc", "infonce"], {"rpc": "RPC"}, {}, {"phone_acc": 0.2, "speaker_acc": 0.34}))
| pretraining criterion | phone (frame) | speaker (frame) |
|---|---|---|
| RPC | 0.600 ± 0.141 | 0.900 ± 0.000 |
| majority class (no features) | 0.200 | 0.340 |
"""

import numpy as np

from benchmarks.harness.tables import markdown


def probe_cells(rows):
    """'mean ± std' (sample std, over seeds) of the phone and speaker probe accuracies of ``rows``."""
    cells = []
    for key in ("phone_acc", "speaker_acc"):
        vals = np.array([r[key] for r in rows])
        cells.append(f"{vals.mean():.3f}" + (f" ± {vals.std(ddof=1):.3f}" if len(vals) > 1 else ""))
    return cells


def knobs(config):
    """'k=v, ...' of a tuning configuration, keys sorted."""
    return ", ".join(f"{k}={v}" for k, v in sorted(config.items()))


def probe_table(rows, names, labels, tuned, majority):
    """Probe accuracies of each method in ``names`` that ran (a *_tuned one labelled with its selection), then
    the majority class."""
    body = []
    for name in names:
        sel = [r for r in rows if r["method"] == name]
        if sel:
            label = (
                f"**{name[:-6]} tuned** ({knobs(tuned[name[:-6]]['selected'])})"
                if name.endswith("_tuned")
                else labels.get(name)
            )
            body.append([label, *probe_cells(sel)])
    body.append(["majority class (no features)", f"{majority['phone_acc']:.3f}", f"{majority['speaker_acc']:.3f}"])
    return markdown(["pretraining criterion", "phone (frame)", "speaker (frame)"], body, align="lll")


def tuning_table(tuned, trials_column=True):
    """Per criterion: its trial count (``trials_column``), selection, best validation score and every trial."""
    header = ["criterion", "trials", "selected", "best validation", "all trials (config: phone)"]
    body = [
        [
            c,
            rec["trials"],
            knobs(rec["selected"]),
            f"{rec['score']:.3f}",
            "; ".join(f"{knobs(t['config'])}: {t['score']:.3f}" for t in rec["scores"]),
        ]
        for c, rec in tuned.items()
    ]
    if not trials_column:
        header, body = header[:1] + header[2:], [r[:1] + r[2:] for r in body]
    return markdown(header, body, align="lrlrl" if trials_column else "llrl")
