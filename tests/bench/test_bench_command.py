"""``sam3lib bench`` end to end on the tiny size, and its argument checks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from helpers.toolchain import requires_cpp_compiler
from sam3lib.bench import command
from sam3lib.bench.command import Variant, main, variants
from sam3lib.bench.flops import image_encoder_flops
from sam3lib.bench.runners import STAGES, OursRunner, TransformersRunner
from sam3lib.cli import main as cli_main
from sam3lib.errors import Sam3Error
from sam3lib.model import Sam3Config


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    "backends",
    [
        ["eager"],
        # Exporting the bench's own weights to ONNX costs a minute; onnxruntime itself is
        # checked against eager in tests/backends/test_onnxruntime.py.
        pytest.param(["eager", "onnxruntime"], marks=pytest.mark.slow),
    ],
)
def test_tiny_run_compares_with_transformers_and_writes_json_and_markdown(
    backends: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAM3LIB_CACHE", str(tmp_path / "cache"))  # onnxruntime's export
    out, page = tmp_path / "bench.json", tmp_path / "bench.md"
    argv = ["--size", "tiny", "--repeats", "1"]
    argv += [arg for backend in backends for arg in ("--backend", backend)]
    argv += ["--prompts", "3", "--images", "2", "--image-size", "90x120"]
    assert (
        main([*argv, "--compare", "transformers", "--json", str(out), "--markdown", str(page)]) == 0
    )

    table = capsys.readouterr().out
    assert "sam3lib/transformers" in table and "1 image, 3 prompts" in table
    report = json.loads(out.read_text())
    assert [(v["backend"], v["precision"]) for v in report["variants"]] == [
        (backend, "fp32") for backend in backends
    ]
    for variant in report["variants"]:
        assert set(variant["cases"]) == {"1x1", "1x3", "2x1"}
        for case in variant["cases"].values():
            assert set(case["sam3lib"]["seconds"]) == {*STAGES, "total"}
            # Same weights, same threshold: both keep the same masks.
            assert case["sam3lib"]["kept"] == case["transformers"]["kept"] > 0
        assert set(variant["isolated"]) == {"sam3lib", "transformers"}
        assert variant["isolated"]["sam3lib"]["peak_rss_bytes"] > 0
    assert "Command: `sam3lib bench --size tiny" in page.read_text()
    for backend in backends:
        assert f"### {backend} fp32 on cpu" in page.read_text()


# Slow: inductor compiles every case, then again in the fresh process. That compiled outputs
# equal eager ones is checked faster in tests/backends/test_torch_compile.py.
@pytest.mark.slow
@requires_cpp_compiler
def test_compiled_variants_are_timed_after_their_eager_twins(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    argv = ["--size", "tiny", "--repeats", "1", "--backend", "eager", "--compile"]
    argv += ["--prompts", "2", "--images", "0", "--image-size", "90x120", "--compare", "none"]
    assert main([*argv, "--json", str(out)]) == 0

    eager, compiled = json.loads(out.read_text())["variants"]
    assert (eager["backend"], compiled["backend"]) == ("eager", "eager+compile")
    for key in ("1x1", "1x2"):
        assert compiled["cases"][key]["sam3lib"]["kept"] == eager["cases"][key]["sam3lib"]["kept"]
    # The fresh process ran the compiled variant, so its first result includes compiling.
    assert "compile_mode='default'" in compiled["isolated"]["sam3lib"]["backend"]
    assert "compile_mode=None" in eager["isolated"]["sam3lib"]["backend"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("weights", ["random", "checkpoint"])
def test_both_implementations_run_at_the_resolution_and_the_report_records_it(
    weights: str, tiny_checkpoint_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint's config.json says 168 px: the bench writes one that says 252 for both."""
    sizes: dict[str, list[int]] = {"sam3lib": [], "transformers": []}
    load_ours, load_theirs = OursRunner.load, TransformersRunner.load

    def ours(*args: Any, **options: Any) -> OursRunner:
        runner = load_ours(*args, **options)
        sizes["sam3lib"].append(runner.segmenter.backend.config.vision.image_size)
        return runner

    def theirs(*args: Any) -> TransformersRunner:
        runner = load_theirs(*args)
        sizes["transformers"].append(runner.image_size)
        return runner

    monkeypatch.setattr(OursRunner, "load", ours)
    monkeypatch.setattr(TransformersRunner, "load", theirs)
    out, page = tmp_path / "bench.json", tmp_path / "bench.md"
    source = ["--size", "tiny"] if weights == "random" else ["--model", str(tiny_checkpoint_dir)]
    argv = [*source, "--repeats", "1", "--backend", "eager", "--prompts", "2", "--images", "0"]
    argv += ["--image-size", "90x120", "--no-isolated", "--resolution", "252"]
    assert main([*argv, "--json", str(out), "--markdown", str(page)]) == 0

    assert sizes == {"sam3lib": [252], "transformers": [252]}  # tiny's own size is 168
    report = json.loads(out.read_text())
    assert report["resolution"] == 252
    at_252 = image_encoder_flops(Sam3Config.tiny().at_resolution(252))
    assert report["encoder_flops"] == at_252.to_dict()  # the work of a 252 px encode
    for case in report["variants"][0]["cases"].values():
        assert case["sam3lib"]["kept"] == case["transformers"]["kept"] > 0
    assert "input 252 × 252 px" in page.read_text()
    assert "### eager fp32 on cpu at 252 px" in page.read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--size", "tiny", "--resolution", "170"], "170 does not run: .* 168 and 252"),
        (["--size", "full", "--resolution", "1000"], "1000 does not run: .* 672 and 1008"),
        (["--size", "tiny", "--resolution", "0"], "multiple of 84"),
    ],
)
def test_a_resolution_the_model_cannot_run_exits_with_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--backend", "eager", "--compare", "none"])
    assert exit_info.value.code == 2
    assert re.search(f"error: resolution: .*{message}", capsys.readouterr().err)


def test_a_checkpoint_is_checked_against_the_resolution_before_any_work(
    tiny_checkpoint_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(tiny_checkpoint_dir), "--resolution", "100", "--backend", "eager"])
    assert exit_info.value.code == 2
    assert "resolution: 100 does not run" in capsys.readouterr().err


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


def _pairs(variants_found: list[Variant]) -> list[tuple[str, str]]:
    return [(v.label, v.precision) for v in variants_found]


def test_variants_cover_each_runnable_backend_in_each_precision_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runnable = {
        "cpu": ["amp", "eager", "onnxruntime"],
        "cuda": ["amp", "eager", "onnxruntime", "tensorrt"],
    }
    monkeypatch.setattr(command, "available_backends", lambda device: runnable[device])
    monkeypatch.setattr(command, "onnxruntime_runs_on", lambda device: True)
    assert _pairs(variants(None, None, "cpu")) == [
        ("eager", "fp32"),
        ("amp", "bf16"),
        ("onnxruntime", "fp32"),
    ]
    assert _pairs(variants(None, None, "cuda")) == [
        ("eager", "fp32"),
        ("amp", "fp16"),
        ("amp", "bf16"),
        ("onnxruntime", "fp32"),
        ("tensorrt", "fp32"),
        ("tensorrt", "fp16"),
        ("tensorrt", "bf16"),
    ]
    assert _pairs(variants(["amp", "onnxruntime"], ["bf16"], "cpu", compiled=True)) == [
        ("amp", "bf16"),
        ("amp+compile", "bf16"),
    ]
    assert variants(["eager"], None, "cpu", compiled=True)[1].options == {"compile": True}


@pytest.mark.parametrize(
    ("backends", "precisions", "compiled", "message"),
    [
        (["tensorrt"], None, False, "tensorrt cannot run on cpu"),
        (["eager"], ["fp16"], False, "eager runs fp32"),
        (["onnxruntime"], None, True, "--compile applies to the eager and amp"),
    ],
)
def test_variants_that_cannot_run_are_refused(
    monkeypatch: pytest.MonkeyPatch,
    backends: list[str],
    precisions: list[str] | None,
    compiled: bool,
    message: str,
) -> None:
    monkeypatch.setattr(
        command, "available_backends", lambda device: ["amp", "eager", "onnxruntime"]
    )
    with pytest.raises(Sam3Error, match=message):
        variants(backends, precisions, "cpu", compiled=compiled)


def test_an_onnxruntime_without_a_gpu_provider_is_left_out_on_a_gpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(command, "available_backends", lambda device: ["eager", "onnxruntime"])
    monkeypatch.setattr(command, "onnxruntime_runs_on", lambda device: device == "cpu")
    assert _pairs(variants(None, ["fp32"], "cuda")) == [("eager", "fp32")]
    assert _pairs(variants(None, ["fp32"], "cpu")) == [("eager", "fp32"), ("onnxruntime", "fp32")]
    with pytest.raises(Sam3Error, match="onnxruntime cannot run on cuda"):
        variants(["onnxruntime"], None, "cuda")


def test_onnxruntime_reports_which_devices_it_has_a_provider_for() -> None:
    import onnxruntime

    from sam3lib.bench.command import onnxruntime_runs_on

    assert onnxruntime_runs_on("cpu")
    has_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    assert onnxruntime_runs_on("cuda") == has_cuda
