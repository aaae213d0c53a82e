"""Headless Debian Chromium for the browser tests, driven by Playwright."""

import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.factories import PASSWORD

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# CI installs Debian's chromium; a developer machine without it skips, CI never does.
REQUIRED = os.environ.get("CI", "").lower() in ("1", "true") or bool(
    os.environ.get("REQUIRE_BROWSER")
)

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists() and not REQUIRED,
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]


# Every Content-Security-Policy violation in a page (a refused inline script or style, an image
# from elsewhere) is reported to the test, whichever page of the context it happens in, across
# navigations: the listener is installed before any of the page's own scripts run.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__evalappCspViolation({
    page: document.location.href,
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile + ":" + event.lineNumber,
    sample: event.sample,
  });
});
"""


class CspViolation(AssertionError):
    """The page did something its Content-Security-Policy forbids (and the browser refused it)."""


@contextmanager
def browser_page(base_url: str, *, refusals_expected: Collection[str] = (), **context) -> Iterator:
    """A page in headless Debian Chromium. Use the ORM only outside this block: Playwright runs
    the test inside a greenlet with its own context, where Django would open a second database
    connection that nothing closes. Keyword arguments go to the browser context, e.g.
    viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True.

    A block that ends while any page of the context has violated the Content-Security-Policy
    raises CspViolation naming each violation: every browser test checks the policy too. Only
    a third party's address in `refusals_expected` may be refused, where a library we serve
    asks for it and the policy is right to refuse it."""
    from playwright.sync_api import sync_playwright

    violations: list[dict] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            browser_context = browser.new_context(base_url=base_url, **context)
            browser_context.expose_binding(
                "__evalappCspViolation", lambda source, violation: violations.append(violation)
            )
            browser_context.add_init_script(REPORT_CSP_VIOLATIONS)
            yield browser_context.new_page()
            _deliver_reports(browser_context)
        finally:
            browser.close()
    violations = [v for v in violations if v["blocked"] not in refusals_expected]
    if violations:
        raise CspViolation(
            "Content-Security-Policy violations:\n"
            + "\n".join(
                f"  {v['page']}: {v['directive']} refused {v['blocked'] or 'inline'}"
                f" at {v['source']} {v['sample']!r}"
                for v in violations
            )
        )


def _deliver_reports(browser_context) -> None:
    """A round trip to each open page, so that reports it sent are received before the end."""
    from playwright.sync_api import Error

    for page in browser_context.pages:
        # A page closed or navigating away has delivered what it reported before.
        with suppress(Error):
            page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 0))")


def log_in(page, username: str) -> None:
    page.goto("/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
