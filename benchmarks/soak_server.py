"""Soak: ``sam3lib serve`` under a steady load of concurrent requests, watching its memory.

Starts the real server on a free loopback port with a tiny random checkpoint (as
``soak_segment.py`` builds it), sends ``--requests`` varied ``POST /v1/segment`` requests
(JSON and multipart, PNG and JPEG, 64x512 to 1080x1920, one or several prompts, exemplar
boxes, every mask format) from ``--concurrency`` clients at once, and samples the server
process's resident set size (``/proc/PID/status`` VmRSS) meanwhile. Reports status codes
(only 200 and the admission gate's 503 are expected), latency p50/p99 and the server's RSS at
start, peak and end.

    python benchmarks/soak_server.py                     # 2000 requests, 16 at once
    python benchmarks/soak_server.py --requests 200 --json server.json
    python benchmarks/soak_server.py --max-queue 4       # provoke the gate's 503s
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from soak_segment import (
    IMAGE_SIZES,
    MIB,
    REFINE_MAX_PIXELS,
    percentile,
    picture,
    positive_int,
    random_box,
    random_prompt,
    rss_bytes,
    tiny_checkpoint,
    write_json,
)

STARTUP_TIMEOUT_S = 120
REQUEST_TIMEOUT_S = 600
MASK_FORMATS = {"rle": 6, "polygons": 2, "png": 1, "none": 1}


@dataclass
class Body:
    """One prepared request: JSON body, or multipart form fields plus the file."""

    size: str
    json: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    file: tuple[str, bytes, str] | None = None


def encoded(pixels: np.ndarray, image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format, quality=90)
    return buffer.getvalue()


def make_body(rng: np.random.Generator) -> Body:
    """A valid segment request with drawn image size, file format, prompts and options."""
    sizes = list(IMAGE_SIZES)
    weights = np.array(list(IMAGE_SIZES.values()), dtype=float)
    height, width = sizes[int(rng.choice(len(sizes), p=weights / weights.sum()))]
    # Noisy PNGs of full-HD size would pass the 10 MB body limit once in base64: JPEG there.
    image_format = "PNG" if height * width <= 480 * 640 and rng.random() < 0.5 else "JPEG"
    image = encoded(picture(rng, height, width), image_format)
    formats = list(MASK_FORMATS)
    format_weights = np.array(list(MASK_FORMATS.values()), dtype=float)
    options: dict[str, Any] = {
        "prompts": [random_prompt(rng) for _ in range(int(rng.choice([1, 1, 1, 2, 3])))],
        "threshold": float(rng.choice([0.05, 0.1, 0.2, 0.5])),
        "mask_format": formats[int(rng.choice(len(formats), p=format_weights / 10))],
    }
    if rng.random() < 0.25:
        options["boxes"] = [random_box(rng, height, width) for _ in range(int(rng.integers(1, 3)))]
        if rng.random() < 0.3:
            options["prompts"] = []  # exemplar boxes alone
    if rng.random() < 0.2:
        options["top_k"] = int(rng.integers(1, 6))
    if rng.random() < 0.1 and height * width <= REFINE_MAX_PIXELS:
        options["refine"] = int(rng.integers(1, 4))
    size = f"{height}x{width}"
    if rng.random() < 0.5:
        encoded_image = base64.b64encode(image).decode("ascii")
        return Body(size, json={"image": encoded_image, **options})
    form: dict[str, Any] = {
        key: json.dumps(value) if key == "boxes" else value for key, value in options.items()
    }
    suffix, mime = (".png", "image/png") if image_format == "PNG" else (".jpg", "image/jpeg")
    return Body(size, form=form, file=(f"picture{suffix}", image, mime))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    checkpoint: Path, port: int, log: Path, extra: Sequence[str]
) -> subprocess.Popen[bytes]:
    """``sam3lib serve`` in a child process; returns once ``/healthz`` answers 200."""
    command = [sys.executable, "-m", "sam3lib", "serve", "--model", str(checkpoint)]
    command += ["--port", str(port), "--log-level", "warning", *extra]
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(process)
    raise RuntimeError(f"server silent after {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


class RssSampler(threading.Thread):
    """Samples a process's RSS every ``period_s``, with the count of requests answered then."""

    def __init__(self, pid: int, period_s: float, answered: list[int]) -> None:
        super().__init__(daemon=True)
        self.pid, self.period_s, self.answered = pid, period_s, answered
        self.samples: list[tuple[float, int, int]] = []  # (seconds, answered, bytes)
        self._stop_event = threading.Event()
        self._since = time.monotonic()

    def sample(self) -> None:
        elapsed = time.monotonic() - self._since
        self.samples.append((elapsed, len(self.answered), rss_bytes(self.pid)))

    def run(self) -> None:
        while not self._stop_event.wait(self.period_s):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()


@dataclass
class Answer:
    status: int
    seconds: float  # client side, from sending to the whole answer
    size: str
    detail: str = ""
    service_s: float = 0.0  # the server's own segment + encode timings (no queueing)


async def send_all(
    url: str, bodies: Sequence[Body], order: Sequence[int], concurrency: int, answered: list[int]
) -> list[Answer]:
    """Send ``bodies[i]`` for each ``i`` of ``order``, ``concurrency`` requests in flight."""
    answers: list[Answer] = []
    pending = iter(order)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, limits=limits) as client:

        async def worker() -> None:
            for index in pending:  # shared iterator: each index goes to one worker
                body = bodies[index]
                started = time.perf_counter()
                try:
                    if body.json is not None:
                        response = await client.post(url, json=body.json)
                    else:
                        assert body.file is not None
                        response = await client.post(
                            url, data=body.form, files={"image": body.file}
                        )
                    status, detail, service_s = response.status_code, "", 0.0
                    if status == 200:
                        timings = response.json()["timings"]
                        service_s = timings["segment"] + timings["encode"]
                    else:
                        detail = response.text[:300]
                except httpx.HTTPError as error:
                    status, detail, service_s = 0, f"{type(error).__name__}: {error}", 0.0
                elapsed = time.perf_counter() - started
                answers.append(Answer(status, elapsed, body.size, detail, service_s))
                answered.append(1)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answers


@dataclass
class ServerSoakReport:
    """What a server soak measured. RSS in MiB, latencies in seconds (client side)."""

    requests: int
    concurrency: int
    wall_s: float
    statuses: dict[str, int]
    unexpected: list[str]  # first few answers other than 200 and 503
    latency_p50_s: float  # of the 200 answers
    latency_p99_s: float
    latency_max_s: float
    service_p50_s: float  # the server's segment + encode time of the 200s: no queueing
    service_p99_s: float
    rss_start_mib: float  # ready, before the first request
    rss_after_warmup_mib: float  # when ``warmup`` requests were answered
    rss_peak_mib: float
    rss_end_mib: float  # all answered
    growth_after_warmup_pct: float
    curve: list[tuple[int, float]] = field(default_factory=list)  # (answered, RSS MiB)
    latency_by_size: dict[str, float] = field(default_factory=dict)  # p50 of 200s


def summarize(
    answers: Sequence[Answer],
    samples: Sequence[tuple[float, int, int]],
    *,
    concurrency: int,
    wall_s: float,
    warmup: int,
    every: int,
) -> ServerSoakReport:
    statuses: dict[str, int] = {}
    for answer in answers:
        statuses[str(answer.status)] = statuses.get(str(answer.status), 0) + 1
    ok = [answer.seconds for answer in answers if answer.status == 200] or [float("nan")]
    service = [a.service_s for a in answers if a.status == 200] or [float("nan")]
    unexpected = [f"{a.status} {a.detail}" for a in answers if a.status not in (200, 503)][:5]
    after_warmup = next(rss for _, done, rss in samples if done >= min(warmup, len(answers)))
    curve, next_mark = [], 0
    for _, done, rss in samples:
        if done >= next_mark:
            curve.append((done, rss / MIB))
            next_mark = (done // every + 1) * every
    by_size: dict[str, list[float]] = {}
    for answer in answers:
        if answer.status == 200:
            by_size.setdefault(answer.size, []).append(answer.seconds)
    end = samples[-1][2]
    return ServerSoakReport(
        requests=len(answers),
        concurrency=concurrency,
        wall_s=wall_s,
        statuses=dict(sorted(statuses.items())),
        unexpected=unexpected,
        latency_p50_s=percentile(ok, 0.5),
        latency_p99_s=percentile(ok, 0.99),
        latency_max_s=max(ok),
        service_p50_s=percentile(service, 0.5),
        service_p99_s=percentile(service, 0.99),
        rss_start_mib=samples[0][2] / MIB,
        rss_after_warmup_mib=after_warmup / MIB,
        rss_peak_mib=max(rss for _, _, rss in samples) / MIB,
        rss_end_mib=end / MIB,
        growth_after_warmup_pct=100 * (end - after_warmup) / after_warmup,
        curve=curve,
        latency_by_size={size: percentile(times, 0.5) for size, times in sorted(by_size.items())},
    )


def print_report(report: ServerSoakReport) -> None:
    print(
        f"{report.requests} requests, {report.concurrency} at once, {report.wall_s:.0f} s; "
        f"statuses {report.statuses}"
    )
    for line in report.unexpected:
        print(f"  unexpected: {line}")
    print("server RSS MiB by requests answered:")
    for done, mib in report.curve:
        print(f"  {done:>6}  {mib:8.1f}")
    print(
        f"server RSS MiB: start {report.rss_start_mib:.1f}, after warm-up "
        f"{report.rss_after_warmup_mib:.1f}, peak {report.rss_peak_mib:.1f}, end "
        f"{report.rss_end_mib:.1f} (growth after warm-up {report.growth_after_warmup_pct:+.2f} %)"
    )
    print(
        f"latency of 200s (client side, queueing included): p50 {report.latency_p50_s:.2f} s, "
        f"p99 {report.latency_p99_s:.2f} s, max {report.latency_max_s:.2f} s; "
        f"server's own time p50 {report.service_p50_s:.2f} s, p99 {report.service_p99_s:.2f} s"
    )
    sizes = ", ".join(f"{size} {s:.2f}" for size, s in report.latency_by_size.items())
    print(f"p50 s by image size: {sizes}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=positive_int, default=2000)
    parser.add_argument("--concurrency", type=positive_int, default=16)
    parser.add_argument("--bodies", type=positive_int, default=48, help="distinct request bodies")
    parser.add_argument("--warmup", type=int, default=200, help="requests before the baseline")
    parser.add_argument("--every", type=positive_int, default=200, help="RSS curve step")
    parser.add_argument("--sample-s", type=float, default=0.5, help="RSS sampling period")
    parser.add_argument("--workers", type=positive_int, default=1, help="server --workers")
    parser.add_argument("--max-queue", type=int, default=64, help="server --max-queue")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the report here ('-': stdout)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    bodies = [make_body(rng) for _ in range(args.bodies)]
    order = [int(i) for i in rng.integers(0, len(bodies), args.requests)]
    extra = ["--workers", str(args.workers), "--max-queue", str(args.max_queue)]
    with tempfile.TemporaryDirectory(prefix="soak-server-") as scratch:
        checkpoint = tiny_checkpoint(Path(scratch) / "checkpoint")
        log = Path(scratch) / "server.log"
        port = free_port()
        process = start_server(checkpoint, port, log, extra)
        answered: list[int] = []
        sampler = RssSampler(process.pid, args.sample_s, answered)
        try:
            sampler.sample()
            sampler.start()
            started = time.perf_counter()
            url = f"http://127.0.0.1:{port}/v1/segment"
            answers = asyncio.run(send_all(url, bodies, order, args.concurrency, answered))
            wall_s = time.perf_counter() - started
            sampler.stop()
        finally:
            stop_server(process)
        report = summarize(
            answers,
            sampler.samples,
            concurrency=args.concurrency,
            wall_s=wall_s,
            warmup=args.warmup,
            every=args.every,
        )
    print_report(report)
    write_json(report, args.json)
    unexpected = sum(n for status, n in report.statuses.items() if status not in ("200", "503"))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
