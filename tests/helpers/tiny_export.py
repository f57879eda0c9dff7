"""The tiny checkpoint with both heads, and its ONNX export, which the export and ONNX Runtime
tests share.

Tracing the five graphs takes most of a minute on two cores. The test run starts it in a
background process as soon as a worker has collected a test that needs it
(``tests/conftest.py``), so that both workers go on with other tests meanwhile instead of one
tracing and the other waiting for it; the ``tiny_export_dir`` fixture waits for the result.
The weights are seeded, so this process's checkpoint is the workers' ``tiny_interactive_
checkpoint_dir``, byte for byte.

    PYTHONPATH=tests python -m helpers.tiny_export OUT_DIR SHARED_REFERENCE_DIR
"""

from __future__ import annotations

import shutil
import sys
import traceback
from pathlib import Path
from typing import Any

from checkpoint.checkpoint_factory import write_hub_checkpoint
from helpers.transformers_reference import build_tiny_reference, install_reference_roi_align
from helpers.transformers_tracker_reference import build_tiny_tracker_reference, our_state_dict
from sam3lib.model import Sam3Config
from sam3lib.tokenizer import write_clip_vocab_files

VOCABULARY = "clip_bpe_simple_vocab_16e6.txt.gz"
# batch 1, at most 4 prompts and 3 boxes per call; 2 objects and 6 points per interactive
# decoder call; two jobs: the tracing of two graphs at a time on two cores.
EXPORT_OPTIONS = [
    "--batch", "1", "--max-prompts", "4", "--max-boxes", "3", "--jobs", "2",
    "--max-objects", "2", "--max-points", "6", "--quiet",
]  # fmt: skip


def failure_marker(out: Path) -> Path:
    """Where the background export writes its traceback when it fails."""
    return out.with_name(out.name + ".failed")


def write_tiny_interactive_checkpoint(
    directory: Path, detector: Any, tracker: Any, shared_reference: Path
) -> Path:
    """The tiny checkpoint with both heads, laid out as the hub's facebook/sam3, from the
    transformers references ``detector`` and ``tracker``, plus the CLIP tokenizer files."""
    write_hub_checkpoint(directory, our_state_dict(detector, tracker), Sam3Config.tiny())
    write_clip_vocab_files(shared_reference / VOCABULARY, directory)
    return directory


def export_tiny(checkpoint_dir: Path, out: Path) -> None:
    """``sam3lib export`` of ``checkpoint_dir`` into ``out``, through a partial directory
    renamed at the end (a reader never sees a half export)."""
    from sam3lib.export.command import main as export_command

    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    if export_command([str(checkpoint_dir), str(partial), *EXPORT_OPTIONS]) != 0:
        raise RuntimeError("sam3lib export failed")
    partial.rename(out)


def main(argv: list[str]) -> int:
    out, shared_reference = Path(argv[0]), Path(argv[1])
    try:
        install_reference_roi_align()
        detector = build_tiny_reference(seed=0)
        tracker = build_tiny_tracker_reference(detector)
        checkpoint = out.with_name(out.name + ".checkpoint")
        checkpoint.mkdir(parents=True, exist_ok=True)
        write_tiny_interactive_checkpoint(checkpoint, detector, tracker, shared_reference)
        export_tiny(checkpoint, out)
    except BaseException:
        failure_marker(out).write_text(traceback.format_exc())
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
