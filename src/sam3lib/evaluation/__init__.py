"""Evaluation: accuracy against labels (COCO AP, mIoU, cgF1) and agreement between backends."""

from sam3lib.evaluation.cgf1 import CgF1Result, evaluate_cgf1

__all__ = ["CgF1Result", "evaluate_cgf1"]
