"""The dataset formats a run is assembled into, one module each, all written from records
(:mod:`sam3lib.labelling.records`) in source order, each file atomically."""

from sam3lib.labelling.writers.coco import write_coco
from sam3lib.labelling.writers.jsonl import write_errors, write_jsonl
from sam3lib.labelling.writers.yolo import write_yolo

__all__ = ["write_coco", "write_errors", "write_jsonl", "write_yolo"]
