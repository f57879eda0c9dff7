"""sam3lib.label end to end on the tiny checkpoint: the dataset holds exactly what
Segmenter.segment finds, read back by pycocotools and supervision; bad files are recorded."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import supervision
import torch
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from helpers.extras import needs_zh
from labelling.conftest import PROMPTS, THRESHOLD, write_bad_files, write_pictures
from sam3lib import InputError, RunMismatchError, Segmenter, label
from sam3lib.labelling.sources import iter_source


@pytest.fixture(scope="module")
def labelled(tiny_checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A folder of 8 pictures (3 in a subfolder) and 4 bad files, labelled as COCO RLE."""
    root = tmp_path_factory.mktemp("labelled")
    source = root / "pictures"
    write_pictures(source, 8, nested=True)
    bad = write_bad_files(source)
    summary = label(
        source,
        PROMPTS,
        root / "out",
        model=tiny_checkpoint_dir,
        threshold=THRESHOLD,
        max_pixels=100_000,
        shard_size=3,
        progress=False,
    )
    return source, root / "out", summary, bad


def test_every_image_holds_what_segment_finds(labelled, tiny_checkpoint_dir: Path) -> None:
    source, out, summary, _ = labelled
    segmenter = Segmenter.from_pretrained(tiny_checkpoint_dir)
    dataset = json.loads((out / "annotations.json").read_text())
    assert [c["name"] for c in dataset["categories"]] == PROMPTS
    assert [c["query"] for c in dataset["categories"]] == PROMPTS  # English: read as typed
    assert [c["id"] for c in dataset["categories"]] == [1, 2]
    images = {image["file_name"]: image for image in dataset["images"]}
    good = sorted(path.relative_to(source).as_posix() for path in source.rglob("p*"))
    assert sorted(images) == good  # relative to SOURCE, the bad files left out
    assert "more/p002.jpg" in images
    total = 0
    for name, image in images.items():
        results = segmenter.segment(source / name, PROMPTS, threshold=THRESHOLD)
        found = [a for a in dataset["annotations"] if a["image_id"] == image["id"]]
        expected = [
            (category, r.to_coco_rle()[i], float(r.scores[i]), r.boxes[i].tolist())
            for category, r in enumerate(results, start=1)
            for i in range(len(r))
        ]
        assert (image["height"], image["width"]) == results[0].image_size
        assert len(found) == len(expected) > 0
        for annotation, expectation in zip(found, expected, strict=True):
            category, rle, score, (x0, y0, x1, y1) = expectation
            assert annotation["category_id"] == category
            assert annotation["segmentation"] == rle
            assert annotation["score"] == score
            assert annotation["bbox"] == [x0, y0, x1 - x0, y1 - y0]
            assert annotation["area"] == int(coco_mask.area(rle))
        total += len(expected)
    assert summary.images == 8 and summary.failed == 4
    assert sum(summary.instances.values()) == total == len(dataset["annotations"])
    assert [a["id"] for a in dataset["annotations"]] == list(range(1, total + 1))


def test_pycocotools_reads_the_dataset(labelled) -> None:
    _, out, _, _ = labelled
    coco = COCO(str(out / "annotations.json"))
    assert sorted(coco.getCatIds()) == [1, 2]
    for annotation in coco.loadAnns(coco.getAnnIds()):
        mask = coco.annToMask(annotation)
        assert mask.sum() == annotation["area"]
    # The dataset also scores against itself as COCO results: AP 1.
    from pycocotools.cocoeval import COCOeval

    predictions = json.loads((out / "annotations.json").read_text())["annotations"]
    results = coco.loadRes(predictions)
    evaluation = COCOeval(coco, results, "segm")
    evaluation.evaluate(), evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def test_supervision_reads_the_coco_dataset(labelled) -> None:
    source, out, _, _ = labelled
    dataset = supervision.DetectionDataset.from_coco(
        images_directory_path=str(source),
        annotations_path=str(out / "annotations.json"),
        force_masks=True,
    )
    coco = COCO(str(out / "annotations.json"))
    assert dataset.classes == PROMPTS
    checked = 0
    for image_path, _, detections in dataset:
        name = Path(image_path).relative_to(source).as_posix()
        image_id = next(i["id"] for i in coco.dataset["images"] if i["file_name"] == name)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert len(detections) == len(anns)
        expected = np.stack([coco.annToMask(a).astype(bool) for a in anns])
        assert np.array_equal(detections.mask, expected)
        checked += 1
    assert checked == 8


def test_every_bad_file_is_listed_with_its_reason(labelled) -> None:
    _, out, summary, bad = labelled
    lines = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert {line["file_name"] for line in lines} == set(bad)
    for line in lines:
        assert bad[line["file_name"]] in line["error"]
    assert summary.exit_status == 3
    assert "FAILED: 4 image(s)" in str(summary)


def test_running_again_redoes_nothing_and_rewrites_the_same_dataset(
    labelled, tiny_checkpoint_dir: Path
) -> None:
    source, out, _, _ = labelled
    before = (out / "annotations.json").read_bytes()
    again = label(
        source,
        PROMPTS,
        out,
        model=tiny_checkpoint_dir,
        threshold=THRESHOLD,
        max_pixels=100_000,
        shard_size=3,
        progress=False,
    )
    assert again.processed == 0
    assert (again.images, again.failed) == (8, 4)
    assert (out / "annotations.json").read_bytes() == before


def test_other_settings_are_refused_naming_each_difference(
    labelled, tiny_checkpoint_dir: Path
) -> None:
    source, out, _, _ = labelled
    with pytest.raises(RunMismatchError, match=r"threshold: 0\.1 there, 0\.3 now") as error:
        label(source, ["cat"], out, model=tiny_checkpoint_dir, threshold=0.3, progress=False)
    assert "prompts" in str(error.value) and "max_pixels" in str(error.value)


def test_memory_is_bounded_whatever_the_source_length(tiny_checkpoint_dir: Path, tmp_path) -> None:
    """The pipeline never runs more than prefetch + batch images ahead of what it committed
    or buffered for the next shard: it does not collect the dataset in memory."""
    pictures = tmp_path / "pictures"
    write_pictures(pictures, 20)
    paths = sorted(pictures.iterdir())
    shards = tmp_path / "out" / "run" / "shards"
    ahead: list[int] = []

    def source():
        for position, path in enumerate(paths):
            committed = sum(len(p.read_text().splitlines()) for p in shards.glob("shard-*.jsonl"))
            ahead.append(position - committed)
            yield str(path)

    summary = label(
        source(),
        ["cat"],
        tmp_path / "out",
        model=tiny_checkpoint_dir,
        shard_size=4,
        workers=1,
        progress=False,
    )
    assert summary.images == 20
    prefetch, shard_size, batch = 8, 4, 1
    assert max(ahead) <= prefetch + shard_size + batch
    assert len(list(shards.glob("shard-*.jsonl"))) == 5


@needs_zh
def test_chinese_prompts_name_the_categories_and_record_the_english_query(
    tiny_checkpoint_dir: Path, tmp_path: Path
) -> None:
    write_pictures(tmp_path / "pictures", 2)
    label(
        tmp_path / "pictures", ["猫", "红色的汽车"], tmp_path / "out",
        model=tiny_checkpoint_dir, threshold=THRESHOLD, progress=False,
    )  # fmt: skip
    categories = json.loads((tmp_path / "out" / "annotations.json").read_text())["categories"]
    assert [(c["name"], c["query"]) for c in categories] == [
        ("猫", "cat"),
        ("红色的汽车", "red car"),
    ]


@needs_zh
def test_an_untranslatable_prompt_stops_the_run_before_it_starts(
    tiny_checkpoint_dir: Path, tmp_path: Path
) -> None:
    write_pictures(tmp_path / "pictures", 1)
    with pytest.raises(InputError, match="translat"):
        label(tmp_path / "pictures", ["cat", "㐀"], tmp_path / "out", model=tiny_checkpoint_dir)
    assert not (tmp_path / "out").exists()


def test_sources_in_order_with_stable_keys(tmp_path: Path) -> None:
    write_pictures(tmp_path / "d", 5, nested=True)
    keys = [item.key for item in iter_source(tmp_path / "d")]
    assert keys == ["more/p002.jpg", "p000.jpg", "p001.png", "p003.png", "p004.jpg"]
    assert [i.key for i in iter_source(str(tmp_path / "d" / "*.png"))] == [
        str(tmp_path / "d" / "p001.png"),
        str(tmp_path / "d" / "p003.png"),
    ]
    listing = tmp_path / "d" / "list.txt"
    listing.write_text("# chosen\np004.jpg\n\nmore/p002.jpg\n")
    listed = list(iter_source(listing))
    assert [item.image for item in listed] == [
        tmp_path / "d" / "p004.jpg",
        tmp_path / "d" / "more" / "p002.jpg",
    ]
    arrays = list(iter_source([np.zeros((4, 4, 3), np.uint8), tmp_path / "d" / "p000.jpg"]))
    assert [item.key for item in arrays] == [
        "image-000000",
        (tmp_path / "d" / "p000.jpg").as_posix(),
    ]


def test_torch_threads_are_set_for_the_run_and_put_back(
    tiny_checkpoint_dir: Path, tmp_path
) -> None:
    write_pictures(tmp_path / "pictures", 3)
    before = torch.get_num_threads()
    summary = label(
        tmp_path / "pictures", ["cat"], tmp_path / "out", model=tiny_checkpoint_dir,
        torch_threads=before + 1, workers=2, progress=False,
    )  # fmt: skip
    assert summary.images == 3
    assert torch.get_num_threads() == before
    fresh: list[int] = []
    thread = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
    thread.start(), thread.join()
    assert fresh == [before]  # nothing left behind for threads started later either
