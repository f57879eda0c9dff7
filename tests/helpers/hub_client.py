"""What the hub tests do with sam3lib, run inside a fresh interpreter (see ``fresh_python``).

Each function imports sam3lib itself (so ``huggingface_hub`` reads the child's environment)
and returns JSON: ``{"result": ...}``, or ``{"error": class name, "message": ...,
"classes": the error's class hierarchy}`` for a sam3lib error. Any other exception escapes,
fails the child, and its traceback is the child's stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

JsonDict = dict[str, Any]


def resolve(repo_id: str, **options: Any) -> JsonDict:
    """``resolve_checkpoint(repo_id, **options)``: the paths it found."""
    from sam3lib.checkpoint import resolve_checkpoint

    def paths() -> JsonDict:
        resolved = resolve_checkpoint(repo_id, **options)
        return {
            "weights": str(resolved.weights_path),
            "config": str(resolved.config_path) if resolved.config_path else None,
            "tokenizer": {name: str(path) for name, path in resolved.tokenizer_files.items()},
        }

    return _outcome(paths)


def load(repo_id: str, **options: Any) -> JsonDict:
    """``load_sam3_model(repo_id, **options)``: the weights file and the parameter count."""
    from sam3lib.checkpoint import load_sam3_model

    def loaded() -> JsonDict:
        model, resolved = load_sam3_model(repo_id, **options)
        count = sum(parameter.numel() for parameter in model.parameters())
        return {"weights": str(resolved.weights_path), "parameters": count}

    return _outcome(loaded)


def segment(repo_id: str, image: str, prompt: str, **options: Any) -> JsonDict:
    """``Segmenter.from_pretrained(repo_id, **options).segment(image, prompt)``."""
    from sam3lib import Segmenter

    def segmented() -> JsonDict:
        segmenter = Segmenter.from_pretrained(repo_id, **options)
        result = segmenter.segment(image, prompt)
        return {"label": result.label, "instances": len(result)}

    return _outcome(segmented)


def command(argv: list[str]) -> JsonDict:
    """``sam3lib ARGV`` (what the console script runs): its exit status."""
    from sam3lib.cli import main

    return {"result": main(argv)}


def modules_loaded_at_start() -> JsonDict:
    """Which stateful modules the interpreter had before doing anything (expected: none)."""
    names = ("huggingface_hub", "sam3lib")
    return {"result": sorted(name for name in names if name in sys.modules)}


def _outcome(action: Callable[[], JsonDict]) -> JsonDict:
    from sam3lib.errors import Sam3Error

    try:
        return {"result": action()}
    except Sam3Error as error:
        classes = [cls.__name__ for cls in type(error).__mro__]
        return {"error": type(error).__name__, "message": str(error), "classes": classes}
