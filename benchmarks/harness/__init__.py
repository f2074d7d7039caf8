"""The small harness the benchmarks share, so that each run script holds its experiment only.

- ``data``: Fashion-MNIST from IDX files, with a validation split carved from the training set;
- ``augment``: per-sample tensor augmentations on the data's device;
- ``probes``: frozen-feature probes (torch: L-BFGS linear + weighted kNN; numpy/scikit-learn: the same two);
- ``rows``: result rows, run keys, resumable results.json, mean ± std cells;
- ``machine``: the one machine description (CPU, cores, torch and threads, device, Python, load) results carry;
- ``tables``: markdown tables from rows;
- ``plots``: bar charts of rows (matplotlib imported lazily: the fairseq and solo envs have none);
- ``tuning``: equal-budget random search (the same k trials for every objective) and its record;
- ``optim``: Adam / SGD / LARS by name;
- ``precision``: bfloat16 autocast for the encoders on request.

Modules other than ``optim`` import torch, scikit-learn and matplotlib only inside the functions that need them, so the
harness loads in every benchmark's environment (Python 3.9+).

>>> from benchmarks.harness import rows
>>> rows.mean_std([0.5, 0.7])
'60.0 ± 10.0 (50.0-70.0)'
"""
