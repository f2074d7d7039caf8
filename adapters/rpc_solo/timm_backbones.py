"""timm backbones for solo-learn methods, added without forking solo.

solo-learn main reads its backbone table from ``BaseMethod._BACKBONES``, so ``register_timm_backbones`` adds
``timm_<name>`` entries there (``backbone.name: timm_resnet10t``).
"""

from functools import partial
from typing import Iterable, Tuple

from torch import nn

DEFAULT_TIMM_BACKBONES = (
    "resnet10t",
    "resnet18",
    "resnet26",
    "efficientnet_b0",
    "mobilenetv3_small_100",
    "convnext_atto",
    "vit_tiny_patch16_224",
)


def timm_encoder(name: str, small_input: bool = False, **kwargs) -> Tuple[nn.Module, int]:
    """(pooled-feature timm model, its width); ResNet stems adapted to 32x32 images when asked."""
    import timm

    model = timm.create_model(name, pretrained=False, num_classes=0, **kwargs)
    if small_input and isinstance(getattr(model, "conv1", None), nn.Conv2d) and hasattr(model, "maxpool"):
        model.conv1 = nn.Conv2d(model.conv1.in_channels, model.conv1.out_channels, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    return model, model.num_features


def timm_backbone(name: str, method=None, **kwargs) -> nn.Module:
    """solo-learn main's backbone factory signature (``factory(method, **backbone.kwargs)``) for timm ``name``."""
    return timm_encoder(name, **kwargs)[0]


def register_timm_backbones(base_method, names: Iterable[str] = DEFAULT_TIMM_BACKBONES) -> None:
    """Add ``timm_<name>`` factories to ``base_method._BACKBONES`` (solo-learn main API).

    Each factory is a ``functools.partial`` of a module-level function: solo keeps it on the method
    (``self.base_model``), and spawn-based strategies (``ddp_spawn``) pickle the method.

    >>> import pickle
    >>> class Base: _BACKBONES = {}
    >>> register_timm_backbones(Base, ["resnet10t"])
    >>> pickle.loads(pickle.dumps(Base._BACKBONES["timm_resnet10t"])).args
    ('resnet10t',)
    """
    for name in names:
        base_method._BACKBONES.setdefault(f"timm_{name}", partial(timm_backbone, name))
