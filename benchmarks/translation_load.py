"""Load time of the offline translator, and its time per prompt.

Each measurement runs in a fresh Python process, as a user's first Chinese prompt would:

- **cold**: an empty translation cache (``$SAM3LIB_CACHE`` pointed at a new directory): CC-CEDICT
  and jieba's word list are parsed, then written to the cache: what the first Chinese prompt
  ever costs on a machine;
- **warm**: the cache that run wrote: what the first Chinese prompt of every later process
  costs.

Times start after ``import sam3lib`` (torch and the rest, not the translator's business) and
end when the first prompt is translated; the dictionary and segmenter loads are also timed
alone. Then every prompt of the accuracy table (tests/translation/prompt_table.py, 187
prompts) is translated ``--rounds`` times in the warm process: mean, 99th percentile and worst
time per prompt (the worst includes whatever pauses the process, e.g. a garbage collection).

    python benchmarks/translation_load.py [--runs 3 --rounds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TABLE_DIR = Path(__file__).resolve().parents[1] / "tests"


def child(rounds: int) -> dict[str, Any]:
    """Runs in the fresh process: load times, then the per-prompt times over the table."""
    import sam3lib  # noqa: F401  # the package (and torch) before the clock starts
    from sam3lib.translation import _KNOWN_WORDS, translate
    from sam3lib.translation.dictionary import load_dictionary, load_segmenter

    started = time.perf_counter()
    load_dictionary()
    dictionary_s = time.perf_counter() - started
    load_segmenter(_KNOWN_WORDS)
    segmenter_s = time.perf_counter() - started - dictionary_s
    translate("红色的汽车")
    first_prompt_s = time.perf_counter() - started

    sys.path.insert(0, str(TABLE_DIR))
    from translation.prompt_table import COCO_CATEGORIES, LVIS_OBJECTS, PHRASES

    prompts = [chinese for chinese, _ in COCO_CATEGORIES + LVIS_OBJECTS + PHRASES]
    per_prompt: list[float] = []
    for _ in range(rounds):
        for prompt in prompts:
            begun = time.perf_counter()
            translate(prompt)
            per_prompt.append(time.perf_counter() - begun)
    return {
        "dictionary_s": dictionary_s,
        "segmenter_s": segmenter_s,
        "first_prompt_s": first_prompt_s,
        "prompts": len(prompts),
        "mean_prompt_ms": 1000 * statistics.fmean(per_prompt),
        "p99_prompt_ms": 1000 * statistics.quantiles(per_prompt, n=100)[-1],
        "max_prompt_ms": 1000 * max(per_prompt),
    }


def fresh_process(cache: Path, rounds: int) -> dict[str, Any]:
    environment = {**os.environ, "SAM3LIB_CACHE": str(cache)}
    completed = subprocess.run(
        [sys.executable, __file__, "--child", "--rounds", str(rounds)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per measurement")
    parser.add_argument("--rounds", type=int, default=20, help="passes over the prompt table")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.rounds)))
        return

    cold: list[dict[str, Any]] = []
    warm: list[dict[str, Any]] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="sam3lib-translation-") as directory:
            cold.append(fresh_process(Path(directory), rounds=1))
            warm.append(fresh_process(Path(directory), rounds=args.rounds))

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; median of {args.runs} runs")
    print(f"{'load (s)':<10} {'dictionary':>10} {'jieba':>8} {'first prompt':>13}")
    for name, runs in (("cold", cold), ("warm", warm)):
        medians = [statistics.median(run[key] for run in runs) for key in _LOAD_KEYS]
        print(f"{name:<10} {medians[0]:>10.3f} {medians[1]:>8.3f} {medians[2]:>13.3f}")
    mean = statistics.median(run["mean_prompt_ms"] for run in warm)
    p99 = statistics.median(run["p99_prompt_ms"] for run in warm)
    worst = max(run["max_prompt_ms"] for run in warm)
    print(
        f"per prompt, {warm[0]['prompts']} prompts x {args.rounds} rounds: "
        f"mean {mean:.3f} ms, 99th percentile {p99:.3f} ms, worst {worst:.3f} ms"
    )


_LOAD_KEYS = ("dictionary_s", "segmenter_s", "first_prompt_s")

if __name__ == "__main__":
    main()
