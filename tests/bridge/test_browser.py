"""End to end in a real browser: headless Chromium (Debian's ``chromium`` package, driven by Playwright) loads the
cashier page of a running bridge, starts a payment, the shopper's code arrives through a real scanner path (a
pseudo-terminal serial port), and the page shows each state and the receipt; then a refund. The same in each
language the catalogue has, chosen from the browser's locale. Screenshots of each step are kept in the test's
temporary folder (``pytest --basetemp=DIR`` keeps them where you want; the path is printed), or under
``$PAYCODE_TEST_ARTIFACTS`` when set.

Never downloads a browser: without /usr/bin/chromium the tests skip, naming the package to install
(``.ci/run`` and ``python3 dev.py test`` install it with apt-get where they can).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from paycode.bridge import BridgeServer
from paycode.messages import message

from tests.bridge.helpers import TOKEN, Running, wechat

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package (apt-get install chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
pytest.importorskip("paycode_serial", reason="needs the serial scanner plugin (contrib_scanners/serial)")
from paycode_serial.testing import PtyScanner  # noqa: E402

Serve = Callable[..., Running]
LOCALES = {"zh-Hans": "zh-CN", "zh-Hant": "zh-TW", "en": "en-US"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    base = os.environ.get("PAYCODE_TEST_ARTIFACTS")
    folder = (Path(base) / "bridge" / request.node.name) if base else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    return folder


@pytest.fixture
def pty() -> Iterator[PtyScanner]:
    scanner = PtyScanner()
    yield scanner
    scanner.close()


def status_text(page: Any) -> str:
    return str(page.locator("#status").inner_text())


@pytest.mark.parametrize("lang", list(LOCALES))
def test_a_payment_from_scan_to_receipt_in_the_browser(
    serve: Serve, pty: PtyScanner, browser: Any, artifacts: Path, lang: str
) -> None:
    # the sandbox's password scenario: PROCESSING for two queries, then SUCCESS
    run = serve({"front": f"serial://{pty.path}?suffix=cr"}, poll_interval=0.7, deadline=20.0)
    context = browser.new_context(locale=LOCALES[lang], viewport={"width": 520, "height": 760})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(f"{run.url}/#token={TOKEN}")
        page.wait_for_selector("body[data-ready=true]")
        assert "token" not in page.url  # the token left the address bar
        assert page.title() == message("title", lang)
        assert page.locator("#start").inner_text() == message("start", lang)
        assert status_text(page) == message("idle", lang)
        page.screenshot(path=str(artifacts / f"{lang}-1-idle.png"))

        page.fill("#amount", "12.50")
        page.select_option("#currency", "CNY")
        page.click("#start")
        page.wait_for_selector("#status[data-state=waiting_for_scan]")
        assert status_text(page) == message("scan", lang)
        page.screenshot(path=str(artifacts / f"{lang}-2-scan.png"))

        pty.write(wechat("003").encode() + b"\r")  # the shopper's code, through the serial port
        page.wait_for_selector("#status[data-state=password]", timeout=15000)
        assert message("password", lang, seconds=0).split("0")[0] in status_text(page)
        assert page.locator("#wallet").inner_text() == message("scanned", lang, wallet="WeChat Pay")
        page.screenshot(path=str(artifacts / f"{lang}-3-password.png"))

        page.wait_for_selector("#status[data-state=paid]", timeout=15000)
        assert status_text(page) == message("paid", lang, amount="12.50 CNY")
        page.wait_for_selector("#receipt:not([hidden])")
        assert page.locator("#r-code").inner_text() == "1300**********0003"
        assert page.locator("#r-wallet").inner_text() == "WeChat Pay"
        assert page.locator("#r-transaction").inner_text()
        reference = page.locator("#r-order").inner_text()
        page.screenshot(path=str(artifacts / f"{lang}-4-paid.png"))

        page.fill("#refund-amount", "2.50")
        page.click("#refund")
        page.wait_for_selector("#status[data-state=refunded]", timeout=15000)
        assert status_text(page) == message("refunded", lang, amount="2.50 CNY")
        assert page.locator("#r-refunded").inner_text() == "2.50 CNY"
        page.screenshot(path=str(artifacts / f"{lang}-5-refunded.png"))

        states = page.evaluate("window.paycodeStates")
        assert states[:2] == ["idle", "waiting_for_scan"], states
        assert states.index("password") < states.index("paid") < states.index("refunded"), states
        assert run.http.get(f"/v1/payments/{reference}").json()["refunded"] == "2.50"
        assert wechat("003") not in page.content()
        assert not problems, problems
    finally:
        context.close()


def test_cancel_declined_and_reconnecting_in_the_browser(
    serve: Serve, pty: PtyScanner, browser: Any, artifacts: Path
) -> None:
    run = serve({"front": f"serial://{pty.path}?suffix=cr"})
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{run.url}/#token={TOKEN}")
        page.wait_for_selector("body[data-ready=true]")
        page.fill("#amount", "3.00")
        page.click("#start")
        page.wait_for_selector("#status[data-state=waiting_for_scan]")
        page.click("#cancel")
        page.wait_for_selector("#status[data-state=cancelled]")
        page.screenshot(path=str(artifacts / "en-cancelled.png"))

        page.click("#next")
        page.fill("#amount", "4.00")
        page.click("#start")
        page.wait_for_selector("#status[data-state=waiting_for_scan]")
        pty.write(wechat("002").encode() + b"\r")
        page.wait_for_selector("#status[data-state=declined]", timeout=15000)
        assert status_text(page) == message("declined", "en")
        page.screenshot(path=str(artifacts / "en-declined.png"))

        # a bad amount is refused on the page, before any request
        page.click("#next")
        page.fill("#amount", "12,50")
        page.click("#start")
        assert page.locator("#error").inner_text() == message("bad_amount", "en")

        # the server goes away and comes back: the page says so, reconnects, and takes the next payment
        port = run.server.port
        run.server.kill()
        page.wait_for_selector("#connection:not([hidden])", timeout=15000)
        assert page.locator("#connection").inner_text() == message("connection_lost", "en")
        page.screenshot(path=str(artifacts / "en-connection-lost.png"))
        run.server = BridgeServer(run.bridge, token=TOKEN, port=port).start()
        page.wait_for_selector("#connection[hidden]", state="attached", timeout=15000)
        page.fill("#amount", "5.00")
        page.click("#start")
        page.wait_for_selector("#status[data-state=waiting_for_scan]")
        pty.write(wechat("001").encode() + b"\r")
        page.wait_for_selector("#status[data-state=paid]", timeout=15000)
        reference = page.locator("#r-order").inner_text()

        # a reload in the middle of a sale picks the payment up again (the token stays for the session)
        page.click("#next")
        page.fill("#amount", "6.00")
        page.click("#start")
        page.wait_for_selector("#status[data-state=waiting_for_scan]")
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        page.wait_for_selector("#status[data-state=waiting_for_scan]")
        pty.write(wechat("001")[:-3].encode() + b"901\r")
        page.wait_for_selector("#status[data-state=paid]", timeout=15000)
        assert page.locator("#r-order").inner_text() != reference
        assert page.locator("#r-amount").inner_text() == "6.00 CNY"
    finally:
        context.close()


def test_the_page_asks_for_the_token_and_refuses_a_wrong_one(serve: Serve, browser: Any) -> None:
    run = serve()
    context = browser.new_context(locale="zh-TW")
    page = context.new_page()
    try:
        page.goto(f"{run.url}/")
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("#login").is_visible() and not page.locator("#till").is_visible()
        assert page.locator("#login span").inner_text() == message("token", "zh-Hant")
        page.fill("#token", "wrong-token-0123456789")
        page.click("#login button")
        page.wait_for_selector("#login-error:has-text('token')")
        assert not page.locator("#till").is_visible()
        page.fill("#token", TOKEN)
        page.click("#login button")
        page.wait_for_selector("#till:not([hidden])")
        assert page.locator("#status").inner_text() == message("idle", "zh-Hant")
    finally:
        context.close()
