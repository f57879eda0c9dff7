"""``sam3lib bench`` end to end on the tiny size, and its argument checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sam3lib.bench.command import main, variants
from sam3lib.bench.runners import STAGES
from sam3lib.cli import main as cli_main
from sam3lib.errors import Sam3Error


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tiny_run_compares_with_transformers_and_writes_json_and_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, page = tmp_path / "bench.json", tmp_path / "bench.md"
    argv = ["--size", "tiny", "--repeats", "1", "--precision", "fp32", "--prompts", "3"]
    argv += ["--images", "2", "--image-size", "90x120", "--compare", "transformers"]
    assert main([*argv, "--json", str(out), "--markdown", str(page)]) == 0

    table = capsys.readouterr().out
    assert "sam3lib/transformers" in table and "1 image, 3 prompts" in table
    report = json.loads(out.read_text())
    (variant,) = report["variants"]
    assert (variant["backend"], variant["precision"]) == ("eager", "fp32")
    assert set(variant["cases"]) == {"1x1", "1x3", "2x1"}
    for case in variant["cases"].values():
        assert set(case["sam3lib"]["seconds"]) == {*STAGES, "total"}
        # Same weights, same threshold: both keep the same masks.
        assert case["sam3lib"]["kept"] == case["transformers"]["kept"] > 0
    assert set(variant["isolated"]) == {"sam3lib", "transformers"}
    assert variant["isolated"]["sam3lib"]["peak_rss_bytes"] > 0
    assert "Command: `sam3lib bench --size tiny" in page.read_text()


def test_bench_is_a_cli_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["bench", "--help"])
    assert exit_info.value.code == 0
    assert "--compare" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--size", "huge"],
        ["--repeats", "0"],
        ["--prompts", "1"],
        ["--image-size", "big"],
        ["--backend", "eager", "--precision", "bf16"],
        ["--device", "tpu"],
    ],
)
def test_bad_arguments_exit_with_status_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_variants_pair_each_precision_with_its_backend() -> None:
    assert [(v.backend, v.precision) for v in variants(None, None, "cpu")] == [
        ("eager", "fp32"),
        ("amp", "bf16"),
    ]
    assert len(variants(None, None, "cuda")) == 3
    with pytest.raises(Sam3Error):
        variants(["eager"], ["fp16"], "cpu")
