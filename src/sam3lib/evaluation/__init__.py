"""Evaluation: accuracy against labels (COCO AP, mIoU, cgF1) and agreement between backends.

:func:`evaluate` reads ground truth as queries (:mod:`.ground_truth`), takes predictions from
a file or from the model run over the images (:mod:`.predictions`), and scores them with
pycocotools' COCOeval (:mod:`.coco_ap`), mean IoU (:mod:`.miou`) and SA-Co's cgF1
(:mod:`.cgf1`) into an :class:`EvaluationReport` (:mod:`.report`, :mod:`.plots`).
:func:`compare_variants` runs two settings of the same weights (:mod:`.variants`) over
images and matches their answers (:mod:`.matching`, :mod:`.agreement`): no labels needed.
"""

from sam3lib.evaluation.agreement import AgreementReport, compare_variants
from sam3lib.evaluation.cgf1 import CgF1Result, evaluate_cgf1
from sam3lib.evaluation.ground_truth import GroundTruth, Query, load_ground_truth
from sam3lib.evaluation.report import EvaluationReport
from sam3lib.evaluation.run import evaluate
from sam3lib.evaluation.variants import Variant

__all__ = [
    "AgreementReport",
    "CgF1Result",
    "EvaluationReport",
    "GroundTruth",
    "Query",
    "Variant",
    "compare_variants",
    "evaluate",
    "evaluate_cgf1",
    "load_ground_truth",
]
