"""``sam3lib.evaluation.evaluate`` on generated ground truth: known answers, and COCO AP equal
to pycocotools run directly on the original (not query-layout) files."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from evaluation.synthetic import (
    annotation,
    box_mask,
    noisy_predictions,
    perfect_predictions,
    random_coco,
    write_json,
)
from sam3lib.errors import InputError
from sam3lib.evaluation.run import evaluate


def test_perfect_predictions_score_one(tmp_path: Path) -> None:
    truth = random_coco(seed=1)
    report = evaluate(
        write_json(tmp_path / "gt.json", truth),
        predictions=write_json(tmp_path / "dt.json", perfect_predictions(truth)),
    )
    assert report.mask_ap == pytest.approx(1.0) and report.box_ap == pytest.approx(1.0)
    assert report.miou == 1.0
    # cgF1's own epsilons (1e-4 in precision, recall and F1; 1e-6 in MCC) keep it just below 1.
    assert report.cgf1 == pytest.approx(1.0, abs=1e-3)
    assert report.details["ground_truth"]["evaluated_queries"] == 6 * 2


def test_half_a_square_has_known_iou_and_ap(tmp_path: Path) -> None:
    # One 40 x 40 image, one cat: the 10 x 10 square at (10, 10). The prediction covers its
    # left half: IoU 0.5 exactly, so it is a true positive at IoU 0.5 and at no stricter
    # threshold: AP@[.5:.95] = 1/10 (one of ten thresholds), AP50 = 1.
    truth = {
        "images": [{"id": 7, "file_name": "a.png", "height": 40, "width": 40}],
        "annotations": [{**annotation(box_mask(40, 40, (10, 10, 20, 20)), 7, 1), "id": 1}],
        "categories": [{"id": 1, "name": "cat"}],
    }
    half = annotation(box_mask(40, 40, (10, 10, 15, 20)), 7, 1)
    report = evaluate(
        write_json(tmp_path / "gt.json", truth),
        predictions=write_json(tmp_path / "dt.json", [{**half, "score": 0.8}]),
    )
    assert report.miou == 0.5
    assert report.mask_ap == pytest.approx(0.1)
    assert report.details["coco"]["segm"]["AP50"] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [3, 4])
def test_coco_ap_equals_pycocotools_on_the_original_files(tmp_path: Path, seed: int) -> None:
    truth = random_coco(seed=seed, images=8)
    found = noisy_predictions(truth, seed=seed)
    report = evaluate(
        write_json(tmp_path / "gt.json", truth),
        predictions=write_json(tmp_path / "dt.json", found),
    )
    for iou_type in ("segm", "bbox"):
        with contextlib.redirect_stdout(io.StringIO()):
            reference = COCO(str(tmp_path / "gt.json"))
            evaluation = COCOeval(reference, reference.loadRes(copy.deepcopy(found)), iou_type)
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        ours = list(report.details["coco"][iou_type].values())
        np.testing.assert_allclose(ours, evaluation.stats, rtol=0, atol=1e-12)
    assert 0 < report.mask_ap < 1 and 0 < report.miou < 1


def test_miou_leaves_out_queries_with_nothing_and_scores_false_alarms_zero(
    tmp_path: Path,
) -> None:
    # Two images, one category. Image 1: a cat, found exactly (IoU 1). Image 2: no cat, and
    # a prediction there (IoU 0). A third image has neither: left out. mIoU = (1 + 0) / 2.
    images = [{"id": i, "file_name": f"{i}.png", "height": 20, "width": 20} for i in (1, 2, 3)]
    cat = annotation(box_mask(20, 20, (2, 2, 8, 8)), 1, 1)
    truth = {
        "images": images,
        "annotations": [{**cat, "id": 1}],
        "categories": [{"id": 1, "name": "cat"}],
    }
    false_alarm = annotation(box_mask(20, 20, (5, 5, 9, 9)), 2, 1)
    below = annotation(box_mask(20, 20, (0, 0, 9, 9)), 3, 1)  # under the 0.5 score threshold
    predictions = [{**cat, "score": 0.9}, {**false_alarm, "score": 0.7}, {**below, "score": 0.3}]
    report = evaluate(
        write_json(tmp_path / "gt.json", truth),
        predictions=write_json(tmp_path / "dt.json", predictions),
    )
    assert report.miou == 0.5
    assert report.details["miou_skipped_empty"] == 1
    assert report.details["miou_per_phrase"] == {"cat": 0.5}


def test_prompts_map_categories_to_phrases(tmp_path: Path) -> None:
    truth = random_coco(seed=2, images=2)
    prompts = {"red car": "vehicle painted red"}
    report = evaluate(
        write_json(tmp_path / "gt.json", truth),
        predictions=write_json(tmp_path / "dt.json", perfect_predictions(truth)),
        prompts=prompts,
    )
    assert set(report.details["miou_per_phrase"]) <= {"cat", "vehicle painted red"}
    with pytest.raises(InputError, match="prompts: no category named 'dog'"):
        evaluate(tmp_path / "gt.json", predictions=tmp_path / "dt.json", prompts={"dog": "a dog"})


def test_predictions_that_match_nothing_name_themselves(tmp_path: Path) -> None:
    truth = write_json(tmp_path / "gt.json", random_coco(seed=2, images=2))
    bad = [{"image_id": 10, "category_id": 2, "score": 0.5, "bbox": [0, 0, 1, 1]}]
    with pytest.raises(InputError, match=r"predictions\[0\]: image_id 10 with category_id 2"):
        evaluate(truth, predictions=write_json(tmp_path / "dt.json", bad))
    with pytest.raises(InputError, match=r"predictions\[0\]: no numeric 'score'"):
        evaluate(truth, predictions=write_json(tmp_path / "dt2.json", [{"image_id": 10}]))
    with pytest.raises(InputError, match="predictions: expected a JSON list of COCO results"):
        evaluate(truth, predictions=write_json(tmp_path / "dt3.json", {"annotations": []}))
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InputError, match="could not read"):
        evaluate(truth, predictions=tmp_path / "broken.json")
    with pytest.raises(InputError, match="give predictions"):
        evaluate(truth)


def test_sa_co_entries_are_queries_and_non_exhaustive_ones_are_skipped(tmp_path: Path) -> None:
    entries = [
        {
            "id": 1,
            "file_name": "a.jpg",
            "height": 20,
            "width": 20,
            "text_input": "cat",
            "is_instance_exhaustive": True,
        },
        {
            "id": 2,
            "file_name": "a.jpg",
            "height": 20,
            "width": 20,
            "text_input": "dog",
            "is_instance_exhaustive": True,
        },
        {
            "id": 3,
            "file_name": "b.jpg",
            "height": 20,
            "width": 20,
            "text_input": "cat",
            "is_instance_exhaustive": False,
        },
    ]
    cat = {**annotation(box_mask(20, 20, (2, 2, 8, 8)), 1, 1), "id": 1}
    truth = {"images": entries, "annotations": [cat], "categories": [{"id": 1, "name": "object"}]}
    # Entry 2 (no dog) gets a false alarm; entry 3 is not exhaustive, its prediction ignored.
    predictions = [
        {**annotation(box_mask(20, 20, (2, 2, 8, 8)), 1, 1), "score": 0.9},
        {**annotation(box_mask(20, 20, (0, 0, 4, 4)), 2, 1), "score": 0.8},
        {**annotation(box_mask(20, 20, (0, 0, 4, 4)), 3, 1), "score": 0.8},
    ]
    report = evaluate(
        write_json(tmp_path / "saco.json", truth),
        predictions=write_json(tmp_path / "dt.json", predictions),
    )
    assert report.details["ground_truth"]["kind"] == "saco"
    assert report.details["ground_truth"]["evaluated_queries"] == 2
    assert report.miou == 0.5  # entry 1: 1, entry 2: 0
    # One positive entry found exactly, one negative with a false alarm: image-level MCC is
    # (TP·TN - FP·FN) / sqrt(...) = (1·0 - 1·0) / ... = 0, so cgF1 = 0.
    assert report.cgf1 == pytest.approx(0.0, abs=1e-9)
    other = write_json(tmp_path / "other.json", {**truth, "images": entries[:2]})
    with pytest.raises(InputError, match="does not hold the same entries"):
        evaluate([tmp_path / "saco.json", other], predictions=tmp_path / "dt.json")


def test_the_json_report_has_the_binding_names_and_no_nan(tmp_path: Path) -> None:
    truth = random_coco(seed=5, images=3)
    report = evaluate(
        write_json(tmp_path / "gt.json", truth),
        predictions=write_json(tmp_path / "dt.json", noisy_predictions(truth, seed=5)),
    )
    report.write_json(tmp_path / "report.json")
    data = json.loads((tmp_path / "report.json").read_text())
    for name in ("mask_ap", "box_ap", "miou", "cgf1"):
        assert 0.0 <= data[name] <= 1.0
    assert "NaN" not in (tmp_path / "report.json").read_text()
    assert not any(isinstance(v, float) and math.isnan(v) for v in data["coco"]["segm"].values())
    markdown = report.to_markdown()
    assert "| mask AP@[.5:.95] |" in markdown and "## cgF1 (SA-Co)" in markdown
