"""Configuration of the SAM 3 image detector, one dataclass per model part.

The presets are :meth:`Sam3Config.sam3` (the published model) and :meth:`Sam3Config.tiny`
(a few thousand parameters per part, for tests). :meth:`Sam3Config.from_transformers_dict` reads
the ``config.json`` that transformers writes (``model_type`` ``"sam3"`` or the hub's
``"sam3_video"``), so tiny test checkpoints and the real one load through the same path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from sam3lib.errors import ConfigError, InputError

# Meta's ViT uses LayerNorm eps 1e-5 and the published weights were trained with it;
# transformers' config default (1e-6) is a known reference difference (docs/reference.md).
META_VIT_LAYER_NORM_EPS = 1e-5


@dataclass(frozen=True)
class VisionConfig:
    """ViT backbone with windowed/global attention and axial RoPE, plus the FPN neck."""

    image_size: int = 1008
    patch_size: int = 14
    num_channels: int = 3
    hidden_size: int = 1024
    intermediate_size: int = 4736
    num_layers: int = 32
    num_heads: int = 16
    window_size: int = 24
    global_attention_layers: tuple[int, ...] = (7, 15, 23, 31)
    pretrain_grid_size: int = 24  # learned position-embedding grid, tiled over the token grid
    layer_norm_eps: float = META_VIT_LAYER_NORM_EPS
    rope_theta: float = 10000.0
    fpn_size: int = 256
    fpn_scale_factors: tuple[float, ...] = (4.0, 2.0, 1.0, 0.5)

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ConfigError(
                f"image_size {self.image_size} is not a multiple of {self.patch_size}"
            )
        if self.grid_size % self.window_size:
            raise ConfigError(
                f"token grid {self.grid_size} is not a multiple of window_size {self.window_size}"
            )
        if self.head_dim % 4:
            raise ConfigError("axial RoPE needs a head dimension divisible by 4")
        unsupported = set(self.fpn_scale_factors) - {4.0, 2.0, 1.0, 0.5}
        if unsupported:
            raise ConfigError(f"unsupported FPN scale factors {sorted(unsupported)}")

    @property
    def grid_size(self) -> int:
        """Tokens per side of the patch grid (72 for SAM 3)."""
        return self.image_size // self.patch_size

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


@dataclass(frozen=True)
class TextConfig:
    """CLIP-style causal text transformer and its projection to the detector width."""

    vocab_size: int = 49408
    context_length: int = 32
    hidden_size: int = 1024
    intermediate_size: int = 4096
    num_layers: int = 24
    num_heads: int = 16
    layer_norm_eps: float = 1e-5
    clip_projection_size: int = 512  # CLIP's own pooled projection: loaded, never used
    start_token_id: int = 49406
    end_token_id: int = 49407


@dataclass(frozen=True)
class GeometryConfig:
    """Exemplar-box encoder: box tokens plus a CLS token, refined against the image."""

    hidden_size: int = 256
    num_layers: int = 3
    num_heads: int = 8
    intermediate_size: int = 2048
    roi_size: int = 7
    layer_norm_eps: float = 1e-5


@dataclass(frozen=True)
class FusionEncoderConfig:
    """Transformer over image tokens that cross-attends to the prompt tokens."""

    hidden_size: int = 256
    num_layers: int = 6
    num_heads: int = 8
    intermediate_size: int = 2048
    layer_norm_eps: float = 1e-5


@dataclass(frozen=True)
class DecoderConfig:
    """DETR decoder with presence token, box relative-position bias and dot-product scoring."""

    hidden_size: int = 256
    num_layers: int = 6
    num_heads: int = 8
    intermediate_size: int = 2048
    num_queries: int = 200
    layer_norm_eps: float = 1e-5
    score_logit_clamp: float = 12.0
    box_eps: float = 1e-3  # inverse-sigmoid clamp used by iterative box refinement


@dataclass(frozen=True)
class MaskHeadConfig:
    """Pixel decoder plus instance and semantic mask projections."""

    hidden_size: int = 256
    num_upsampling_stages: int = 3
    num_heads: int = 8
    group_norm_groups: int = 8
    layer_norm_eps: float = 1e-5


@dataclass(frozen=True)
class TrackerConfig:
    """SAM 3's interactive head (SAM-2 style): its own FPN neck on the shared ViT, a prompt
    encoder for points, boxes and masks, and a two-way-transformer mask decoder.

    Only the parts an image needs; the video memory is :class:`VideoConfig`.
    """

    hidden_size: int = 256
    num_heads: int = 8
    mlp_dim: int = 2048  # two-way transformer FFN
    num_layers: int = 2  # two-way transformer blocks
    attention_downsample_rate: int = 2  # cross-attention inner width = hidden / this
    num_multimask_outputs: int = 3  # mask tokens 1..3; token 0 is the single-mask output
    iou_head_depth: int = 3
    iou_head_hidden_size: int = 256
    mask_input_channels: int = 16  # width of the mask-prompt downscaler's second conv
    layer_norm_eps: float = 1e-6  # the 2-D LayerNorms (mask downscaler, upscaling)
    # Meta's single-mask rule: token 0 unless its stability, area(logit > d) / area(logit >
    # -d), is below the threshold; then the best of tokens 1..3 by predicted IoU.
    stability_delta: float = 0.05
    stability_threshold: float = 0.98
    fpn_scale_factors: tuple[float, ...] = (4.0, 2.0, 1.0, 0.5)

    def __post_init__(self) -> None:
        if self.hidden_size % 8:
            raise ConfigError(f"tracker hidden_size {self.hidden_size} is not a multiple of 8")
        inner = self.hidden_size // self.attention_downsample_rate
        if self.hidden_size % self.num_heads or inner % self.num_heads:
            raise ConfigError(
                f"tracker widths {self.hidden_size} and {inner} must divide into "
                f"{self.num_heads} heads"
            )
        if sorted((s for s in self.fpn_scale_factors if s >= 1.0), reverse=True) != [4, 2, 1]:
            raise ConfigError("the tracker neck needs FPN levels x4, x2 and x1")

    @property
    def num_mask_tokens(self) -> int:
        return self.num_multimask_outputs + 1


@dataclass(frozen=True)
class MemoryEncoderConfig:
    """SAM 3's video memory encoder: an object's mask on a frame and the frame's tracker
    features (72² for SAM 3) → the memory later frames attend to (64 channels, same grid).

    The mask, as logits-like values ``mask · mask_scale + mask_bias``, is brought to 16 × the
    grid (1152² for SAM 3), downsampled by strided convolutions back to the grid, added to a
    1×1 projection of the features, fused by ConvNeXt blocks and projected to
    ``memory_channels``.
    """

    hidden_size: int = 256  # the tracker's width: the features in, the fuser's width
    memory_channels: int = 64
    downsampler_channels: tuple[int, ...] = (4, 16, 64, 256)  # k3 s2 conv + LN2d + GELU each
    fuser_layers: int = 2  # ConvNeXt blocks
    fuser_kernel_size: int = 7  # their depthwise convolution
    fuser_mlp_ratio: int = 4  # their pointwise MLP: hidden → ratio · hidden → hidden
    layer_scale_init: float = 1e-6
    layer_norm_eps: float = 1e-6
    mask_scale: float = 20.0  # a mask in [0, 1] enters as mask · 20 − 10
    mask_bias: float = -10.0

    @property
    def mask_stride(self) -> int:
        """Mask pixels per feature cell along each side: each downsampler conv halves the mask
        (16 for SAM 3: a 72² grid takes its mask at 1152²)."""
        return 2 ** len(self.downsampler_channels)


@dataclass(frozen=True)
class MemoryAttentionConfig:
    """SAM 3's video memory attention: a frame's features attend to the memories of earlier
    frames and to object pointers (pre-norm layers, RoPE on the spatial tokens).

    RoPE is the ViT's (:mod:`sam3lib.model.rope`): per head, interleaved channel pairs, the
    first half rotated by the token's column and the second by its row, integer positions
    0..G-1 (one table per memory frame, repeated), ``rope_theta`` base.
    """

    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 1
    mlp_dim: int = 2048  # FFN, ReLU
    memory_channels: int = 64  # keys/values come in at the memory encoder's width
    rope_theta: float = 10000.0
    input_position_weight: float = 0.1  # the frame's features enter as feat + 0.1 · sine PE
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads or (self.hidden_size // self.num_heads) % 4:
            raise ConfigError(
                f"memory attention width {self.hidden_size} must split into {self.num_heads} "
                "heads of a multiple of 4 channels (RoPE pairs for two axes)"
            )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


@dataclass(frozen=True)
class VideoConfig:
    """The tracker's video memory: the memory encoder and attention, and the small tensors of
    Meta's tracker step (temporal encodings, object pointers, the "object absent" embeddings).

    The memory encoder and attention run at ``hidden_size``, the tracker's width for a model
    that tracks (256 for SAM 3); the pointer tensors take the tracker's width, as in
    transformers, which builds a model whose widths differ too (only running it fails).
    Memories have ``memory_channels`` channels.
    """

    memory_encoder: MemoryEncoderConfig = field(default_factory=MemoryEncoderConfig)
    memory_attention: MemoryAttentionConfig = field(default_factory=MemoryAttentionConfig)
    num_memories: int = 7  # memory bank slots: rows of the temporal encoding
    max_object_pointers: int = 16  # object pointers a frame attends to

    def __post_init__(self) -> None:
        encoder, attention = self.memory_encoder, self.memory_attention
        if encoder.hidden_size != attention.hidden_size:
            raise ConfigError(
                f"memory encoder width {encoder.hidden_size} and memory attention width "
                f"{attention.hidden_size} must agree"
            )
        if encoder.memory_channels != attention.memory_channels:
            raise ConfigError(
                f"the memory encoder writes {encoder.memory_channels} channels, the memory "
                f"attention reads {attention.memory_channels}"
            )

    @property
    def hidden_size(self) -> int:
        """Width of the memory encoder's input and of the memory attention (256 for SAM 3)."""
        return self.memory_attention.hidden_size

    @property
    def memory_channels(self) -> int:
        """Channels of a stored memory (64 for SAM 3)."""
        return self.memory_encoder.memory_channels


@dataclass(frozen=True)
class Sam3Config:
    """The whole model: the detector, unless ``tracker`` is None the interactive head, and
    unless ``video`` is None the tracker's video memory (a checkpoint without tracker or
    video-memory weights loads with that part None). The video memory belongs to the tracker:
    with ``tracker=None`` it is None as well."""

    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    geometry: GeometryConfig = field(default_factory=GeometryConfig)
    fusion: FusionEncoderConfig = field(default_factory=FusionEncoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    mask_head: MaskHeadConfig = field(default_factory=MaskHeadConfig)
    tracker: TrackerConfig | None = field(default_factory=TrackerConfig)
    video: VideoConfig | None = field(default_factory=VideoConfig)

    def __post_init__(self) -> None:
        if self.tracker is None and self.video is not None:
            object.__setattr__(self, "video", None)  # frozen; no tracker, no tracker memory
        widths = {
            "vision.fpn_size": self.vision.fpn_size,
            "geometry.hidden_size": self.geometry.hidden_size,
            "fusion.hidden_size": self.fusion.hidden_size,
            "decoder.hidden_size": self.decoder.hidden_size,
            "mask_head.hidden_size": self.mask_head.hidden_size,
        }
        if len(set(widths.values())) != 1:
            raise ConfigError(f"detector widths must agree, got {widths}")
        if sum(1 for s in self.vision.fpn_scale_factors if s >= 1.0) != 3:
            raise ConfigError("the detector needs exactly three FPN levels with scale >= 1")

    @property
    def d_model(self) -> int:
        """Width of every part after the backbones (256 for SAM 3)."""
        return self.decoder.hidden_size

    @property
    def resolution_step(self) -> int:
        """Input sizes run in multiples of this: patch × window (336 for SAM 3), so that the
        token grid is whole windows (windows are not padded, as Meta's ViT does not)."""
        return self.vision.patch_size * self.vision.window_size

    def at_resolution(self, resolution: int) -> Sam3Config:
        """This model run at ``resolution`` × ``resolution`` pixels instead of its own size.

        The weights do not change: the learned position grid is tiled over the larger or
        smaller token grid, the RoPE tables, feature-map and mask sizes follow the grid.

        Raises:
            InputError: ``resolution`` is not a positive multiple of :attr:`resolution_step`
                (the message lists the nearest sizes that run).

        Example:
            >>> Sam3Config.sam3().at_resolution(672).vision.grid_size
            48
        """
        step = self.resolution_step
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < step:
            raise InputError(
                f"resolution: expected a whole number of pixels, a multiple of {step} "
                f"(patch {self.vision.patch_size} × window {self.vision.window_size}), e.g. "
                f"{', '.join(str(step * k) for k in (2, 3, 4))}; got {resolution!r}"
            )
        if resolution % step:
            lower, upper = resolution // step * step, (resolution // step + 1) * step
            raise InputError(
                f"resolution: {resolution} does not run: the token grid must be whole "
                f"{self.vision.window_size}-token attention windows, so the size must be a "
                f"multiple of {step}; the nearest are {lower} and {upper}"
            )
        return replace(self, vision=replace(self.vision, image_size=resolution))

    @classmethod
    def sam3(cls) -> Sam3Config:
        """The published SAM 3 image detector (≈ 840 M parameters)."""
        return cls()

    @classmethod
    def tiny(cls) -> Sam3Config:
        """A few-layer model with the real topology, for tests (runs in milliseconds)."""
        # Every part at width 32, 2 heads, FFN 64, 2 layers: small, yet every code path runs.
        small = {"hidden_size": 32, "num_heads": 2, "intermediate_size": 64}
        return cls(
            vision=VisionConfig(
                hidden_size=32,
                num_heads=2,
                intermediate_size=64,
                image_size=168,
                num_layers=2,
                window_size=6,
                global_attention_layers=(1,),
                pretrain_grid_size=6,
                fpn_size=32,
            ),
            text=TextConfig(**small, num_layers=2, clip_projection_size=16),
            geometry=GeometryConfig(**small, num_layers=2),
            fusion=FusionEncoderConfig(**small, num_layers=2),
            decoder=DecoderConfig(**small, num_layers=2, num_queries=10),
            mask_head=MaskHeadConfig(hidden_size=32, num_heads=2),
            tracker=TrackerConfig(hidden_size=32, num_heads=2, mlp_dim=64, iou_head_hidden_size=32),
            # 64 memory channels as transformers hard-codes them (its memory attention's k/v).
            video=VideoConfig(
                memory_encoder=MemoryEncoderConfig(
                    hidden_size=32, downsampler_channels=(4, 16), fuser_layers=1, fuser_mlp_ratio=2
                ),
                memory_attention=MemoryAttentionConfig(hidden_size=32, num_layers=1, mlp_dim=64),
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> Sam3Config:
        """Inverse of :meth:`to_dict`, also after a JSON round trip (lists back to tuples).

        Raises:
            ConfigError: a section or field is missing or unknown.

        Example:
            >>> Sam3Config.from_dict(Sam3Config.tiny().to_dict()) == Sam3Config.tiny()
            True
        """
        sections = {f.name: f for f in fields(cls)}
        try:
            parts = {
                name: _section_from_dict(
                    sections[name].type,
                    config.get(name) if name in _LATER_SECTIONS else config[name],
                )
                for name in sections
            }
        except (KeyError, TypeError) as err:
            raise ConfigError(f"not a complete Sam3Config dictionary: {err}") from err
        return cls(**parts)

    @classmethod
    def from_transformers_dict(cls, config: dict[str, Any]) -> Sam3Config:
        """Build from the ``config.json`` transformers writes for ``Sam3Model``/``Sam3VideoModel``.

        Raises:
            ConfigError: if the dictionary is not a SAM 3 configuration.
        """
        model_type = config.get("model_type")
        video: dict[str, Any] | None = None
        if model_type == "sam3_video":
            video, config = config, config.get("detector_config") or {}
            model_type = config.get("model_type", "sam3")
        if model_type != "sam3":
            raise ConfigError(
                f"config.json has model_type {model_type!r}; expected 'sam3' or 'sam3_video'"
            )
        try:
            detector = _from_transformers_sections(config)
            if video is None:  # the tracker default; the loader drops it if weights lack it
                return detector
            tracker_section = video.get("tracker_config") or {}
            tracker = _tracker_from_transformers(tracker_section, detector.vision.fpn_scale_factors)
            memory = _video_from_transformers(tracker_section)
            return replace(detector, tracker=tracker, video=memory)
        except (KeyError, TypeError) as err:
            raise ConfigError(f"config.json is not a complete SAM 3 configuration: {err}") from err


def _section_from_dict(section: Any, values: dict[str, Any] | None) -> Any:
    """One part's dataclass from its dictionary; JSON lists become the tuples fields hold,
    nested parts (``VideoConfig.memory_encoder``) their dataclasses. An optional part
    (``TrackerConfig | None``) may be None."""
    if values is None and isinstance(section, str) and section.endswith("| None"):
        return None
    if isinstance(section, str):
        section = section.removesuffix(" | None")
    part = _SECTIONS[section] if isinstance(section, str) else section
    if values is None:
        raise TypeError(f"the {part.__name__} section is null")
    nested = {f.name: f.type for f in fields(part) if f.type in _SECTIONS}
    return part(
        **{
            k: _section_from_dict(nested[k], v)
            if k in nested
            else tuple(v)
            if isinstance(v, list)
            else v
            for k, v in values.items()
        }
    )


def _pair_to_int(value: Any) -> int:
    """transformers allows ``image_size``/``patch_size`` as int or [h, w]; we need square."""
    if isinstance(value, (list, tuple)):
        if len(set(value)) != 1:
            raise ConfigError(f"non-square size {value} is not supported")
        return int(value[0])
    return int(value)


def _unless_none(value: Any, default: Any) -> Any:
    """transformers writes ``null`` for "use the default"; an empty list is a real value."""
    return default if value is None else value


def _from_transformers_sections(config: dict[str, Any]) -> Sam3Config:
    defaults = Sam3Config()
    vision_section = config.get("vision_config") or {}
    backbone = vision_section.get("backbone_config") or {}
    text = config.get("text_config") or {}
    geometry = config.get("geometry_encoder_config") or {}
    fusion = config.get("detr_encoder_config") or {}
    decoder = config.get("detr_decoder_config") or {}
    mask = config.get("mask_decoder_config") or {}

    dv = defaults.vision
    patch_size = _pair_to_int(backbone.get("patch_size", dv.patch_size))
    pretrain_image_size = _pair_to_int(backbone.get("pretrain_image_size", 336))
    vision = VisionConfig(
        image_size=_pair_to_int(backbone.get("image_size", dv.image_size)),
        patch_size=patch_size,
        num_channels=backbone.get("num_channels", dv.num_channels),
        hidden_size=backbone.get("hidden_size", dv.hidden_size),
        intermediate_size=backbone.get("intermediate_size", dv.intermediate_size),
        num_layers=backbone.get("num_hidden_layers", dv.num_layers),
        num_heads=backbone.get("num_attention_heads", dv.num_heads),
        window_size=backbone.get("window_size", dv.window_size),
        global_attention_layers=tuple(
            _unless_none(backbone.get("global_attn_indexes"), dv.global_attention_layers)
        ),
        pretrain_grid_size=pretrain_image_size // patch_size,
        rope_theta=float((backbone.get("rope_parameters") or {}).get("rope_theta", dv.rope_theta)),
        fpn_size=vision_section.get("fpn_hidden_size", dv.fpn_size),
        fpn_scale_factors=tuple(
            float(s)
            for s in _unless_none(vision_section.get("scale_factors"), dv.fpn_scale_factors)
        ),
    )
    dt = defaults.text
    text_config = TextConfig(
        vocab_size=text.get("vocab_size", dt.vocab_size),
        context_length=text.get("max_position_embeddings", dt.context_length),
        hidden_size=text.get("hidden_size", dt.hidden_size),
        intermediate_size=text.get("intermediate_size", dt.intermediate_size),
        num_layers=text.get("num_hidden_layers", dt.num_layers),
        num_heads=text.get("num_attention_heads", dt.num_heads),
        layer_norm_eps=text.get("layer_norm_eps", dt.layer_norm_eps),
        clip_projection_size=text.get("projection_dim", dt.clip_projection_size),
        start_token_id=text.get("bos_token_id", dt.start_token_id),
        end_token_id=text.get("eos_token_id", dt.end_token_id),
    )
    dg, df, dd, dm = defaults.geometry, defaults.fusion, defaults.decoder, defaults.mask_head
    return Sam3Config(
        vision=vision,
        text=text_config,
        geometry=GeometryConfig(
            hidden_size=geometry.get("hidden_size", dg.hidden_size),
            num_layers=geometry.get("num_layers", dg.num_layers),
            num_heads=geometry.get("num_attention_heads", dg.num_heads),
            intermediate_size=geometry.get("intermediate_size", dg.intermediate_size),
            roi_size=geometry.get("roi_size", dg.roi_size),
        ),
        fusion=FusionEncoderConfig(
            hidden_size=fusion.get("hidden_size", df.hidden_size),
            num_layers=fusion.get("num_layers", df.num_layers),
            num_heads=fusion.get("num_attention_heads", df.num_heads),
            intermediate_size=fusion.get("intermediate_size", df.intermediate_size),
        ),
        decoder=DecoderConfig(
            hidden_size=decoder.get("hidden_size", dd.hidden_size),
            num_layers=decoder.get("num_layers", dd.num_layers),
            num_heads=decoder.get("num_attention_heads", dd.num_heads),
            intermediate_size=decoder.get("intermediate_size", dd.intermediate_size),
            num_queries=decoder.get("num_queries", dd.num_queries),
        ),
        mask_head=MaskHeadConfig(
            hidden_size=mask.get("hidden_size", dm.hidden_size),
            num_upsampling_stages=mask.get("num_upsampling_stages", dm.num_upsampling_stages),
            num_heads=mask.get("num_attention_heads", dm.num_heads),
        ),
    )


def _tracker_from_transformers(
    tracker: dict[str, Any], detector_scale_factors: tuple[float, ...]
) -> TrackerConfig:
    """transformers' ``Sam3TrackerVideoConfig`` section (``tracker_config`` of ``sam3_video``)."""
    prompt = tracker.get("prompt_encoder_config") or {}
    decoder = tracker.get("mask_decoder_config") or {}
    vision = tracker.get("vision_config") or {}
    d = TrackerConfig()
    hidden_size = decoder.get("hidden_size", d.hidden_size)
    _require_equal_widths(
        "tracker",
        {
            "mask_decoder_config.hidden_size": hidden_size,
            "prompt_encoder_config.hidden_size": prompt.get("hidden_size", hidden_size),
            "vision_config.fpn_hidden_size": vision.get("fpn_hidden_size", hidden_size),
        },
    )
    scale_factors = _unless_none(vision.get("scale_factors"), detector_scale_factors)
    return TrackerConfig(
        hidden_size=hidden_size,
        num_heads=decoder.get("num_attention_heads", d.num_heads),
        mlp_dim=decoder.get("mlp_dim", d.mlp_dim),
        num_layers=decoder.get("num_hidden_layers", d.num_layers),
        attention_downsample_rate=decoder.get(
            "attention_downsample_rate", d.attention_downsample_rate
        ),
        num_multimask_outputs=decoder.get("num_multimask_outputs", d.num_multimask_outputs),
        iou_head_depth=decoder.get("iou_head_depth", d.iou_head_depth),
        iou_head_hidden_size=decoder.get("iou_head_hidden_dim", d.iou_head_hidden_size),
        mask_input_channels=prompt.get("mask_input_channels", d.mask_input_channels),
        layer_norm_eps=prompt.get("layer_norm_eps", d.layer_norm_eps),
        stability_delta=decoder.get("dynamic_multimask_stability_delta", d.stability_delta),
        stability_threshold=decoder.get(
            "dynamic_multimask_stability_thresh", d.stability_threshold
        ),
        fpn_scale_factors=tuple(float(s) for s in scale_factors),
    )


def _video_from_transformers(tracker: dict[str, Any]) -> VideoConfig:
    """The video-memory fields of transformers' ``Sam3TrackerVideoConfig`` (flat, at the top
    of ``tracker_config``); an absent field keeps Meta's default."""
    d = VideoConfig()
    de, da = d.memory_encoder, d.memory_attention
    width = tracker.get("memory_encoder_hidden_size", de.hidden_size)
    _require_equal_widths(
        "memory encoder",
        {
            "memory_encoder_hidden_size": width,
            "memory_fuser_embed_dim": tracker.get("memory_fuser_embed_dim", width),
            "mask_downsampler_embed_dim": tracker.get("mask_downsampler_embed_dim", width),
        },
    )
    conv = {k: tracker.get(k, v) for k, v in MASK_DOWNSAMPLER_CONV.items()}
    if conv != MASK_DOWNSAMPLER_CONV:
        raise ConfigError(f"mask downsampler {conv} is not supported: {MASK_DOWNSAMPLER_CONV}")
    total_stride = tracker.get("mask_downsampler_total_stride", de.mask_stride)
    num_downsamplers = total_stride.bit_length() - 1
    if total_stride < 2 or total_stride != 2**num_downsamplers:
        raise ConfigError(f"mask_downsampler_total_stride {total_stride} is not a power of 2")
    intermediate = tracker.get("memory_fuser_intermediate_dim", de.fuser_mlp_ratio * width)
    if intermediate % width:
        raise ConfigError(
            f"memory_fuser_intermediate_dim {intermediate} is not a multiple of the width {width}"
        )
    channels = tracker.get("memory_encoder_output_channels", de.memory_channels)
    rope = tracker.get("rope_parameters") or {}
    return VideoConfig(
        memory_encoder=MemoryEncoderConfig(
            hidden_size=width,
            memory_channels=channels,
            downsampler_channels=quadrupling_channels(num_downsamplers),
            fuser_layers=tracker.get("memory_fuser_num_layers", de.fuser_layers),
            fuser_kernel_size=tracker.get("memory_fuser_kernel_size", de.fuser_kernel_size),
            fuser_mlp_ratio=intermediate // width,
            layer_scale_init=tracker.get(
                "memory_fuser_layer_scale_init_value", de.layer_scale_init
            ),
            mask_scale=tracker.get("sigmoid_scale_for_mem_enc", de.mask_scale),
            mask_bias=tracker.get("sigmoid_bias_for_mem_enc", de.mask_bias),
        ),
        memory_attention=MemoryAttentionConfig(
            hidden_size=tracker.get("memory_attention_hidden_size", da.hidden_size),
            num_layers=tracker.get("memory_attention_num_layers", da.num_layers),
            num_heads=tracker.get("memory_attention_num_attention_heads", da.num_heads),
            mlp_dim=tracker.get("memory_attention_feed_forward_hidden_size", da.mlp_dim),
            memory_channels=channels,
            rope_theta=float(rope.get("rope_theta", da.rope_theta)),
        ),
        num_memories=tracker.get("num_maskmem", d.num_memories),
        max_object_pointers=tracker.get("max_object_pointers_in_encoder", d.max_object_pointers),
    )


def _require_equal_widths(part: str, widths: dict[str, int]) -> None:
    """ConfigError unless these transformers fields give one width."""
    if len(set(widths.values())) != 1:
        raise ConfigError(f"{part} widths must agree, got {widths}")


def quadrupling_channels(num_stages: int) -> tuple[int, ...]:
    """transformers' mask downsampler widths, 1 → 4 → 16 → …: each stride-2 stage × 4."""
    return tuple(4 ** (k + 1) for k in range(num_stages))


# Our mask downsampler's convolutions (MemoryEncoderConfig), under transformers' config names.
MASK_DOWNSAMPLER_CONV = {
    "mask_downsampler_kernel_size": 3,
    "mask_downsampler_stride": 2,
    "mask_downsampler_padding": 1,
}


# Field annotations are strings under ``from __future__ import annotations``.
_SECTIONS: dict[str, type] = {
    part.__name__: part
    for part in (
        VisionConfig,
        TextConfig,
        GeometryConfig,
        FusionEncoderConfig,
        DecoderConfig,
        MaskHeadConfig,
        TrackerConfig,
        MemoryEncoderConfig,
        MemoryAttentionConfig,
        VideoConfig,
    )
}
# Sections added after such dictionaries were first written (export manifests): absent = None.
_LATER_SECTIONS = frozenset({"video"})
