"""Plots of an evaluation, with matplotlib (the ``eval`` extra): precision-recall curves and
the histogram of per-query IoUs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from sam3lib.errors import BackendUnavailableError

__all__ = ["write_plots"]

_RECALL = np.linspace(0.0, 1.0, 101)  # COCOeval's recall points


def write_plots(curves: dict[str, npt.NDArray[np.float64]], directory: Path) -> list[Path]:
    """Write ``pr_segm.png``, ``pr_bbox.png`` (from ``curves["precision_segm"]`` etc., COCOeval
    precision arrays (T, R, K)) and ``iou_histogram.png`` (``curves["query_ious"]``).

    Returns:
        The files written.
    """
    try:
        # Figure, not pyplot: no global backend switch in the caller's process.
        from matplotlib.figure import Figure
    except ImportError:
        raise BackendUnavailableError(
            "plots need matplotlib: pip install 'sam3lib[eval]'"
        ) from None
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, title in (("segm", "masks"), ("bbox", "boxes")):
        precision = curves.get(f"precision_{kind}")
        if precision is None:
            continue
        figure = Figure(figsize=(5, 4))
        axes = figure.subplots()
        for index, label in ((0, "IoU 0.50"), (5, "IoU 0.75"), (None, "IoU 0.50:0.95")):
            chosen = precision if index is None else precision[index : index + 1]
            axes.plot(_RECALL, _mean_over_categories(chosen), label=label)
        axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01))
        axes.set_title(f"Precision-recall, {title} (mean over categories)")
        axes.legend(loc="lower left")
        path = directory / f"pr_{kind}.png"
        figure.savefig(path, dpi=120, bbox_inches="tight")
        written.append(path)
    ious = curves.get("query_ious")
    if ious is not None and ious.size:
        figure = Figure(figsize=(5, 4))
        axes = figure.subplots()
        axes.hist(ious, bins=20, range=(0, 1))
        axes.set(xlabel="IoU of a query (union of masks)", ylabel="queries")
        axes.set_title("IoU per image × phrase")
        path = directory / "iou_histogram.png"
        figure.savefig(path, dpi=120, bbox_inches="tight")
        written.append(path)
    return written


def _mean_over_categories(precision: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(T, R, K) → (R,): the mean over thresholds and categories, -1 (undefined) left out."""
    valid = np.where(precision >= 0, precision, np.nan)
    per_recall = valid.transpose(1, 0, 2).reshape(valid.shape[1], -1)  # (R, T * K)
    defined = ~np.isnan(per_recall)
    total = np.where(defined, per_recall, 0.0).sum(axis=1)
    return np.divide(
        total, defined.sum(axis=1), out=np.zeros_like(total), where=defined.any(axis=1)
    )
