"""The three entry points trace to static graphs (the basis of the ONNX/TensorRT backends)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from sam3lib.model import ImageFeatures, Sam3Config, Sam3Model, TextFeatures


class _Decode(nn.Module):
    """``decode`` with flat tensor arguments, as an exported graph sees it."""

    def __init__(self, model: Sam3Model) -> None:
        super().__init__()
        self.model = model

    def forward(self, *tensors: Tensor) -> tuple[Tensor, ...]:
        fields = len(ImageFeatures._fields)
        image = ImageFeatures(*tensors[:fields])
        text = TextFeatures(*tensors[fields : fields + 2])
        return tuple(self.model.decode(image, text, *tensors[fields + 2 :]))


class _EncodeImage(nn.Module):
    def __init__(self, model: Sam3Model) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.model.encode_image(pixels))


class _EncodeText(nn.Module):
    def __init__(self, model: Sam3Model) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor, mask: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.model.encode_text(ids, mask))


@pytest.fixture(scope="module")
def model() -> Sam3Model:
    torch.manual_seed(0)
    model = Sam3Model(Sam3Config.tiny()).eval()
    for parameter in model.parameters():
        nn.init.normal_(parameter, std=0.1)
    return model


def _export_and_compare(module: nn.Module, args: tuple[Tensor, ...]) -> None:
    program = torch.export.export(module, args, strict=False)
    with torch.no_grad():
        for exported, eager in zip(program.module()(*args), module(*args), strict=True):
            torch.testing.assert_close(exported, eager, atol=0, rtol=0)


def test_encode_image_exports(model: Sam3Model) -> None:
    _export_and_compare(_EncodeImage(model), (torch.randn(1, 3, 168, 168),))


def test_encode_text_exports(model: Sam3Model) -> None:
    ids = torch.randint(0, 49408, (2, 32))
    _export_and_compare(_EncodeText(model), (ids, torch.arange(32).expand(2, 32) < 6))


def test_decode_with_padded_boxes_exports(model: Sam3Model) -> None:
    """No data-dependent control flow: a padding box is a mask value, not a branch."""
    with torch.no_grad():
        image = model.encode_image(torch.randn(1, 3, 168, 168))
        text = model.encode_text(torch.randint(0, 49408, (3, 32)), torch.ones(3, 32, dtype=bool))
    boxes = torch.rand(3, 2, 4) * 0.5 + 0.25
    labels = torch.tensor([[1, 0], [1, 1], [0, 1]])
    box_mask = torch.tensor([[True, True], [True, False], [False, False]])
    _export_and_compare(_Decode(model), (*image, *text, boxes, labels, box_mask))
