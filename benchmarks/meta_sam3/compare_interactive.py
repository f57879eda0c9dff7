"""sam3lib's interactive head against Meta's ``SAM3InteractiveImagePredictor`` (sam3 0.1.4).

Same random weights, same picture, same prompts; Meta's predictor runs unmodified on a CPU-only
torch (the patches of ``meta_env.py``, plus the three listed below). Not part of CI.

- Ours: ``Sam3Config.tiny()`` (ViT width 32, 2 layers, 168 px, patch 14, window 6, global
  layer 1; necks 32; tracker 32 wide, 2 heads, FFN 64), ``sam3lib.bench.weights`` random
  weights with every constant-initialised tensor (norms, biases) perturbed by N(0, 0.1²) so
  that each one matters, and token 0's hyper-MLP output layer ×``--token0-gain`` (2: some
  single-mask prompts keep token 0, others fall back to 1..3), written as a checkpoint and
  read by ``Segmenter.from_pretrained``.
- Meta: its own classes built at the same sizes, as ``build_tracker(with_backbone=True)``
  wires them: ``ViT`` + ``Sam3DualViTDetNeck(add_sam2_neck=True)`` in ``SAM3VLBackbone`` in
  ``Sam3TrackerBase`` (the decoder's stability rule switched on, as the builder does).
  ``Sam3TrackerBase._build_sam_heads`` hard-codes the full-size FFN 2048, 8 heads and IoU head
  256, so its ``PromptEncoder``/``MaskDecoder``/``TwoWayTransformer`` are rebuilt with the
  same arguments at the tiny sizes. The video memory (memory attention and encoder) is not
  built: the image predictor never calls it. Weights: ours, written in Meta's names by
  ``ours_to_meta``; the keys Meta's model has and ours lacks must all be ones sam3lib's Meta
  loader ignores (video memory, RoPE tables), or the script stops.
- Meta's predictor is used as shipped (``set_image``, ``predict``): its coordinate transform,
  prompt encoding, decoder, hole filling (scikit-image, 8-connected, ≤ 256 low-res pixels),
  resize to the image, threshold and clamp. Extra patches, all here:

  1. ``SAM2Transforms`` (the predictor's pre/post-processing) keeps Meta's methods except
     ``__call__``, which returns sam3lib's pixels for the picture (``sam3lib.preprocess``:
     uint8 bilinear antialiased resize, then /255, mean = std = 0.5). Meta's own
     ``__call__`` resizes after converting to float (torchvision v1 ``ToTensor``, ``Resize``),
     which rounds differently; the script reports that difference separately
     ("Meta's own pixels"). Its ``__init__`` would build torchvision transforms, which the
     stand-in does not provide.
  2. ``predictor._bb_feat_sizes``: hard-coded 288/144/72 in Meta's ``__init__``; set to
     4G, 2G, G for the tiny grid G = 12.
  3. The build runs under ``meta_env.CudaToCpu`` (no tensor is made on CUDA).

Printed per prompt: max |Meta - ours| of the returned low-resolution logits, the same with
Meta's decoder given our features ("same feat.": the decoder's own rounding), of the IoU
scores, and the count of differing full-size mask pixels.

    pip install --target .meta-sam3 --no-deps sam3==0.1.4 timm==1.0.31 ftfy==6.3.1 wcwidth \\
        iopath==0.1.10 portalocker einops==0.8.2 psutil triton \\
        scikit-image scipy lazy_loader imageio tifffile
    PYTHONPATH=.meta-sam3:benchmarks/meta_sam3/shim:benchmarks/meta_sam3 \\
        python benchmarks/meta_sam3/compare_interactive.py
"""

from __future__ import annotations

import argparse
import tempfile
import types
import warnings
from pathlib import Path
from typing import Any

import meta_env
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

warnings.filterwarnings("ignore", message="CUDA is not available")
# Meta's predictor skips hole filling with a warning when no connected-components backend
# (scikit-image on CPU) imports; the masks would then differ: stop instead.
warnings.filterwarnings("error", message=".*Skipping the post-processing step")
meta_env.prepare()  # before sam3 is imported

import sam3.model.sam1_task_predictor as meta_predictor_module  # noqa: E402
from sam3.model.necks import Sam3DualViTDetNeck  # noqa: E402
from sam3.model.position_encoding import PositionEmbeddingSine  # noqa: E402
from sam3.model.sam3_tracker_base import Sam3TrackerBase  # noqa: E402
from sam3.model.utils.sam1_utils import SAM2Transforms  # noqa: E402
from sam3.model.vitdet import ViT  # noqa: E402
from sam3.model.vl_combiner import SAM3VLBackbone  # noqa: E402
from sam3.sam.mask_decoder import MaskDecoder  # noqa: E402
from sam3.sam.prompt_encoder import PromptEncoder  # noqa: E402
from sam3.sam.transformer import TwoWayTransformer  # noqa: E402

from sam3lib import Segmenter  # noqa: E402
from sam3lib.bench.isolated import synthetic_image  # noqa: E402
from sam3lib.bench.weights import random_state_dict, write_checkpoint  # noqa: E402
from sam3lib.checkpoint import ours_to_meta  # noqa: E402
from sam3lib.checkpoint.meta_layout import META_IGNORED  # noqa: E402
from sam3lib.model import Sam3Config  # noqa: E402
from sam3lib.preprocess import preprocess  # noqa: E402

NOISE = 0.1
# The single-mask token's hyper-MLP output layer. Random weights make token 0's logits small,
# its stability below 0.98 for every prompt, and every single-mask case fall back to tokens
# 1..3; scaling this layer (--token0-gain) makes some prompts keep token 0.
TOKEN0_OUT = "tracker_model.mask_decoder.output_hypernetworks_mlps.0.proj_out.weight"
PIXEL_SOURCE: dict[str, Tensor] = {}  # what OurPixelTransforms hands Meta's set_image

# (name, prompt keywords of Segmenter.predict); each runs with multimask on and off. Points in
# pixels of the picture (H 150, W 200 by default). "mask input + click" also gets the best
# low-resolution logits of "one click" (multimask on) as mask_input.
PROMPTS: list[tuple[str, dict[str, Any]]] = [
    ("one click", {"points": [[120.0, 70.0]], "point_labels": [1]}),
    ("clicks + negative", {"points": [[120.0, 70.0], [40.5, 110.25]], "point_labels": [1, 0]}),
    ("box", {"box": [30.0, 20.0, 160.0, 130.0]}),
    ("box + click", {"box": [30.0, 20.0, 160.0, 130.0], "points": [[90.0, 75.0]]}),
    ("mask input + click", {"points": [[60.0, 40.0]], "point_labels": [1]}),
]


class OurPixelTransforms(SAM2Transforms):
    """Meta's ``SAM2Transforms`` (coordinate transforms, hole filling, resize: all Meta's)
    whose image transform returns sam3lib's pixels (patch 1 of the module docstring)."""

    def __init__(
        self,
        resolution: int,
        mask_threshold: float,
        max_hole_area: float = 0.0,
        max_sprinkle_area: float = 0.0,
    ) -> None:
        nn.Module.__init__(self)  # skips building torchvision's transforms
        self.resolution = resolution
        self.mask_threshold = mask_threshold
        self.max_hole_area = max_hole_area
        self.max_sprinkle_area = max_sprinkle_area

    def __call__(self, image: Any) -> Tensor:
        return PIXEL_SOURCE["pixels"][0]


def meta_float_pixels(image: np.ndarray, size: int) -> Tensor:
    """What Meta's own ``SAM2Transforms.__call__`` computes: torchvision v1 ``ToTensor``
    (/255, float), ``Resize`` (bilinear, antialias, on the float tensor), ``Normalize``."""
    x = torch.from_numpy(image).permute(2, 0, 1).float().div(255)
    x = F.interpolate(x[None], (size, size), mode="bilinear", antialias=True, align_corners=False)
    return (x - 0.5) / 0.5


def perturbed_random_state(config: Sam3Config, seed: int, token0_gain: float) -> dict[str, Tensor]:
    state = random_state_dict(config, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    for key, tensor in state.items():
        if bool((tensor == tensor.flatten()[0]).all()):  # a norm or bias left at 1 or 0
            state[key] = tensor + NOISE * torch.randn(tensor.shape, generator=generator)
    state[TOKEN0_OUT] = state[TOKEN0_OUT] * token0_gain
    return state


def build_meta_tracker(config: Sam3Config) -> Sam3TrackerBase:
    """Meta's tracker with its backbone, at ``config``'s sizes (see the module docstring)."""
    vision, tracker = config.vision, config.tracker
    assert tracker is not None
    assert vision.fpn_size == tracker.hidden_size, "Meta's tracker width is its neck's"
    trunk = ViT(
        img_size=vision.image_size,
        pretrain_img_size=vision.pretrain_grid_size * vision.patch_size,
        patch_size=vision.patch_size,
        embed_dim=vision.hidden_size,
        depth=vision.num_layers,
        num_heads=vision.num_heads,
        mlp_ratio=vision.intermediate_size / vision.hidden_size,
        norm_layer="LayerNorm",
        drop_path_rate=0.0,
        qkv_bias=True,
        use_abs_pos=True,
        tile_abs_pos=True,
        global_att_blocks=vision.global_attention_layers,
        rel_pos_blocks=(),
        use_rope=True,
        use_interp_rope=True,
        window_size=vision.window_size,
        pretrain_use_cls_token=True,
        retain_cls_token=False,
        ln_pre=True,
        ln_post=False,
        return_interm_layers=False,
        bias_patch_embed=False,
    )
    neck = Sam3DualViTDetNeck(
        trunk=trunk,
        position_encoding=PositionEmbeddingSine(num_pos_feats=vision.fpn_size, normalize=True),
        d_model=vision.fpn_size,
        scale_factors=list(vision.fpn_scale_factors),
        add_sam2_neck=True,
    )
    model = Sam3TrackerBase(
        backbone=SAM3VLBackbone(visual=neck, text=None, scalp=1),
        # The video memory, never called by the image predictor: only what __init__ reads.
        transformer=types.SimpleNamespace(decoder=None, d_model=tracker.hidden_size),
        maskmem_backbone=nn.Identity(),
        image_size=vision.image_size,
        backbone_stride=vision.patch_size,
        sam_mask_decoder_extra_args={
            "dynamic_multimask_via_stability": True,
            "dynamic_multimask_stability_delta": tracker.stability_delta,
            "dynamic_multimask_stability_thresh": tracker.stability_threshold,
        },
    )
    # _build_sam_heads' arguments, with the sizes it hard-codes taken from the config.
    grid = vision.grid_size
    model.sam_prompt_encoder = PromptEncoder(
        embed_dim=tracker.hidden_size,
        image_embedding_size=(grid, grid),
        input_image_size=(vision.image_size, vision.image_size),
        mask_in_chans=tracker.mask_input_channels,
    )
    model.sam_mask_decoder = MaskDecoder(
        num_multimask_outputs=tracker.num_multimask_outputs,
        transformer=TwoWayTransformer(
            depth=tracker.num_layers,
            embedding_dim=tracker.hidden_size,
            mlp_dim=tracker.mlp_dim,
            num_heads=tracker.num_heads,
            attention_downsample_rate=tracker.attention_downsample_rate,
        ),
        transformer_dim=tracker.hidden_size,
        iou_head_depth=tracker.iou_head_depth,
        iou_head_hidden_dim=tracker.iou_head_hidden_size,
        use_high_res_features=True,
        iou_prediction_use_sigmoid=True,
        pred_obj_scores=True,
        pred_obj_scores_mlp=True,
        use_multimask_token_for_obj_ptr=True,
        **model.sam_mask_decoder_extra_args,
    )
    return model.eval()


def load_ours_into_meta(model: Sam3TrackerBase, ours: dict[str, Tensor]) -> None:
    """Our weights in Meta's sam3.pt names -> Meta's tracker (prefixes as the builder's)."""
    converted = ours_to_meta(ours)
    trunk_and_necks = "detector.backbone.vision_backbone."
    state = {
        k.removeprefix("tracker."): v for k, v in converted.items() if k.startswith("tracker.")
    }
    state |= {
        "backbone.vision_backbone." + k.removeprefix(trunk_and_necks): v
        for k, v in converted.items()
        if k.startswith(trunk_and_necks)
    }
    loaded = model.load_state_dict(state, strict=False)
    if loaded.unexpected_keys:
        raise SystemExit(f"keys Meta's tracker lacks: {loaded.unexpected_keys}")
    meta_names = [
        ("detector." if k.startswith("backbone.") else "tracker.") + k for k in loaded.missing_keys
    ]
    unexplained = [k for k in meta_names if not any(e.matches(k) for e in META_IGNORED)]
    if unexplained:
        raise SystemExit(f"Meta's tracker keys ours does not provide: {unexplained}")
    print(
        f"Meta's tracker: {len(state)} tensors loaded from ours; {len(meta_names)} of its own "
        "left (all in sam3lib's META_IGNORED: video memory, RoPE tables)"
    )


def max_abs(a: Any, b: Any) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def meta_predict(predictor: Any, prompt: dict[str, Any], multimask: bool) -> tuple[Any, ...]:
    points = prompt.get("points")
    labels = prompt.get("point_labels", [1] * len(points) if points is not None else None)
    return tuple(
        predictor.predict(
            point_coords=None if points is None else np.array(points, np.float32),
            point_labels=None if labels is None else np.array(labels, np.int32),
            box=None if "box" not in prompt else np.array(prompt["box"], np.float32),
            mask_input=None if "mask_input" not in prompt else prompt["mask_input"][None],
            multimask_output=multimask,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--height", type=int, default=150)
    parser.add_argument("--width", type=int, default=200)
    parser.add_argument("--token0-gain", type=float, default=2.0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    config = Sam3Config.tiny()
    assert config.tracker is not None
    image = synthetic_image(args.height, args.width, seed=args.seed)
    size, grid = config.vision.image_size, config.vision.grid_size

    with tempfile.TemporaryDirectory() as directory:
        state = perturbed_random_state(config, args.seed, args.token0_gain)
        segmenter = Segmenter.from_pretrained(write_checkpoint(config, state, Path(directory)))
    ours_state = segmenter.backend.model.state_dict()  # type: ignore[attr-defined]

    mode = meta_env.CudaToCpu()
    with mode:
        meta_model = build_meta_tracker(config)
        meta_predictor_module.SAM2Transforms = OurPixelTransforms  # type: ignore[misc]
        predictor = meta_predictor_module.SAM3InteractiveImagePredictor(meta_model)
    print(f"build-time CudaToCpu rewrites: {mode.rewrites}")
    predictor._bb_feat_sizes = [(4 * grid, 4 * grid), (2 * grid, 2 * grid), (grid, grid)]
    load_ours_into_meta(meta_model, ours_state)

    pixels = preprocess(image, size).pixels
    own = meta_float_pixels(image, size)
    print(f"picture {args.height}x{args.width}, model input {size}²; Meta's own float-resize")
    print(f"  pixels differ from ours (uint8 resize) by up to {max_abs(own, pixels):.3e}")

    PIXEL_SOURCE["pixels"] = pixels
    predictor.set_image(image)
    embedding = segmenter.encode_image(image)
    with torch.inference_mode():
        features = embedding.interactive_features()
    meta_features = predictor._features
    print("features (same pixels):")
    for name, meta, mine in (
        ("image_embed (+ no_mem)", meta_features["image_embed"], features.embedding),
        ("high_res 4G (conv_s0)", meta_features["high_res_feats"][0], features.high_res_x4),
        ("high_res 2G (conv_s1)", meta_features["high_res_feats"][1], features.high_res_x2),
    ):
        print(f"  {name:24s} max |Meta - ours| {max_abs(meta, mine):.2e}  max |ours| "
              f"{float(mine.abs().max()):.2e}")  # fmt: skip

    # Meta's decoder once more on our features: separates the decoder's rounding from the
    # ViT's (the "same feat." column).
    our_features = {
        "image_embed": features.embedding,
        "high_res_feats": [features.high_res_x4, features.high_res_x2],
    }
    header = f"{'prompt':18s} {'multimask':9s} {'token':>5s} {'logits':>9s} {'same feat.':>10s}"
    print(f"\n{header} {'max|lgt|':>8s} {'IoU':>9s} {'mask px':>11s} {'holes':>5s}")
    worst = 0.0
    prompts: dict[str, dict[str, Any]] = {}
    for name, base in PROMPTS:
        candidates: np.ndarray | None = None  # ours, multimask on: tokens 1..3
        for multimask in (True, False):
            prompt = dict(base)
            if name == "mask input + click":
                best = prompts["one click"]["best_logits"]
                prompt["mask_input"] = best
            masks, scores, low_res = meta_predict(predictor, prompt, multimask)
            predictor._features, meta_features = our_features, predictor._features
            decoder_only = meta_predict(predictor, prompt, multimask)[2]
            predictor._features = meta_features
            result = segmenter.predict(embedding, **prompt, multimask=multimask)
            unfilled = segmenter.predict(embedding, **prompt, multimask=multimask, max_hole_area=0)
            if multimask:
                candidates = result.logits
                prompts[name] = {"best_logits": result.logits[result.best]}
                tokens = "1-3"
            else:  # token 0, or the stability rule's fallback to the best of 1..3
                assert candidates is not None
                same = [k + 1 for k in range(3) if np.array_equal(candidates[k], result.logits[0])]
                tokens = f"{same[0]} fb" if same else "0"
            assert masks.shape == result.masks.shape, (masks.shape, result.masks.shape)
            logits_diff = max_abs(low_res, result.logits)
            worst = max(worst, logits_diff, max_abs(scores, result.scores))
            differing = int((masks != result.masks).sum())
            filled = int((result.masks != unfilled.masks).sum())  # pixels hole filling changed
            print(
                f"{name:18s} {multimask!s:9s} {tokens:>5s} {logits_diff:9.2e} "
                f"{max_abs(decoder_only, result.logits):10.2e} "
                f"{float(np.abs(result.logits).max()):8.2f} {max_abs(scores, result.scores):9.2e}"
                f" {differing:5d}/{masks.size:<5d} {filled:5d}"
            )
    print(f"\nworst logits/IoU difference: {worst:.2e}")

    # The same comparison once more, Meta given its own pixels (float resize): what the
    # preprocessing difference alone does.
    PIXEL_SOURCE["pixels"] = own
    predictor.set_image(image)
    name, prompt = PROMPTS[0]
    masks, scores, low_res = meta_predict(predictor, prompt, True)
    result = segmenter.predict(embedding, **prompt, multimask=True)
    print(
        f"Meta's own pixels, {name}: logits {max_abs(low_res, result.logits):.2e}, IoU "
        f"{max_abs(scores, result.scores):.2e}, mask px {int((masks != result.masks).sum())}"
        f"/{masks.size}"
    )


if __name__ == "__main__":
    main()
