"""The review page in a real browser: headless Chromium (the system's, driven by Playwright)
against the API served over HTTP, the real intake and the real state machine.

A reviewer signs in, opens the task of a new anime, renames a character on the Characters
tab, adds an episode on the Episodes tab and approves. The execution publishes
``entry-approved``; the indexer's own commit handler then makes the change live, and
``GET /anime/{id}`` shows it. The synopsis carries a script, which must stay text.

Screenshots of the list and the task page go to ``$AVS_TEST_OUTPUT_DIR/screenshots``
(default: ``test-output/screenshots`` at the repository root, which git ignores).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from review_kit import REPO, REVIEWER_KEY, Review, Vectors, api_settings, eventually, full_entry

from avs_api.app import create_app
from avs_indexer.handlers import on_entry_approved
from avs_indexer.ports import IndexerPorts
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_image_map import DynamoImageMap
from avs_shared.adapters.dynamo_locks import DynamoLockTable
from avs_shared.adapters.redis_cache import RedisCache
from avs_shared.embedded.processes import free_port
from avs_shared.events import EntryApproved, Envelope
from avs_shared.runtime import Worker, build_runtime
from avs_shared.runtime.spec import MessageContext
from avs_shared.settings import ServiceSettings
from avs_shared.topology import Q_INDEXER_ENTRY_APPROVED

CHROMIUM = os.environ.get("AVS_CHROMIUM", "/usr/bin/chromium")
SCRIPT = "<script>window.__xss = 'ran'; alert('xss')</script>"
SYNOPSIS = f"Relay runners under the stars. {SCRIPT} <img src=x onerror=\"alert('img')\">"


def screenshot_dir() -> Path:
    root = Path(os.environ.get("AVS_TEST_OUTPUT_DIR") or REPO / "test-output")
    path = root / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def served(
    review: Review, vectors: Vectors, settings: ServiceSettings, tmp_path: Path
) -> AsyncIterator[str]:
    """The API on a loopback port (its own app, same stores), for the browser."""
    app = create_app(api_settings(settings, tmp_path), index=vectors.index, embedder=vectors.embedder)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: _true(server.started or task.done()), within=30)
    assert not task.done(), "the API did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=30)


async def test_a_reviewer_edits_and_approves_in_the_browser_and_the_change_goes_live(
    review: Review, intake: Worker, served: str, vectors: Vectors, settings: ServiceSettings, aws: AwsClients
) -> None:
    from playwright.async_api import async_playwright

    assert shutil.which(CHROMIUM), (
        f"no Chromium at {CHROMIUM}: install the Debian package `chromium` (`make test` does), "
        "or point AVS_CHROMIUM at one"
    )
    entry = full_entry(title="Browser Review Show", synopsis=SYNOPSIS)
    started = await review.start_review(entry)
    task = await review.task_of(started)
    shots = screenshot_dir()
    dialogs: list[str] = []
    page_errors: list[str] = []

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
            page.on("pageerror", lambda error: page_errors.append(str(error)))

            # Sign in (the list page sends us to the login form first).
            await page.goto(f"{served}/review")
            assert "/review/login" in page.url
            await page.fill("#api_key", REVIEWER_KEY)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{served}/review")
            await page.get_by_role("link", name="Browser Review Show").wait_for()
            await page.screenshot(path=str(shots / "review-list.png"), full_page=True)

            await page.get_by_role("link", name="Browser Review Show").click()
            await page.wait_for_url(f"**/review/tasks/{task.task_id}")
            # The synopsis is text in its field: the script in it never ran.
            synopsis = page.locator('textarea[name="synopsis"]')
            assert await synopsis.input_value() == SYNOPSIS
            assert await page.evaluate("typeof window.__xss") == "undefined"

            # Characters tab: rename the first character.
            await page.get_by_role("tab", name="Characters").click()
            assert await page.locator("#panel-characters").is_visible()
            assert not await page.locator("#panel-core").is_visible()
            name = page.locator('input[name="characters.0.name"]')
            await name.fill("Aoi Hoshino (renamed in the browser)")
            # ... and drop her only name variation.
            await page.locator('[data-path="characters.0.name_variations.0"] [data-remove]').click()
            assert await page.locator('input[name="characters.0.name_variations.0"]').count() == 0
            await page.evaluate("window.scrollTo(0, 0)")
            await page.screenshot(path=str(shots / "review-task.png"))

            # Episodes tab: add an episode.
            await page.get_by_role("tab", name="Episodes").click()
            episodes = page.locator('#panel-episodes [data-list][data-name="episode_details"]')
            await episodes.get_by_role("button", name="Add episode").click()
            added = page.locator('input[name="episode_details.3.episode_number"]')
            await added.wait_for()
            await added.fill("4")
            await page.fill('input[name="episode_details.3.title"]', "Added in the browser")
            assert await episodes.locator(":scope > .list-head [data-count]").inner_text() == "4"
            # A nested list inside the new episode gets its own fresh names.
            await (
                page.locator('[data-name="episode_details.3.thumbnails"]')
                .get_by_role("button", name="Add item")
                .click()
            )
            await page.fill('input[name="episode_details.3.thumbnails.0"]', "https://img.example.org/ep4.jpg")
            await page.screenshot(path=str(shots / "review-task-episodes.png"))

            await page.get_by_role("button", name="Approve").click()
            await page.wait_for_url("**/review?done=approved*")
            assert "Approved: Browser Review Show" in await page.locator("#banner").inner_text()
            assert await page.evaluate("typeof window.__xss") == "undefined"
        finally:
            await browser.close()

    assert dialogs == []  # no alert() from third-party text, anywhere
    assert page_errors == []
    for shot in ("review-list.png", "review-task.png", "review-task-episodes.png"):
        assert (shots / shot).stat().st_size > 10_000, shot

    # The execution resumed and published the edited entry.
    await review.execution(started.execution_arn, status="SUCCEEDED")
    [event] = await review.approved_events()
    approved = EntryApproved.model_validate(event.payload)
    edited = await review.stored_entry(approved.entry_ref)
    assert edited["characters"][0]["name"] == "Aoi Hoshino (renamed in the browser)"
    assert edited["characters"][0]["name_variations"] == []
    assert edited["episode_details"][-1] == {
        "episode_number": 4,
        "title": "Added in the browser",
        "thumbnails": ["https://img.example.org/ep4.jpg"],
    }
    assert edited["synopsis"] == SYNOPSIS

    # The indexer's commit handler makes it live; the API serves it.
    await _commit(event, approved, review, vectors, settings, aws)
    async with httpx.AsyncClient(base_url=served) as client:
        live = (await client.get(f"/anime/{entry['id']}")).json()
    assert live["characters"][0]["name"] == "Aoi Hoshino (renamed in the browser)"
    assert [e["episode_number"] for e in live["episode_details"]] == [1, 2, 3, 4]
    assert live["version"] == 1
    assert not await review.lock_exists(entry["id"])
    assert await review.queue_is_empty(Q_INDEXER_ENTRY_APPROVED)


async def _commit(
    event: Envelope,
    approved: EntryApproved,
    review: Review,
    vectors: Vectors,
    settings: ServiceSettings,
    aws: AwsClients,
) -> None:
    publisher, idempotency, claim_check = await build_runtime(aws, settings)
    cache = RedisCache(settings.redis_url)
    try:
        ports = IndexerPorts(
            settings=settings,
            aws=aws,
            objects=review.objects,
            entries=review.entries,
            index=vectors.index,
            embedder=vectors.embedder,
            cache=cache,
            locks=DynamoLockTable(aws),
            images=DynamoImageMap(aws, cdn_domain=settings.cdn_domain),
            publisher=publisher,
            idempotency=idempotency,
            claim_check=claim_check,
        )
        ctx = MessageContext(
            envelope=event, receive_count=1, queue=Q_INDEXER_ENTRY_APPROVED, handler="indexer"
        )
        assert await on_entry_approved(approved, ctx, ports=ports) == []
    finally:
        await cache.close()


async def _true(value: bool) -> bool:
    return value
