"""fairseq adapter: the ``rpc`` criterion for wav2vec 2.0 and wav2vec (CPC) pretraining.

Relative Predictive Coding (Tsai et al., ICLR 2021, arXiv 2103.11275). With ``rpc-plugins`` installed,
``fairseq-hydra-train ... criterion._name=rpc`` needs nothing else: the Hydra plugin
``hydra_plugins.rpc_fairseq_plugin`` imports this package before fairseq composes its config. fairseq's argparse
CLI (``fairseq-train``) starts no Hydra app: pass ``--user-dir <repo>/adapters/rpc_fairseq`` there (fairseq
imports the folder as the top-level module ``rpc_fairseq``; with an editable install that is this very package).

>>> import rpc_fairseq
>>> from fairseq.criterions import CRITERION_REGISTRY
>>> CRITERION_REGISTRY["rpc"] is rpc_fairseq.criterion.RpcCriterion
True
"""

from . import criterion  # noqa: F401  (registers "rpc")
