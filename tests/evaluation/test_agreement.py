"""Agreement between two variants without labels: the matching on hand-built masks with known
answers, and ``sam3lib eval --reference/--candidate`` on the tiny checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from labelling.conftest import PROMPTS, THRESHOLD, write_pictures
from sam3lib.cli import main
from sam3lib.errors import InputError
from sam3lib.evaluation.agreement import compare_variants
from sam3lib.evaluation.matching import AgreementTally, mask_ious, match_instances
from sam3lib.evaluation.variants import Variant


def strips(width: int, *spans: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """(len(spans), 1, width) masks, each the columns [start, stop) of a one-row image: the
    IoU of two is |overlap| / |union| of their spans."""
    masks = np.zeros((len(spans), 1, width), dtype=bool)
    for index, (start, stop) in enumerate(spans):
        masks[index, 0, start:stop] = True
    return masks


def scores(*values: float) -> npt.NDArray[np.float32]:
    return np.array(values, dtype=np.float32)


# --- matching: hand-built masks, exact answers ---------------------------------------------


def test_match_pairs_by_iou_and_reports_missed_extra_and_differences() -> None:
    # Reference: A [0, 10), B [20, 30), C [40, 42). Candidate, in another order: B exactly,
    # D [50, 54) (nowhere near C), A cut to [0, 8) (IoU 0.8).
    reference = strips(60, (0, 10), (20, 30), (40, 42))
    candidate = strips(60, (20, 30), (50, 54), (0, 8))
    boxes = np.array([[0, 0, 10, 1], [20, 0, 30, 1], [40, 0, 42, 1]], dtype=np.float32)
    other_boxes = np.array([[20, 0, 30, 1], [50, 0, 54, 1], [0, 0, 8, 1]], dtype=np.float32)
    found = match_instances(
        reference,
        scores(0.5, 0.75, 0.25),
        candidate,
        scores(0.5, 0.125, 0.625),
        reference_boxes=boxes,
        candidate_boxes=other_boxes,
    )
    assert found.reference_index.tolist() == [0, 1]
    assert found.candidate_index.tolist() == [2, 0]
    assert found.ious.tolist() == [0.8, 1.0]
    assert found.score_diffs.tolist() == [0.125, -0.25]
    assert found.box_diffs_px.tolist() == [0.5, 0.0]  # x1 off by 2 px: mean over 4 coordinates
    assert (found.missed, found.extra) == ([2], [1])

    tally = AgreementTally()
    tally.add("cat", found)
    tally.add("cat", match_instances(strips(60, (0, 5)), scores(0.5), strips(60), scores()))
    summary = tally.summary()
    assert {key: summary[key] for key in ("queries", "matched", "missed", "extra")} == {
        "queries": 2,
        "matched": 2,
        "missed": 2,
        "extra": 1,
    }
    assert (summary["reference_instances"], summary["candidate_instances"]) == (4, 3)
    assert summary["mask_iou"] == {"mean": 0.9, "median": 0.9, "min": 0.8}
    assert summary["score_abs_diff"] == {"mean": 0.1875, "max": 0.25}
    assert summary["box_abs_diff_px"] == {"mean": 0.25, "max": 0.5}
    # 3 against 3 instances, then 1 against 0: the count differs in one query of two.
    assert (summary["count_differs"], summary["count_differs_fraction"]) == (1, 0.5)
    assert summary["per_prompt"]["cat"] == {
        "queries": 2,
        "matched": 2,
        "missed": 2,
        "extra": 1,
        "mask_iou_mean": 0.9,
    }


def test_match_assigns_for_the_most_overlap_not_greedily() -> None:
    # R1 [0, 10) overlaps C1 [0, 9) best (0.9), but R2 [0, 6) overlaps only C1 enough
    # (6/9; with C2 [2, 10) 4/10). Greedy would pair R1-C1 and miss R2; one-to-one gives
    # R1-C2 (0.8) and R2-C1.
    reference, candidate = strips(10, (0, 10), (0, 6)), strips(10, (0, 9), (2, 10))
    np.testing.assert_allclose(mask_ious(reference, candidate), [[0.9, 0.8], [6 / 9, 0.4]])
    found = match_instances(reference, scores(0.5, 0.5), candidate, scores(0.5, 0.5))
    assert found.candidate_index.tolist() == [1, 0]
    assert (found.missed, found.extra) == ([], [])


def test_match_iou_threshold_decides_whether_a_pair_counts() -> None:
    reference, candidate = strips(10, (0, 4)), strips(10, (2, 7))  # IoU 2/7
    assert match_instances(reference, scores(0.5), candidate, scores(0.5)).missed == [0]
    found = match_instances(reference, scores(0.5), candidate, scores(0.5), match_iou=0.25)
    assert found.ious.tolist() == [2 / 7] and (found.missed, found.extra) == ([], [])


def test_duplicate_masks_pair_with_the_same_score_and_empty_masks_are_identical() -> None:
    duplicates = strips(10, (0, 5), (0, 5))
    found = match_instances(duplicates, scores(0.5, 0.25), duplicates, scores(0.25, 0.5))
    assert found.candidate_index.tolist() == [1, 0]
    assert found.score_diffs.tolist() == [0.0, 0.0]
    empty = strips(10, (0, 0))
    assert match_instances(empty, scores(0.5), empty, scores(0.5)).ious.tolist() == [1.0]
    nothing = match_instances(strips(10), scores(), strips(10), scores())
    assert (len(nothing.ious), nothing.missed, nothing.extra) == (0, [], [])
    summary = AgreementTally().summary()
    assert summary["matched"] == 0 and np.isnan(summary["mask_iou"]["mean"])


# --- variants ------------------------------------------------------------------------------


def test_variant_texts_parse_and_bad_ones_name_the_argument() -> None:
    assert Variant.parse("amp:bf16:672") == Variant("amp", "bf16", 672)
    assert str(Variant.parse(" eager:fp32 ")) == "eager:fp32"
    for text, words in (
        ("eager", "BACKEND:PRECISION"),
        ("torch:fp32", "unknown backend 'torch'"),
        ("eager:fp8", "unknown precision 'fp8'"),
        ("eager:fp32:big", "positive whole number"),
        ("eager:fp32:0", "positive whole number"),
        ("eager:fp32:336:1", "BACKEND:PRECISION"),
    ):
        with pytest.raises(InputError, match=f"^--candidate: .*{words}"):
            Variant.parse(text, "--candidate")


# --- the command and compare_variants on the tiny model -----------------------------------


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("agreement") / "pictures"
    write_pictures(directory, 3, nested=True)  # one in a subfolder
    return directory


def run_command(*argv: str) -> int:
    return main(["eval", *argv, "--threshold", str(THRESHOLD)])


def variant_argv(model: Path, pictures: Path, reference: str, candidate: str) -> list[str]:
    argv = ["--reference", reference, "--candidate", candidate, "--images", str(pictures)]
    for prompt in PROMPTS:
        argv += ["--prompt", prompt]
    return [*argv, "--model", str(model)]


def check_measured(run: dict[str, Any]) -> None:
    latency = run["latency_s"]
    for stage in ("preprocess", "encode_image", "encode_text", "decode", "postprocess", "total"):
        assert latency["median"][stage] > 0 and latency["mean"][stage] > 0, stage
    assert run["load_s"] > 0
    assert run["peak_rss_bytes"] >= run["rss_start_bytes"] > 0
    assert run["peak_cuda_bytes"] is None


def test_eager_against_itself_agrees_perfectly(
    tiny_checkpoint_dir: Path,
    pictures: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    report, markdown = tmp_path / "agreement.json", tmp_path / "agreement.md"
    argv = variant_argv(tiny_checkpoint_dir, pictures, "eager:fp32", "eager:fp32")
    assert run_command(*argv, "--json", str(report), "--markdown", str(markdown)) == 0
    data = json.loads(report.read_text())
    found = data["agreement"]
    assert found["queries"] == 3 * len(PROMPTS)
    assert found["matched"] == found["reference_instances"] == found["candidate_instances"] > 0
    assert (found["missed"], found["extra"], found["count_differs"]) == (0, 0, 0)
    assert found["mask_iou"] == {"mean": 1.0, "median": 1.0, "min": 1.0}
    assert found["score_abs_diff"] == {"mean": 0.0, "max": 0.0}
    assert found["box_abs_diff_px"] == {"mean": 0.0, "max": 0.0}
    assert sorted(found["per_prompt"]) == sorted(PROMPTS)
    assert data["settings"]["images"] == 3 and data["settings"]["prompts"] == PROMPTS
    for role in ("reference", "candidate"):
        assert data[role]["variant"] == "eager:fp32"
        assert data[role]["instances"] == found["matched"]
        check_measured(data[role])
    text = markdown.read_text()
    assert text.startswith("# Agreement: eager:fp32 against eager:fp32")
    assert "| eager:fp32 (reference) |" in text and "| eager:fp32 (candidate) |" in text
    assert "| missed (reference only) | 0 |" in text
    assert "eager:fp32 against eager:fp32: " in capsys.readouterr().out


# bf16 is emulated on CPUs without bf16 instructions (5x slower): outside the fast suite; the
# full-size comparison is benchmarks/agreement_full_size.py.
@pytest.mark.slow
def test_eager_against_amp_bf16_reports_every_number(
    tiny_checkpoint_dir: Path, pictures: Path, tmp_path: Path
) -> None:
    report = tmp_path / "agreement.json"
    argv = variant_argv(tiny_checkpoint_dir, pictures, "eager:fp32", "amp:bf16")
    assert run_command(*argv, "--match-iou", "0.3", "--json", str(report)) == 0
    data = json.loads(report.read_text())
    found = data["agreement"]
    assert data["candidate"]["backend"] == "amp" and data["candidate"]["precision"] == "bf16"
    assert found["matched"] > 0 and data["settings"]["match_iou"] == 0.3
    assert found["matched"] + found["missed"] == data["reference"]["instances"]
    assert found["matched"] + found["extra"] == data["candidate"]["instances"]
    assert 0.3 <= found["mask_iou"]["min"] <= found["mask_iou"]["mean"] <= 1.0
    assert 0.0 <= found["score_abs_diff"]["mean"] <= found["score_abs_diff"]["max"] < 0.1
    assert 0.0 <= found["count_differs_fraction"] <= 1.0
    check_measured(data["reference"])
    check_measured(data["candidate"])


def test_a_variant_at_another_resolution_is_compared_at_the_images_size(
    tiny_checkpoint_dir: Path, pictures: Path
) -> None:
    report = compare_variants(
        pictures,
        PROMPTS[:1],
        "eager:fp32",
        Variant("eager", "fp32", 336),
        model=tiny_checkpoint_dir,
        threshold=THRESHOLD,
        warmup=False,
    )
    data = report.to_dict()
    assert data["candidate"]["resolution"] == 336 and data["reference"]["resolution"] is None
    assert data["agreement"]["queries"] == 3
    iou = data["agreement"]["mask_iou"]
    assert iou["mean"] is None or 0.5 <= iou["min"] <= iou["mean"] <= 1.0
    assert "| eager:fp32:336 (candidate) |" in report.to_markdown()


def test_usage_errors_exit_2_and_say_what_is_wrong(
    pictures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    both = ["--images", str(pictures), "--prompt", "cat"]
    cases = [
        (["--reference", "eager:fp32", "--candidate", "eager", *both], "--candidate: expected"),
        (["--reference", "cpu:fp32", "--candidate", "amp:bf16", *both], "--reference: unknown"),
        (["--reference", "eager:fp32", *both], "needs --candidate"),
        (["--reference", "eager:fp32", "--candidate", "amp:bf16"], "needs --images, --prompt"),
        (
            ["--reference", "eager:fp32", "--candidate", "amp:bf16", *both, "--precision", "bf16"],
            "--precision: not used when comparing variants",
        ),
        (
            ["--ground-truth", "gt.json", "--reference", "eager:fp32", "--candidate", "amp:bf16"],
            "--ground-truth: not used when comparing variants",
        ),
        (["--images", str(pictures), "--prompt", "cat"], "--prompt: only for comparing variants"),
        (["--images", str(pictures)], "give --ground-truth"),
    ]
    for argv, message in cases:
        assert run_command(*argv) == 2, argv
        assert message in capsys.readouterr().err, argv


def test_a_variant_that_does_not_load_is_an_error_naming_it(
    tiny_checkpoint_dir: Path,
    pictures: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = variant_argv(tiny_checkpoint_dir, pictures, "eager:fp32", "eager:bf16")
    assert run_command(*argv) == 1
    assert "error: candidate eager:bf16: precision: backend 'eager' runs fp32 only" in (
        capsys.readouterr().err
    )
    with pytest.raises(InputError, match=r"^reference: unknown backend"):
        compare_variants(pictures, ["cat"], "gpu:fp32", "eager:fp32", model=tiny_checkpoint_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no image files"):
        compare_variants(empty, ["cat"], "eager:fp32", "eager:fp32", model="x")
