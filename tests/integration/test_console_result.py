"""What the console's result area and layout show a person: the cutout on a checkerboard,
a result replaced by an error, a cropped result alone, only installed models offered, the
run button in view, nothing scrolling sideways at 390 px. Chromium via Playwright against
the session's gateway, worker and batch service."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, ImageFilter
from playwright.async_api import Browser, Page

from processors.segmenters.catalog import KNOWN_MODELS
from streams.cli.services import CONSOLE_KEY_NAME, console_link
from tests.images import alpha_of
from tests.integration.conftest import CUP
from tests.integration.console import (
    NETWORK_ERROR,
    drop_file,
    file_payload,
    open_console,
    run_and_download,
    submit_batch,
)
from tests.integration.gateway_helpers import DEV_KEY, RunningGateway, bearer, new_account

pytestmark = pytest.mark.integration


CHECKER = np.array([[255, 255, 255], [0xD9, 0xDD, 0xE3]])


async def stage_pixels(page: Page, size: tuple[int, int]) -> np.ndarray:
    """What the result area shows, as an RGB array of the picture's own size."""
    shot = Image.open(io.BytesIO(await page.locator("#after").screenshot())).convert("RGB")
    return np.asarray(shot.resize(size, Image.Resampling.NEAREST)).astype(int)


async def test_the_cutout_shows_the_checkerboard_where_it_is_transparent(
    browser: Browser, api: RunningGateway
) -> None:
    console = await open_console(browser, api)
    page = console.page
    await drop_file(page, CUP, "cup.jpg", "image/jpeg")
    data = await run_and_download(page)
    alpha = alpha_of(data)
    photo = np.asarray(Image.open(io.BytesIO(CUP)).convert("RGB")).astype(int)
    # Transparent in the cutout, and in the photo nothing like either checker square.
    away = np.abs(photo[:, :, None, :] - CHECKER[None, None]).sum(axis=3).min(axis=2) > 60
    clear = np.asarray(Image.fromarray(alpha).filter(ImageFilter.MaxFilter(11))) == 0
    spots = np.argwhere(clear & away)  # 5 px from any subject pixel: scaling cannot reach
    assert len(spots) > 1000
    await page.fill("#slider", "100")  # all result
    shown = await stage_pixels(page, (600, 400))
    near_checker = np.abs(shown[:, :, None, :] - CHECKER[None, None]).sum(axis=3).min(axis=2)
    assert (near_checker[spots[:, 0], spots[:, 1]] <= 6).mean() > 0.98
    await page.fill("#slider", "0")  # all original, in the same place
    shown = await stage_pixels(page, (600, 400))
    assert np.abs(shown - photo)[spots[:, 0], spots[:, 1]].mean() < 12
    assert console.errors == []


async def test_an_error_after_a_result_hides_the_result(
    browser: Browser, api: RunningGateway
) -> None:
    console = await open_console(browser, api)
    page = console.page
    await drop_file(page, CUP, "cup.jpg", "image/jpeg")
    await run_and_download(page)
    await page.set_input_files("#file", files=[file_payload("notes.txt", "text/plain", b"hello")])
    await page.click("#run")
    await page.wait_for_selector("#error", state="visible")
    assert await page.is_hidden("#compare")
    assert await page.is_hidden("#download")
    assert console.unexpected_errors(NETWORK_ERROR) == []


async def test_a_cropped_result_is_shown_alone(browser: Browser, api: RunningGateway) -> None:
    console = await open_console(browser, api)
    page = console.page
    await drop_file(page, CUP, "cup.jpg", "image/jpeg")
    await page.check("#crop")
    await run_and_download(page)
    assert await page.is_visible("#result-alone")
    assert await page.is_hidden("#before")
    assert await page.is_hidden("#slider")
    assert console.errors == []


async def test_the_run_button_is_in_view_without_scrolling_at_1440_by_900(
    browser: Browser, api: RunningGateway
) -> None:
    console = await open_console(browser, api, width=1440)
    box = await console.page.locator("#run").bounding_box()
    assert box is not None
    assert box["y"] >= 0, box
    assert box["y"] + box["height"] <= 900, box  # the viewport's height
    assert console.errors == []


async def test_the_model_menu_offers_only_installed_models(
    browser: Browser, api: RunningGateway
) -> None:
    console = await open_console(browser, api)
    page = console.page
    await page.wait_for_function("document.querySelectorAll('#model option').length > 1")
    options = await page.eval_on_selector_all(
        "#model option", "(all) => all.map((o) => [o.value, o.textContent])"
    )
    default = api.settings.models.default
    assert options[0] == ["", f"the default ({default})"]
    installed = {
        name
        for name, spec in KNOWN_MODELS.items()
        if (api.settings.models.dir / spec.file).is_file() and name != default
    }
    assert {value for value, _ in options[1:]} == installed
    assert "bria-rmbg" not in {value for value, _ in options}
    assert console.errors == []


async def test_no_page_scrolls_sideways_at_390_px(browser: Browser, api: RunningGateway) -> None:
    await submit_batch(api, "narrow-1", 2, broken=1)
    _, key = await new_account(api, "per-usage", credits=50)
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(key), timeout=90) as client:
        for name in ("a rather long key name for a narrow screen", "ci"):
            created = await client.post("/v1/keys", json={"name": name})
            assert created.status_code in (200, 201), created.text
    for view, key_of, ready in (
        ("try", DEV_KEY, "#drop"),
        ("batches", DEV_KEY, "tr[data-batch='narrow-1']"),
        ("account", key, "#keys-table tbody tr"),
    ):
        console = await open_console(browser, api, key=key_of, width=390, view=view)
        await console.page.wait_for_selector(ready, timeout=120_000)
        overflow = await console.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the {view} page scrolls sideways by {overflow} px at 390 px"
        # Nor does a table hide columns in a box that scrolls (Revoke, Failed, Results).
        hidden = await console.page.evaluate(
            """() => [...document.querySelectorAll(".view:not([hidden]) .table-wrap")]
                .map((box) => box.scrollWidth - box.clientWidth)"""
        )
        assert all(width <= 1 for width in hidden), f"{view}: a table is {hidden} px too wide"
        assert console.errors == []


async def test_the_link_that_up_prints_runs_a_sample_photo_with_no_key_typed(
    browser: Browser, api: RunningGateway, tmp_path: Path
) -> None:
    settings = api.settings.model_copy(update={"state_dir": tmp_path})
    link = console_link(settings, api.url)
    assert link.startswith(f"{api.url}/#key=csk_")
    assert console_link(settings, api.url) == link  # kept: one key, not one per start
    assert (tmp_path / "console.key").stat().st_mode & 0o077 == 0

    page = await (await browser.new_context(viewport={"width": 1440, "height": 900})).new_page()
    await page.goto(link)
    assert page.url == f"{api.url}/#try"  # the key left the address bar
    assert await page.text_content("#key-state") == "key set for this tab"
    await page.click("[data-sample=coffee]")  # a picked photo runs at once: no Run click
    await page.wait_for_selector("#compare", state="visible", timeout=90_000)
    shown = await page.evaluate("[...document.images].find((i) => i.id === 'after').naturalWidth")
    assert shown == 600
    assert await page.text_content("#stat-dims") == "600 × 400 px"

    key = link.split("#key=", 1)[1]
    async with httpx.AsyncClient(base_url=api.url) as client:
        mine = (await client.get("/v1/keys", headers=bearer(key))).json()
        (record,) = [k for k in mine if k["name"] == CONSOLE_KEY_NAME]
        revoked = await client.delete(f"/v1/keys/{record['id']}", headers=bearer(key))
        assert revoked.status_code == 200
    assert console_link(settings, api.url) != link  # revoked: the next start makes a new one


async def test_a_marketplace_preset_fills_the_form_and_frames_the_result(
    browser: Browser, api: RunningGateway
) -> None:
    console = await open_console(browser, api)
    page = console.page
    await page.wait_for_selector("#preset option[value=amazon]", state="attached")
    await page.select_option("#preset", "amazon")
    assert await page.input_value("#format") == "jpg"
    assert await page.input_value("#canvas") == "2000x2000"
    assert await page.is_disabled("#crop")  # a canvas frames the subject itself
    curl = await page.inner_text("#curl")
    assert "-F preset=amazon" in curl
    assert "format=" not in curl  # only what differs from the preset
    await page.select_option("#align", "bottom")
    assert "-F align=bottom" in await page.inner_text("#curl")

    await drop_file(page, CUP, "cup.jpg", "image/jpeg")  # runs at once
    await page.wait_for_selector("#compare", state="visible", timeout=90_000)
    assert await page.text_content("#stat-dims") == "2000 × 2000 px"
    assert await page.is_visible("#result-alone")  # framed anew: not beside the photo
    async with page.expect_download() as downloading:
        await page.click("#download")
    path = await (await downloading.value).path()
    with Image.open(path) as image:
        assert (image.format, image.size) == ("JPEG", (2000, 2000))
        assert image.getpixel((0, 0)) == (255, 255, 255)
        rows = np.flatnonzero((np.asarray(image.convert("L")) < 200).any(axis=1))
        assert rows[-1] >= 1880  # the cup stands on the bottom edge, 5% above it
    assert console.unexpected_errors() == []
