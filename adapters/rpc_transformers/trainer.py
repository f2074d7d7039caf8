"""``transformers.Trainer`` for wav2vec 2.0 pretraining with any ``rpc_plugins`` objective (RPC: Tsai et al.,
ICLR 2021).

``compute_loss`` runs the forward without ``sampled_negative_indices`` (so HF computes no loss of its own),
applies ``Wav2Vec2PretrainingLoss`` and returns it per masked frame (the summed loss over the masked-frame count
of all ranks, as HF's ``run_wav2vec2_pretraining_no_trainer.py`` scales its gradients). E_pos, E_neg and the MI
estimates are averaged over the steps since the last log and added to the Trainer's logs; they are summed on the
device and read back when the Trainer logs, not at every step.

>>> # trainer = RPCPretrainingTrainer(model=model, args=TrainingArguments(...), train_dataset=waves,
>>> #                                 data_collator=PretrainingCollator(model.config),
>>> #                                 rpc_loss=Wav2Vec2PretrainingLoss(model.config, objective="rpc"))
"""

from collections import defaultdict

from transformers import Trainer

from .loss import Wav2Vec2PretrainingLoss

LOGGED = (
    "E_pos",
    "E_neg",
    "mi_nce",
    "mi_rpc",
    "accuracy",
    "contrastive_loss",
    "diversity_loss",
    "codevector_perplexity",
)


class RPCPretrainingTrainer(Trainer):
    """``Trainer(..., rpc_loss=Wav2Vec2PretrainingLoss(model.config, objective=...))``; batches from
    ``PretrainingCollator`` (``input_values``, ``mask_time_indices``, ``sampled_negative_indices``)."""

    loss_is_scaled_for_ga = False  # compute_loss returns a per-batch mean: the Trainer divides by GA steps

    def __init__(self, *args, rpc_loss: Wav2Vec2PretrainingLoss, **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(rpc_loss, Wav2Vec2PretrainingLoss):
            raise ValueError(f"rpc_loss must be a Wav2Vec2PretrainingLoss, got {type(rpc_loss).__name__}")
        self.rpc_loss = rpc_loss
        self._sums, self._steps = defaultdict(float), 0

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        negatives = inputs.pop("sampled_negative_indices", None)
        mask = inputs.get("mask_time_indices")
        outputs = model(**inputs)
        result = self.rpc_loss(outputs, mask, negatives)
        if model.training:
            self._steps += 1
            for key in LOGGED:
                if key in result.logs.tensors:
                    self._sums[key] = self._sums[key] + result.logs.tensors[key]  # on the device: no read
        loss = result.loss / result.num_masked
        return (loss, outputs) if return_outputs else loss

    def log(self, logs, *args, **kwargs):
        if self._steps:
            logs = dict(logs, **{key: round(float(value) / self._steps, 4) for key, value in self._sums.items()})
            self._sums, self._steps = defaultdict(float), 0
        return super().log(logs, *args, **kwargs)
