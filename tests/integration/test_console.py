"""The web console in a real browser (Debian's chromium, driven by Playwright) against the
session's gateway, worker, ledger and batch service.

``CUTSTREAM_SCREENSHOTS=docs/img`` makes the screenshot test write the README's and
docs' pictures there (``make screenshots``); otherwise it writes them to a temporary
folder and checks the layout at both widths all the same.
"""

from __future__ import annotations

import asyncio
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.async_api import Browser

from tests.images import alpha_of, photo_jpeg
from tests.integration.conftest import CUP
from tests.integration.console import (
    NETWORK_ERROR,
    SHOWN_ORIGIN,
    drop_file,
    file_payload,
    open_console,
    run_and_download,
    submit_batch,
)
from tests.integration.gateway_helpers import DEV_KEY, RunningGateway, bearer, new_account

pytestmark = pytest.mark.integration


async def test_a_dropped_photo_becomes_a_downloadable_cutout(
    browser: Browser, api: RunningGateway
) -> None:
    console = await open_console(browser, api)
    page = console.page
    await drop_file(page, CUP, "cup.jpg", "image/jpeg")
    assert "image=@cup.jpg" in await page.inner_text("#curl")
    data = await run_and_download(page)

    picture = Image.open(io.BytesIO(data))
    assert (picture.format, picture.mode, picture.size) == ("PNG", "RGBA", (600, 400))
    alpha = alpha_of(data)
    assert alpha.min() == 0
    assert alpha.max() == 255
    assert await page.evaluate("document.getElementById('after').naturalWidth") == 600
    assert "600 × 400 px" in await page.inner_text("#stat-dims")
    assert " ms" in await page.inner_text("#stat-time")
    assert "KB" in await page.inner_text("#stat-size")
    # The slider moves the line between the original and the result.
    await page.fill("#slider", "20")
    clip = await page.evaluate("document.getElementById('after').style.clipPath")
    assert clip == "inset(0px 80% 0px 0px)"
    assert console.errors == []


async def test_a_text_file_shows_the_error(browser: Browser, api: RunningGateway) -> None:
    console = await open_console(browser, api)
    page = console.page
    await page.set_input_files("#file", files=[file_payload("notes.txt", "text/plain", b"hello")])
    await page.click("#run")
    await page.wait_for_selector("#error", state="visible")
    assert "invalid_image_format" in await page.inner_text("#error")
    assert await page.is_hidden("#compare")
    assert console.unexpected_errors(NETWORK_ERROR) == []


async def test_options_change_the_curl_command_and_the_result(
    browser: Browser, api: RunningGateway
) -> None:
    console = await open_console(browser, api)
    page = console.page
    await page.set_input_files("#file", files=[file_payload("cup.jpg", "image/jpeg", CUP)])
    before = await page.inner_text("#curl")
    assert "bg_color" not in before
    await page.check("input[name=bg][value=color]")
    await page.fill("#bg-color", "#ff8800")
    await page.select_option("#size", "small")
    curl = await page.inner_text("#curl")
    assert "-F bg_color=#ff8800" in curl
    assert "-F size=small" in curl
    assert "-o cutout.png" in curl
    await page.select_option("#format", "webp")
    assert "-o cutout.webp" in await page.inner_text("#curl")
    await page.select_option("#format", "png")

    data = await run_and_download(page)
    picture = Image.open(io.BytesIO(data)).convert("RGBA")
    assert picture.size == (512, 341)
    assert alpha_of(data).min() == 255  # a colour background: opaque
    assert picture.getpixel((2, 2)) == (255, 136, 0, 255)
    assert console.errors == []


async def test_keyboard_and_labels(browser: Browser, api: RunningGateway) -> None:
    console = await open_console(browser, api)
    page = console.page
    # Enter on the focused drop zone opens the file chooser (the click on the file input
    # is caught here, so no dialog has to open in a headless browser).
    await page.evaluate(
        """() => document.getElementById("file").addEventListener("click", (event) => {
            event.preventDefault();
            window.chooserOpened = (window.chooserOpened || 0) + 1;
        })"""
    )
    await page.focus("#drop")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Space")
    await page.wait_for_function("window.chooserOpened === 2")
    unlabelled = await page.evaluate(
        """() => [...document.querySelectorAll("input, select, button")]
            .filter((e) => e.type !== "hidden" && !e.closest("[hidden]"))
            .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label")
                           && !e.textContent.trim())
            .map((e) => e.id || e.outerHTML)"""
    )
    assert unlabelled == []
    for view in ("batches", "account", "try"):
        await page.click(f"nav a[data-view={view}]")
        # The view changes on the hashchange event, after the click returns.
        await page.wait_for_selector(f"nav a[data-view={view}][aria-current=page]", timeout=5000)
        assert await page.is_visible(f"#view-{view}")
    assert console.errors == []


async def test_security_headers(api: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        page = await client.get("/")
        script = await client.get("/console/app.js")
        job = await client.get("/v1/jobs/nope", headers=bearer())
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in page.text.replace('<script type="module" src="/console/app.js">', "")
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert job.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in job.headers  # the API's answers are not pages


@pytest.mark.parametrize(
    ("path", "shown"), [("/docs", "/v1/batches"), ("/redoc", "Create a background-removal job")]
)
async def test_the_api_reference_loads_nothing_from_elsewhere_and_breaks_no_policy(
    browser: Browser, api: RunningGateway, path: str, shown: str
) -> None:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    hosts: set[str] = set()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfinished", lambda r: hosts.add(r.url.split("/")[2]) if "//" in r.url else None)
    answer = await page.goto(f"{api.url}{path}")
    assert answer is not None
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self';" in policy  # nothing inline, nothing from elsewhere
    await page.get_by_text(shown).locator("visible=true").first.wait_for(timeout=30_000)
    title = await page.title()
    await context.close()
    assert title.startswith("cutstream API")
    assert hosts == {api.url.split("/")[2]}  # no CDN, no font service
    # A CSP violation is a console error; the one allowed is ReDoc's footer logo, which it
    # asks of cdn.redoc.ly and the policy refuses.
    assert [e for e in errors if "cdn.redoc.ly" not in e] == []


async def test_batches_page_follows_a_running_batch(browser: Browser, api: RunningGateway) -> None:
    await submit_batch(api, "console-1", 24, broken=1)
    console = await open_console(browser, api, view="batches", shown_origin=SHOWN_ORIGIN)
    page = console.page
    bar = "tr[data-batch='console-1'] progress"
    await page.wait_for_selector(bar)
    # Seen part way, then finished, without reloading the page.
    await page.wait_for_function(
        f'() => {{ const p = document.querySelector("{bar}"); return p && p.value < p.max; }}'
    )
    await page.wait_for_function(
        f'() => {{ const p = document.querySelector("{bar}"); return p && p.value == 25; }}',
        timeout=150_000,
    )
    row = page.locator("tr[data-batch='console-1']")
    await page.wait_for_function(
        "() => document.querySelector(\"tr[data-batch='console-1'] a\") !== null"
    )
    assert "completed" in await row.inner_text()
    await row.locator("button.failed-count").click()
    await page.wait_for_selector("#failures-list li")
    assert "input_not_found" in await page.inner_text("#failures-list")
    assert console.errors == []


async def test_account_page_shows_plan_usage_and_manages_keys(
    browser: Browser, api: RunningGateway
) -> None:
    account, key = await new_account(api, "per-usage", credits=7)
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(key), timeout=90) as client:
        done = await client.post("/v1/remove-background", files={"image": ("cup.jpg", CUP)})
        assert done.status_code == 200, done.text
    console = await open_console(browser, api, key=key, view="account")
    page = console.page
    await page.wait_for_selector("#account-facts dd")
    for _ in range(40):  # the ledger's view of the account lags a little
        if "1 request and" in await page.inner_text("#usage-caption"):
            break
        await page.reload()
        await page.wait_for_selector("#account-facts dd")
    facts = await page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("#account-facts dt")]
            .map((dt) => [dt.textContent, dt.nextElementSibling.textContent]))"""
    )
    assert facts["Account"] == account
    assert facts["Plan"].startswith("per-usage")
    assert facts["Credits left"] == "6"  # 7, one request charged
    assert "1 request and 1 credit in 30 days" in await page.inner_text("#usage-caption")
    assert await page.locator("#usage-chart rect").count() == 30
    axes = [await page.inner_text(f"#{name}") for name in ("usage-peak", "usage-from")]
    first_day = (datetime.now(UTC).date() - timedelta(days=29)).isoformat()
    assert axes == ["1", first_day]  # the y axis reads 0 to the busiest day; x from day 1
    assert "minute" in await page.inner_text("#limits-table")

    await page.fill("#new-key-name", "console test")
    await page.click("#new-key-form button")
    await page.wait_for_selector("#new-key", state="visible")
    created = await page.inner_text("#new-key-value")
    assert created.startswith("csk_")
    await page.wait_for_selector("#keys-table tbody tr >> nth=1")
    rows = page.locator("#keys-table tbody tr")
    assert await rows.count() == 2
    async with httpx.AsyncClient(base_url=api.url) as client:
        assert (await client.get("/v1/keys", headers=bearer(created))).status_code == 200
        page.on("dialog", lambda dialog: dialog.accept())
        new_row = page.locator("#keys-table tbody tr", has_text="console test")
        await new_row.locator("button").click()
        await page.wait_for_selector(
            "#keys-table tbody tr:has-text('console test'):has-text('revoked')"
        )
        refused = await client.get("/v1/keys", headers=bearer(created))
        assert refused.status_code == 401
        others = await client.get("/v1/keys", headers=bearer(DEV_KEY))
        assert all(k["name"] != "console test" for k in others.json())  # not another's
        key_id = created.split("_")[1]
        theirs = await client.delete(f"/v1/keys/{key_id}", headers=bearer(DEV_KEY))
        error = theirs.json()["error"]
        assert (theirs.status_code, error["code"]) == (404, "not_found")
        assert error["message"] == f"no API key {key_id}"  # no other code, no store path
    assert console.errors == []


async def test_screenshots_at_1440_and_390(
    browser: Browser, api: RunningGateway, tmp_path: Path
) -> None:
    folder = Path(os.environ.get("CUTSTREAM_SCREENSHOTS") or tmp_path)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    for width in (1440, 390):
        console = await open_console(browser, api, width=width, shown_origin=SHOWN_ORIGIN)
        page = console.page
        await page.set_input_files(
            "#file",
            files=[file_payload("astronaut.jpg", "image/jpeg", photo_jpeg("astronaut"))],
        )
        assert f"curl -s {SHOWN_ORIGIN}/v1/remove-background" in await page.inner_text("#curl")
        await page.check("input[name=bg][value=color]")
        await page.fill("#bg-color", "#dfe9f7")
        await page.check("#shadow")
        await page.click("#run")
        await page.wait_for_selector("#compare", state="visible", timeout=90_000)
        await page.wait_for_function("document.getElementById('after').complete")
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways at {width} px"
        path = folder / f"console-try-{width}.jpg"
        # Scrolled to the end, the sticky run button rests in its place in the full page.
        await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        await page.screenshot(path=str(path), full_page=True, type="jpeg", quality=85)
        shot = Image.open(path)
        assert shot.width == width
        assert np.asarray(shot.convert("L")).std() > 10  # not a blank page
        assert console.errors == []
    # A finished batch and a metered account, for the other two pages' pictures.
    await submit_batch(api, "catalog-demo", 6, broken=1)
    console = await open_console(browser, api, view="batches", shown_origin=SHOWN_ORIGIN)
    await console.page.wait_for_function(
        "() => document.querySelector(\"tr[data-batch='catalog-demo'] a\") !== null",
        timeout=120_000,
    )
    await console.page.screenshot(path=str(folder / "console-batches-1440.png"))
    _, key = await new_account(api, "per-usage", credits=500)
    async with httpx.AsyncClient(base_url=api.url, headers=bearer(key), timeout=90) as client:
        done = await client.post("/v1/remove-background", files={"image": ("cup.jpg", CUP)})
        assert done.status_code == 200, done.text
    console = await open_console(browser, api, key=key, view="account", shown_origin=SHOWN_ORIGIN)
    await console.page.wait_for_selector("#keys-table tbody tr")
    await console.page.screenshot(path=str(folder / "console-account-1440.png"), full_page=True)
    assert console.errors == []
