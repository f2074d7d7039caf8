"""One factory: any timm model as a pooled-feature backbone (``num_features`` wide)."""

from torch import nn


def create_backbone(name: str, in_chans: int = 3, small_input: bool = False, **kwargs) -> nn.Module:
    """``timm.create_model(name, pretrained=False, num_classes=0, in_chans=in_chans)``.

    ``small_input=True`` adapts ResNet-style stems to 28x28 / 32x32 images as SimCLR's CIFAR
    variant does (Chen et al. 2020): a 3x3 stride-1 first convolution and no max-pool. Other
    families are returned as timm builds them (their global pooling handles small inputs).
    Pretrained weights are never requested (they download from a hub).
    """
    import timm

    if kwargs.pop("pretrained", False):
        raise ValueError("pretrained weights download from a hub, which is not available; use pretrained=False")
    model = timm.create_model(name, pretrained=False, num_classes=0, in_chans=in_chans, **kwargs)
    if small_input and isinstance(getattr(model, "conv1", None), nn.Conv2d) and hasattr(model, "maxpool"):
        old = model.conv1
        model.conv1 = nn.Conv2d(in_chans, old.out_channels, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    return model
