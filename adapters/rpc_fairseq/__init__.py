"""fairseq adapter: the ``rpc`` criterion for wav2vec 2.0 and wav2vec (CPC) pretraining.

Use it as a fairseq plugin: ``fairseq-hydra-train ... common.user_dir=adapters/rpc_fairseq
criterion._name=rpc`` (fairseq imports this folder as the top-level module ``rpc_fairseq``).
"""
from . import criterion  # noqa: F401  (registers "rpc")
