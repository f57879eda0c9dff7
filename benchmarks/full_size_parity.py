"""Full-size parity: sam3lib vs transformers' ``Sam3Model`` on the same random weights.

Not part of CI (≈ 3 minutes and ≈ 8 GB on a 2-core machine). Builds the published
architecture in transformers with its random init (ViT LayerNorm eps set to Meta's 1e-5),
hands the very same tensors to our model, and reports the max abs difference of every raw
output for a text prompt (transformers given a padding box, i.e. Meta's semantics) and for a
text + exemplar-box prompt.

    python benchmarks/full_size_parity.py            # needs the dev extra (transformers)
    python benchmarks/full_size_parity.py --resolution 672    # another input size (issue 18)
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.transformers_reference import (
    PAD_BOX_LABEL,
    install_reference_roi_align,
    paired_outputs,
)
from sam3lib.model import Sam3Config, Sam3Model, Sam3Outputs


def build_reference(seed: int, resolution: int) -> Any:
    from transformers import Sam3Config as ReferenceConfig
    from transformers import Sam3Model as ReferenceModel

    torch.manual_seed(seed)
    config = ReferenceConfig()
    backbone = config.vision_config.backbone_config
    backbone.layer_norm_eps = 1e-5
    backbone.image_size = resolution
    grid = resolution // backbone.patch_size
    config.vision_config.backbone_feature_sizes = [[4 * grid] * 2, [2 * grid] * 2, [grid] * 2]
    return ReferenceModel(config).eval()


def differences(reference: Any, ours: Sam3Outputs) -> dict[str, tuple[float, float]]:
    return {
        name: ((a - b).abs().max().item(), a.abs().max().item())
        for name, (a, b) in paired_outputs(reference, ours).items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resolution", type=int, default=1008, help="a multiple of 336")
    args = parser.parse_args()
    install_reference_roi_align()

    start = time.perf_counter()
    reference = build_reference(args.seed, args.resolution)
    # transformers' Sam3Model is the detector alone: ours without the interactive head.
    config = replace(Sam3Config.sam3().at_resolution(args.resolution), tracker=None)
    ours = Sam3Model(config).eval()
    ours.load_state_dict(reference.state_dict(), strict=True, assign=True)  # shares the tensors
    print(f"built both models in {time.perf_counter() - start:.0f} s")

    generator = torch.Generator().manual_seed(args.seed)
    size = args.resolution
    pixels = torch.rand(1, 3, size, size, generator=generator) * 2 - 1
    print(f"resolution {size}")
    ids = torch.full((1, 32), 49407)
    ids[0, :5] = torch.tensor([49406, 320, 736, 1615, 49407])
    mask = torch.arange(32)[None] < 5
    boxes = torch.tensor([[[0.4, 0.5, 0.3, 0.2], [0.7, 0.3, 0.2, 0.4]]])
    labels = torch.tensor([[1, 0]])

    with torch.no_grad():
        vision = reference.get_vision_features(pixel_values=pixels)
        image = ours.encode_image(pixels)
        text = ours.encode_text(ids, mask)
        cases = {
            "text": (
                {
                    "input_boxes": torch.zeros(1, 1, 4),
                    "input_boxes_labels": torch.tensor([[PAD_BOX_LABEL]]),
                },
                ours.decode(image, text),
            ),
            "text + boxes": (
                {"input_boxes": boxes, "input_boxes_labels": labels},
                ours.decode(image, text, boxes, labels),
            ),
        }
        print(f"{'case':<14}{'output':<17}{'max |diff|':>12}{'max |ref|':>12}")
        for case, (box_inputs, actual) in cases.items():
            expected = reference(
                vision_embeds=vision, input_ids=ids, attention_mask=mask.long(), **box_inputs
            )
            for name, (diff, scale) in differences(expected, actual).items():
                print(f"{case:<14}{name:<17}{diff:>12.3e}{scale:>12.3e}")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
