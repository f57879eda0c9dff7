"""The image encoder's FLOP count from the config equals what PyTorch counts when it runs."""

from __future__ import annotations

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from sam3lib.bench.flops import image_encoder_flops
from sam3lib.model import Sam3Config, Sam3Model


def test_count_from_config_equals_flop_counter_on_tiny_model() -> None:
    config = Sam3Config.tiny()
    model = Sam3Model(config).eval()
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.02)
    pixels = torch.zeros(2, 3, config.vision.image_size, config.vision.image_size)
    # The math SDPA kernel runs attention as bmm, which FlopCounterMode counts; the fused CPU
    # kernel it does not count at all.
    with torch.inference_mode(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as f:
        model.encode_image(pixels)
    assert image_encoder_flops(config, batch=2).total == f.get_total_flops()


def test_published_model_is_about_five_and_a_half_teraflop() -> None:
    flops = image_encoder_flops(Sam3Config.sam3())
    assert 5.3e12 < flops.backbone < 5.5e12
    assert flops.total == flops.backbone + flops.neck + flops.detector_prep
    assert 0.1e12 < flops.detector_prep < 0.2e12  # two convs at 144² and 288², one attention
    assert flops.to_dict()["total"] == flops.total
