"""SAM 3 weights: find them (hub, directory, file), read them, convert layouts, load strictly.

Example:
    >>> from sam3lib.checkpoint import load_sam3_model
    >>> model, files = load_sam3_model("facebook/sam3")  # doctest: +SKIP
"""

from sam3lib.checkpoint.convert import convert_meta_checkpoint
from sam3lib.checkpoint.files import read_state_dict
from sam3lib.checkpoint.layouts import Layout, detect_layout, to_our_layout
from sam3lib.checkpoint.loader import (
    LoadOptions,
    check_state_dict,
    load_resolved_model,
    load_sam3_model,
    load_weights,
)
from sam3lib.checkpoint.meta_layout import meta_to_ours, ours_to_meta
from sam3lib.checkpoint.resolve import ResolvedCheckpoint, resolve_checkpoint
from sam3lib.checkpoint.transformers_config import (
    config_to_transformers_dict,
    read_transformers_config,
)

__all__ = [
    "Layout",
    "LoadOptions",
    "ResolvedCheckpoint",
    "check_state_dict",
    "config_to_transformers_dict",
    "convert_meta_checkpoint",
    "detect_layout",
    "load_resolved_model",
    "load_sam3_model",
    "load_weights",
    "meta_to_ours",
    "ours_to_meta",
    "read_state_dict",
    "read_transformers_config",
    "resolve_checkpoint",
    "to_our_layout",
]
