"""Driving the web console in a real browser: open it with a key, drop a file, run and
download, submit a batch to show. Shared by the console's test modules (the `browser`
fixture is in conftest.py)."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from playwright.async_api import Browser, FilePayload, Page, Route

from streams.storage.s3 import S3ObjectStore
from tests.integration.conftest import CUP
from tests.integration.gateway_helpers import DEV_KEY, RunningGateway, bearer
from tests.integration.test_batches import jsonl_source

NETWORK_ERROR = "Failed to load resource"
"""Chromium's console line for an HTTP error answer (expected where a test provokes one)."""


@dataclass
class Console:
    page: Page
    errors: list[str] = field(default_factory=list)

    def unexpected_errors(self, *allowed: str) -> list[str]:
        return [e for e in self.errors if not any(text in e for text in allowed)]


SHOWN_ORIGIN = "http://127.0.0.1:8080"
"""The gateway's default address: the screenshots show it (in the curl command, say), not
the test gateway's port."""


async def open_console(
    browser: Browser,
    api: RunningGateway,
    key: str = DEV_KEY,
    width: int = 1440,
    view: str = "",
    shown_origin: str | None = None,
) -> Console:
    """The console in a new browser context. With ``shown_origin``, the page is opened at
    that address and every request to it is answered by the test gateway."""
    context = await browser.new_context(
        viewport={"width": width, "height": 900}, accept_downloads=True
    )
    origin = shown_origin or api.url
    if shown_origin is not None:

        async def forward(route: Route) -> None:
            url = api.url + route.request.url.removeprefix(shown_origin)
            await route.fulfill(response=await route.fetch(url=url))

        await context.route(f"{shown_origin}/**", forward)
    page = await context.new_page()
    console = Console(page)
    page.on("console", lambda m: console.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.errors.append(str(e)))
    await page.goto(f"{origin}/{'#' + view if view else ''}")
    await page.fill("#api-key", key)
    await page.click("#key-form button[type=submit]")
    return console


async def drop_file(page: Page, data: bytes, name: str, mime: str) -> None:
    """Drop a file on the drop zone as a drag and drop from the desktop does."""
    await page.evaluate(
        """([b64, name, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            const zone = document.getElementById("drop");
            const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
            zone.dispatchEvent(new DragEvent("dragover", init));
            zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        [base64.b64encode(data).decode(), name, mime],
    )


def file_payload(name: str, mime: str, data: bytes) -> FilePayload:
    return {"name": name, "mimeType": mime, "buffer": data}


async def run_and_download(page: Page) -> bytes:
    await page.click("#run")
    await page.wait_for_selector("#compare", state="visible", timeout=90_000)
    async with page.expect_download() as downloading:
        await page.click("#download")
    download = await downloading.value
    return await asyncio.to_thread(Path(await download.path()).read_bytes)


async def submit_batch(api: RunningGateway, batch_id: str, photos: int, broken: int) -> None:
    """A batch of ``photos`` copies of a 600x400 photo and ``broken`` missing inputs."""
    settings = api.settings
    store = S3ObjectStore(settings)
    bucket = settings.s3.input_bucket
    folder = f"uploads/default/{batch_id}"
    lines = []
    for index in range(photos):
        store.put(bucket, f"{folder}/p{index}.jpg", CUP, "image/jpeg")
        lines.append({"id": f"p{index}", "input": f"{folder}/p{index}.jpg"})
    lines += [{"id": f"gone{i}", "input": f"{folder}/missing{i}.jpg"} for i in range(broken)]
    body = {
        "batch_id": batch_id,
        "source": jsonl_source(store, bucket, f"{folder}/items.jsonl", lines),
    }
    async with httpx.AsyncClient(base_url=api.url, headers=bearer()) as client:
        created = await client.post("/v1/batches", json=body)
        assert created.status_code == 202, created.text
