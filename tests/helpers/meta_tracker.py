"""Meta's ``Sam3TrackerPredictor`` (sam3 0.1.4) on the CPU, as the parity reference of our
click tracking (``SAM3_TRACKER_FACTS.md`` §4 "Meta on CPU").

Built as ``sam3.model_builder.build_tracker`` builds it (full width 256, 64-channel memory, 4
memory-attention layers, the builder's predictor arguments), but for a 112 px input (8² grid,
32² low-res masks, 128² memory-encoder mask inputs) and without the image backbone: each
frame's tracker features are random and handed to Meta through ``init_state``'s
``cached_features`` and to us through a :class:`~sam3lib.video.frame_encoder.FrameEncoder`
that returns them. Weights are Meta's init plus seeded noise, in eval mode and fp32, loaded
into our head through the library's Meta key map (:func:`sam3lib.checkpoint.meta_to_ours`).

On the CPU, Meta's CUDA-bound calls become no-ops while it runs (:func:`meta_on_cpu`:
``Tensor.cuda``, ``pin_memory``) and the bf16 CUDA autocast its ``__init__`` enters and never
leaves is not entered. Meta's modules import with stand-ins for what they import but never
call here (triton's distance transform, timm's ``DropPath``, the training collator, the video
loader, torchvision's RoIAlign, einops).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from helpers.meta_sam3 import bare_package, meta_sam3_root, stand_in
from sam3lib.checkpoint import meta_to_ours
from sam3lib.model.config import TrackerConfig, VideoConfig
from sam3lib.model.interactive import InteractiveHead
from sam3lib.video.memory_bank import FrameMemory, MemoryBank
from sam3lib.video.tracker_step import TrackerFrameFeatures

IMAGE_SIZE, GRID = 112, 8
WIDTH, MEMORY_CHANNELS = 256, 64
STRIDE = IMAGE_SIZE // GRID  # Meta's backbone_stride: 14, as SAM 3's
# Meta's init plus noise scores a random object near 0: this shift makes it present on most
# frames and absent on some, so both branches of the absent-object rule are compared.
OBJECT_SCORE_BIAS = 6.9
NOISE = 0.05
OBJECT_SCORE_GAIN = 10.0


def _unused(*_: Any, **__: Any) -> Any:
    raise AssertionError("a stand-in for an import Meta's tracker never calls here")


@functools.cache
def meta_tracker_modules() -> types.SimpleNamespace:
    """Meta's tracker modules, imported without ``sam3/__init__`` and with stand-ins; they
    leave ``sys.modules`` afterwards (their code imports nothing more when it runs)."""
    root = meta_sam3_root()
    modules: dict[str, types.ModuleType] = {
        "sam3": bare_package("sam3", root),
        "sam3.model": bare_package("sam3.model", root / "model"),
        "sam3.sam": bare_package("sam3.sam", root / "sam"),
        "sam3.model.utils": bare_package("sam3.model.utils", root / "model" / "utils"),
        "sam3.model.edt": stand_in("sam3.model.edt", edt_triton=_unused),
        "sam3.model.utils.sam2_utils": stand_in("s", load_video_frames=_unused),
        "sam3.train": bare_package("sam3.train"),
        "sam3.train.data": bare_package("sam3.train.data"),
        "sam3.train.data.collator": stand_in("c", BatchedDatapoint=_unused),
        "timm": bare_package("timm"),
        "timm.layers": stand_in(
            "timm.layers", DropPath=_unused, trunc_normal_=torch.nn.init.trunc_normal_
        ),
    }
    if importlib.util.find_spec("einops") is None:
        modules["einops"] = stand_in("einops", rearrange=_unused, repeat=_unused)
    if importlib.util.find_spec("torchvision") is None:
        modules["torchvision"] = bare_package("torchvision")
        modules["torchvision.ops"] = bare_package("torchvision.ops")
        modules["torchvision.ops.roi_align"] = stand_in("r", RoIAlign=_unused)
    importlib.import_module("tqdm.auto")
    with pytest_monkeypatch() as patch:
        for name, module in modules.items():
            patch.setitem(sys.modules, name, module)
        loaded = types.SimpleNamespace(
            predictor=importlib.import_module("sam3.model.sam3_tracking_predictor"),
            memory=importlib.import_module("sam3.model.memory"),
            position=importlib.import_module("sam3.model.position_encoding"),
            decoder=importlib.import_module("sam3.model.decoder"),
            misc=importlib.import_module("sam3.model.model_misc"),
            transformer=importlib.import_module("sam3.sam.transformer"),
        )
        meta_names = [name for name in sys.modules if name.startswith("sam3.")]
    for name in meta_names:  # after the context: its undo would restore them
        sys.modules.pop(name, None)
    return loaded


@contextlib.contextmanager
def pytest_monkeypatch() -> Iterator[Any]:
    import pytest

    with pytest.MonkeyPatch.context() as patch:
        yield patch


@contextlib.contextmanager
def meta_on_cpu() -> Iterator[None]:
    """Meta's CUDA-bound tensor calls as no-ops (``.cuda()``, ``.pin_memory()``)."""
    with pytest_monkeypatch() as patch:
        patch.setattr(torch.Tensor, "cuda", lambda self, *_, **__: self)
        patch.setattr(torch.Tensor, "pin_memory", lambda self, *_, **__: self)
        yield


def _memory_encoder(meta: types.SimpleNamespace) -> Any:
    position = meta.position.PositionEmbeddingSine(
        num_pos_feats=MEMORY_CHANNELS,
        normalize=True,
        scale=None,
        temperature=10000,
        precompute_resolution=None,  # the builder's 1008 allocates on CUDA
    )
    downsampler = meta.memory.SimpleMaskDownSampler(
        kernel_size=3, stride=2, padding=1, interpol_size=[16 * GRID, 16 * GRID]
    )
    block = meta.memory.CXBlock(
        dim=WIDTH, kernel_size=7, padding=3, layer_scale_init_value=1.0e-06, use_dwconv=True
    )
    return meta.memory.SimpleMaskEncoder(
        out_dim=MEMORY_CHANNELS,
        position_encoding=position,
        mask_downsampler=downsampler,
        fuser=meta.memory.SimpleFuser(layer=block, num_layers=2),
    )


def _memory_attention(meta: types.SimpleNamespace, num_layers: int) -> Any:
    common = {"embedding_dim": WIDTH, "num_heads": 1, "downsample_rate": 1, "dropout": 0.1}
    rope = {"rope_theta": 10000.0, "feat_sizes": [GRID, GRID], "use_fa3": False}
    rope_attention = meta.transformer.RoPEAttention
    layer = meta.decoder.TransformerDecoderLayerv2(
        cross_attention_first=False,
        activation="relu",
        dim_feedforward=2048,
        dropout=0.1,
        pos_enc_at_attn=False,
        pre_norm=True,
        self_attention=rope_attention(**common, **rope, use_rope_real=False),
        d_model=WIDTH,
        pos_enc_at_cross_attn_keys=True,
        pos_enc_at_cross_attn_queries=False,
        cross_attention=rope_attention(
            **common, **rope, kv_in_dim=MEMORY_CHANNELS, rope_k_repeat=True, use_rope_real=False
        ),
    )
    encoder = meta.decoder.TransformerEncoderCrossAttention(
        remove_cross_attention_layers=[],
        batch_first=True,
        d_model=WIDTH,
        frozen=False,
        pos_enc_at_input=True,
        layer=layer,
        num_layers=num_layers,
        use_act_checkpoint=False,
    )
    return meta.misc.TransformerWrapper(encoder=encoder, decoder=None, d_model=WIDTH)


def build_meta_tracker(
    seed: int = 0, *, num_layers: int = 4, use_memory_selection: bool = False
) -> Any:
    """Meta's ``Sam3TrackerPredictor`` with ``build_tracker``'s arguments at 112 px, no
    backbone, eval mode, fp32, its init plus seeded noise (so that norms, biases and
    embeddings all matter; ``get_clones``' layer copies get weights of their own).

    ``use_memory_selection``: the builder passes ``apply_temporal_disambiguation`` (True for
    ``build_sam3_video_model``'s tracker, which also serves its click prompts; False for the
    image model's interactive predictor).
    """
    meta = meta_tracker_modules()
    torch.manual_seed(seed)
    # Meta's __init__ enters a bf16 CUDA autocast and never leaves it: not on the CPU.
    with pytest_monkeypatch() as patch:
        patch.setattr(torch, "autocast", lambda *_, **__: contextlib.nullcontext())
        tracker = meta.predictor.Sam3TrackerPredictor(
            image_size=IMAGE_SIZE,
            num_maskmem=7,
            backbone=None,
            backbone_stride=STRIDE,
            transformer=_memory_attention(meta, num_layers),
            maskmem_backbone=_memory_encoder(meta),
            multimask_output_in_sam=True,
            forward_backbone_per_frame_for_eval=True,
            trim_past_non_cond_mem_for_eval=False,
            multimask_output_for_tracking=True,
            multimask_min_pt_num=0,
            multimask_max_pt_num=1,
            always_start_from_first_ann_frame=False,
            non_overlap_masks_for_mem_enc=False,
            non_overlap_masks_for_output=False,
            max_cond_frames_in_attn=4,
            offload_output_to_cpu_for_eval=False,
            sam_mask_decoder_extra_args={
                "dynamic_multimask_via_stability": True,
                "dynamic_multimask_stability_delta": 0.05,
                "dynamic_multimask_stability_thresh": 0.98,
            },
            clear_non_cond_mem_around_input=True,
            fill_hole_area=0,
            use_memory_selection=use_memory_selection,
        )
    tracker.eval()
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for parameter in tracker.parameters():
            parameter.add_(NOISE * torch.randn(parameter.shape, generator=generator))
        score_head = tracker.sam_mask_decoder.pred_obj_score_head.layers[-1]
        score_head.weight.mul_(OBJECT_SCORE_GAIN)
        score_head.bias.add_(OBJECT_SCORE_BIAS)
    return tracker


def build_our_head(tracker: Any) -> InteractiveHead:
    """Our full-width tracker head holding Meta's tensors, converted by the library's Meta key
    map (``tracker.*``). The map wants a detector tensor to call a state dict Meta's, so one
    stand-in detector key goes in and its converted self is dropped again."""
    state = {f"tracker.{key}": value for key, value in tracker.state_dict().items()}
    stand_in_key = "detector.backbone.vision_backbone.trunk.pos_embed"
    state[stand_in_key] = torch.zeros(1, 1 + 4, 8)
    converted = meta_to_ours(state)
    prefix = "tracker_model."
    ours = {k.removeprefix(prefix): v for k, v in converted.items() if k.startswith(prefix)}
    head = InteractiveHead(TrackerConfig(), IMAGE_SIZE, GRID, VideoConfig()).eval()
    head.load_state_dict(ours, strict=True)
    return head


def meta_state(tracker: Any, frames: list[TrackerFrameFeatures]) -> dict[str, Any]:
    """Meta's inference state with every frame's features cached (video = model size)."""
    cached = {}
    for t, frame in enumerate(frames):
        levels = [frame.high_res_x4, frame.high_res_x2, frame.features]
        positions = [torch.zeros_like(level) for level in levels[:-1]] + [frame.position]
        image = torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE)
        cached[t] = (image, {"backbone_fpn": levels, "vision_pos_enc": positions})
    with meta_on_cpu():
        state: dict[str, Any] = tracker.init_state(
            video_height=IMAGE_SIZE,
            video_width=IMAGE_SIZE,
            num_frames=len(frames),
            cached_features=cached,
            offload_state_to_cpu=True,
        )
    return state


def meta_propagate(
    tracker: Any, state: dict[str, Any], *, start: int | None = None, reverse: bool = False
) -> dict[int, tuple[Tensor, Tensor]]:
    """Meta's ``propagate_in_video`` (preflight first): per frame, the low-res mask logits
    (N, 1, 4G, 4G) and object-score logits (N, 1) of its N objects."""
    out = {}
    with meta_on_cpu():
        for frame, _, low_res, _, scores in tracker.propagate_in_video(
            state, start, None, reverse, tqdm_disable=True, propagate_preflight=True
        ):
            out[frame] = (low_res.clone(), scores.clone())
    return out


def meta_entry(state: dict[str, Any], obj_idx: int, frame: int) -> tuple[FrameMemory, bool]:
    """Meta's stored memory of one object on ``frame`` as our bank entry (bf16 as stored) and
    whether it is a conditioning frame. Read from the batched ``output_dict``, which tracking
    reads (``_clear_non_cond_mem_around_input`` clears only the per-object slices)."""
    stored = state["output_dict"]
    conditioning = frame in stored["cond_frame_outputs"]
    out = stored["cond_frame_outputs" if conditioning else "non_cond_frame_outputs"][frame]
    rows = slice(obj_idx, obj_idx + 1)
    score = out.get("eff_iou_score")  # the frame's memory-selection score, over the batch
    entry = FrameMemory(
        out["maskmem_features"][rows],
        out["obj_ptr"][rows],
        out["object_score_logits"][rows],
        None if conditioning or score is None else float(score),
    )
    return entry, conditioning


def meta_bank(state: dict[str, Any], obj_idx: int, frames: Any) -> MemoryBank:
    """Our bank holding Meta's stored memories of ``frames`` for one object."""
    bank = MemoryBank()
    for frame in frames:
        entry, conditioning = meta_entry(state, obj_idx, frame)
        bank = bank.with_frame(frame, entry, conditioning=conditioning)
    return bank
