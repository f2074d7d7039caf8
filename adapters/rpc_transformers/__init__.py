"""Hugging Face transformers adapter: Relative Predictive Coding (Tsai et al., ICLR 2021) and every other
``rpc_plugins`` objective for wav2vec 2.0 pretraining (``Wav2Vec2ForPreTraining``).

* ``Wav2Vec2PretrainingLoss``: the loss line of a pretraining loop (``loss.py``);
* ``PretrainingCollator``: batches of raw audio with HF's own masks and distractor indices (``data.py``);
* ``rpc_transformers.trainer.RPCPretrainingTrainer``: ``transformers.Trainer`` with this loss (``trainer.py``).

>>> import rpc_transformers
>>> sorted(rpc_transformers.__all__)
['ContrastiveScores', 'PretrainingCollator', 'PretrainingLossOutput', 'Wav2Vec2PretrainingLoss', 'contrastive_scores']
"""

from .data import PretrainingCollator
from .loss import PretrainingLossOutput, Wav2Vec2PretrainingLoss
from .scores import ContrastiveScores, contrastive_scores

__all__ = [
    "Wav2Vec2PretrainingLoss",
    "PretrainingLossOutput",
    "PretrainingCollator",
    "ContrastiveScores",
    "contrastive_scores",
]
