"""``sam3lib app`` in a real browser: headless Chromium uploads, prompts, clicks, reads.

Needs Debian's ``chromium`` (``.ci/run`` installs it); where it is missing or cannot start,
the test is skipped with the reason.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from conftest import THRESHOLD
from helpers.serving import free_port, serving
from sam3lib.app.samples import sample_image

ANSWER_TIMEOUT_MS = 120_000
# Chromium in a sandbox-less container with no network: anything else makes it hang or crash.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def app_url(tiny_checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "sam3lib", "app", "--model", str(tiny_checkpoint_dir)]
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path_factory.mktemp("app") / "app.log"
    with serving([*command, "--port", str(port)], url, log):
        yield url


@pytest.fixture()
def page(tmp_path: Path) -> Iterator[object]:
    from playwright.sync_api import Error, sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        reason = "no chromium on PATH (apt-get install chromium)"
        print(f"SKIPPED browser test: {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch_persistent_context(
                str(tmp_path / "profile"),
                executable_path=executable,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1400, "height": 1000},
            )
        except Error as error:
            reason = f"chromium did not start: {error}"
            print(f"SKIPPED browser test: {reason}")
            pytest.skip(reason)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_upload_prompt_segment_and_inspect(app_url: str, page: object, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    picture = tmp_path / "street.png"
    Image.fromarray(sample_image("toy street")).save(picture)

    page.goto(app_url, wait_until="load")
    page.locator("#segment").wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.locator("#image input[type=file]").set_input_files(str(picture))
    page.locator("#prompts textarea").fill("car, wheel")
    threshold = page.locator("#threshold input[type=number]")
    threshold.fill(str(THRESHOLD))
    threshold.press("Enter")
    page.locator("#segment").click()

    legend = page.locator("#legend .legend-item")
    legend.first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#overlay img")).to_be_visible()
    titles = legend.all_inner_texts()
    assert any(title.startswith("#1 car ") for title in titles), titles
    assert any(" wheel " in title for title in titles), titles
    expect(page.locator("#timings")).to_contain_text("decode")
    expect(page.locator("#downloads")).to_contain_text("masks_coco_rle")

    page.locator("#instance input").click()
    page.get_by_role("option").first.click()
    expect(page.locator("#details")).to_contain_text("score", timeout=30_000)
    expect(page.locator("#details")).to_contain_text("area")

    shot = tmp_path / "app.png"
    page.screenshot(path=str(shot), full_page=True)
    with Image.open(shot) as image:
        assert image.size[0] >= 1000
