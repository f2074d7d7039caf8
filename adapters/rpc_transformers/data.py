"""Batches for ``Wav2Vec2ForPreTraining``: raw audio plus the masks and distractor indices its loss needs.

The masks and distractors are drawn by transformers' own samplers (``_compute_mask_indices``: spans of
``mask_length`` frames starting with probability ``mask_prob``; ``_sample_negative_indices``: K distractors per
frame from the other masked frames of the same utterance), as HF's wav2vec 2.0 pretraining example does. Every
waveform of a batch is cropped to the shortest one (a random window), so no padding or attention mask is needed;
each is normalised to zero mean and unit variance (``Wav2Vec2FeatureExtractor(do_normalize=True)``). numpy's
global random state drives both samplers (seed it with ``np.random.seed``).

>>> import numpy as np
>>> from transformers import Wav2Vec2Config
>>> config = Wav2Vec2Config(conv_dim=(8, 8), conv_kernel=(10, 4), conv_stride=(5, 4), num_negatives=3)
>>> batch = PretrainingCollator(config, mask_prob=0.5, mask_length=2)([np.ones(800), np.arange(900.0)])
>>> batch["input_values"].shape, batch["mask_time_indices"].shape, batch["sampled_negative_indices"].shape
(torch.Size([2, 800]), torch.Size([2, 39]), torch.Size([2, 39, 3]))
"""

from typing import Optional

import numpy as np
import torch


def feature_frames(config, n_samples: int) -> int:
    """Frames the feature encoder makes of ``n_samples`` (each conv layer: (n - kernel) // stride + 1)."""
    for kernel, stride in zip(config.conv_kernel, config.conv_stride):
        n_samples = (n_samples - kernel) // stride + 1
    return n_samples


class PretrainingCollator:
    """``collate(list of 1-D waveforms or dicts with "input_values")`` -> the forward's keyword arguments.

    Args:
        config: the model's ``Wav2Vec2Config``.
        mask_prob, mask_length: span masking (the paper's pretraining values 0.65 and 10 by default).
        num_negatives: distractors per frame; default ``config.num_negatives``.
        max_samples: crop every waveform to at most this many samples (a random window).
    """

    def __init__(
        self,
        config,
        mask_prob: float = 0.65,
        mask_length: int = 10,
        num_negatives: Optional[int] = None,
        max_samples: Optional[int] = None,
    ):
        self.config, self.mask_prob, self.mask_length = config, mask_prob, mask_length
        self.num_negatives = config.num_negatives if num_negatives is None else num_negatives
        self.max_samples = max_samples

    def __call__(self, batch):
        from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices, _sample_negative_indices

        waves = [np.asarray(b["input_values"] if isinstance(b, dict) else b, dtype=np.float32) for b in batch]
        length = min(len(w) for w in waves)
        if self.max_samples:
            length = min(length, self.max_samples)
        frames = feature_frames(self.config, length)
        if frames < 2:
            raise ValueError(
                f"the shortest waveform ({length} samples) gives {frames} frame(s); wav2vec 2.0 needs "
                "at least 2 to draw distractors"
            )
        crops = []
        for w in waves:
            start = np.random.randint(0, len(w) - length + 1)
            w = w[start : start + length]
            crops.append((w - w.mean()) / np.sqrt(w.var() + 1e-7))
        mask = _compute_mask_indices((len(crops), frames), self.mask_prob, self.mask_length, min_masks=2)
        negatives = _sample_negative_indices((len(crops), frames), self.num_negatives, mask)
        return {
            "input_values": torch.from_numpy(np.stack(crops)),
            "mask_time_indices": torch.from_numpy(mask),
            "sampled_negative_indices": torch.from_numpy(negatives.astype(np.int64)),
        }
