"""Make Meta's `sam3` package (0.1.4) import, build and run its SAM 3 image model on a CPU-only
torch without torchvision (the stand-in in ``shim/``). Used by ``compare.py``.

The installed packages are not edited. Run-time monkeypatches, all here, all listed in PATCHES:

1. `timm` is registered as a bare namespace (its `__init__` is not executed) so that
   `from timm.layers import DropPath, Mlp, trunc_normal_` loads only `timm.layers`. timm's
   `__init__` imports all of timm.models and timm.data, which import torchvision.datasets,
   torchvision.transforms.InterpolationMode etc.; sam3 needs none of that.
2. `torch.Tensor.pin_memory` returns the tensor itself when no accelerator exists. Meta's
   geometry encoder calls `scale.pin_memory().to(device, non_blocking=True)` on a 4-element
   tensor; on a CPU-only torch `pin_memory()` raises "Cannot access accelerator device".
   Pinning only affects host->device copy speed, never values.
3. During the model *build* only, a TorchFunctionMode rewrites `device="cuda"` to "cpu" in
   factory calls. Two constructors hard-code CUDA: PositionEmbeddingSine's precomputed cache
   (`torch.zeros(..., device="cuda")`) and TransformerDecoder's box-RPB coordinate cache
   (`_get_coords(..., device="cuda")`). Not active during forwards (no timing overhead).
4. `sam3.model_builder.SimpleTokenizer` is replaced by `IdsTokenizer`, which returns the
   token ids of sam3lib's tokenizer for the checkpoint compared (a random checkpoint has a tiny
   byte-level vocabulary, and the wheel does not ship Meta's BPE file anyway). Meta's text
   encoder then derives its mask as `ids != 0`, as with its own tokenizer.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import torch
from torch.overrides import TorchFunctionMode

PATCHES: list[str] = []


def install_bare_timm() -> None:
    if "timm" in sys.modules:
        return
    spec = importlib.util.find_spec("timm")
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError("timm is not on the path (see compare.py for the install line)")
    module = types.ModuleType("timm")
    module.__path__ = list(spec.submodule_search_locations)
    module.__file__ = spec.origin
    sys.modules["timm"] = module
    PATCHES.append("timm registered as a bare namespace package (timm/__init__ not run)")


def install_cpu_pin_memory() -> None:
    original = torch.Tensor.pin_memory

    def pin_memory(self, *args, **kwargs):
        if not torch.accelerator.is_available():
            return self
        return original(self, *args, **kwargs)

    torch.Tensor.pin_memory = pin_memory  # type: ignore[method-assign]
    PATCHES.append("torch.Tensor.pin_memory -> identity when no accelerator is available")


class CudaToCpu(TorchFunctionMode):
    """Rewrites device='cuda' (or torch.device('cuda')) kwargs to 'cpu'. Build time only."""

    def __init__(self) -> None:
        super().__init__()
        self.rewrites = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        device = kwargs.get("device")
        if device is not None and torch.device(device).type == "cuda":
            kwargs["device"] = "cpu"
            self.rewrites += 1
        return func(*args, **kwargs)


class IdsTokenizer:
    """Stands in for sam3's SimpleTokenizer: text -> sam3lib token ids, (N, context) int64."""

    def __init__(self, directory: str) -> None:
        from sam3lib.tokenizer import Sam3Tokenizer

        self.inner = Sam3Tokenizer.from_directory(directory)

    def __call__(self, texts, context_length=None):
        if isinstance(texts, str):
            texts = [texts]
        ids = self.inner.encode(list(texts)).ids
        if context_length is not None and ids.shape[1] != context_length:
            raise ValueError(f"expected context {context_length}, got {ids.shape[1]}")
        return ids.long()


def prepare() -> None:
    """Patches 1 and 2; then sam3 imports."""
    install_bare_timm()
    install_cpu_pin_memory()


def build_meta_image_model(tokenizer_dir: str):
    """Meta's own builder, on CPU, no checkpoint, eval mode (patches 3 and 4)."""
    import sam3.model_builder as builder

    tokenizer = IdsTokenizer(tokenizer_dir)
    builder.SimpleTokenizer = lambda bpe_path, **_: tokenizer  # type: ignore[assignment]
    PATCHES.append("sam3.model_builder.SimpleTokenizer -> IdsTokenizer (sam3lib token ids)")
    mode = CudaToCpu()
    with mode:
        model = builder.build_sam3_image_model(
            bpe_path="<unused: IdsTokenizer>",
            device="cpu",
            eval_mode=True,
            checkpoint_path=None,
            load_from_HF=False,
            enable_segmentation=True,
            enable_inst_interactivity=False,
            compile=False,
        )
    PATCHES.append(f"build-time CudaToCpu mode: {mode.rewrites} device='cuda' kwargs -> 'cpu'")
    return model
