"""``sam3lib app`` in a real browser: headless Chromium uploads, prompts, clicks, reads; and
the click tab: clicking the picture makes the object's mask appear on it.

Needs Debian's ``chromium`` (``.ci/run`` installs it); where it is missing or cannot start,
the test is skipped with the reason.
"""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
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
def app_url(
    tiny_interactive_checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``sam3lib app`` on the tiny checkpoint with both heads (its detector is the one of
    ``tiny_checkpoint_dir``), for both tabs."""
    port = free_port()
    checkpoint = str(tiny_interactive_checkpoint_dir)
    command = [sys.executable, "-m", "sam3lib", "app", "--model", checkpoint]
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


def test_clicking_the_picture_shows_the_mask(app_url: str, page: object, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    picture = tmp_path / "shapes.png"
    Image.fromarray(sample_image("shapes")).save(picture)

    page.goto(app_url, wait_until="load")
    page.get_by_role("tab", name="Click an object").click()
    page.locator("#click-image input[type=file]").set_input_files(str(picture))
    details = page.locator("#click-details")
    expect(details).to_contain_text("Now click", timeout=ANSWER_TIMEOUT_MS)  # encoded
    shown = page.locator("#click-image img")
    before = _pixels(shown.screenshot())

    def click(x: float, y: float) -> None:
        """Click the picture at (x, y) of the element, and wait for the answer drawn on it."""
        drawn = shown.get_attribute("src")
        shown.click(position={"x": x, "y": y})
        expect(shown).not_to_have_attribute("src", drawn or "", timeout=ANSWER_TIMEOUT_MS)

    size = shown.bounding_box()
    assert size is not None
    # The red disc of the "shapes" sample, at (95, 105) of its 480 x 320 pixels.
    click(size["width"] * 95 / 480, size["height"] * 105 / 320)
    expect(details).to_contain_text("predicted IoU", timeout=ANSWER_TIMEOUT_MS)
    expect(details).to_contain_text("1 on the object")
    area = int(details.inner_text().split("area ")[1].split(" px")[0])
    assert area > 0
    after = _pixels(shown.screenshot())
    changed = np.any(before != after, axis=-1).mean()
    assert changed > 0.02, f"only {changed:.2%} of the picture changed: no mask drawn"
    expect(page.locator("#click-timings")).to_contain_text("decode clicks")
    expect(page.locator("#click-downloads")).to_contain_text("masks_coco_rle")

    page.get_by_label("background (−)").check()
    click(10, 10)
    expect(details).to_contain_text("1 on the background", timeout=ANSWER_TIMEOUT_MS)
    page.get_by_label("box: two corners").check()
    click(30, 30)  # the first corner: a cross
    click(size["width"] / 2, size["height"] / 2)
    expect(details).to_contain_text("and a box", timeout=ANSWER_TIMEOUT_MS)
    page.locator("#click-clear").click()
    expect(details).to_have_text("", timeout=ANSWER_TIMEOUT_MS)


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))
