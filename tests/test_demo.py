"""apps demo in a real headless Chromium: a third-party app's tab, safety defaults, the training tab."""

from __future__ import annotations

import pytest

from core.demo import demo_apps
from core.errors import AppsError
from tests.browser import browser_page, demo_server, needs_chromium, screenshot
from tests.conftest import run_apps


@needs_chromium
def test_third_party_app_gets_a_tab_and_answers_in_the_browser(example_plugins):
    env = {**example_plugins, "APPS_LOAD_PLUGINS": "textstats"}
    with demo_server("textstats", env=env) as (url, seconds), browser_page() as page:
        page.goto(url)
        page.locator("#textstats-input textarea").fill("你好 world")
        page.locator("#textstats-run").click()
        output = page.locator("#textstats-output")
        output.get_by_text("cjk_share").wait_for()
        assert "0.2857" in output.inner_text() or "0.286" in output.inner_text()
        shot = screenshot(page, "demo-textstats")
        assert shot.stat().st_size > 5000
        # No request left this machine: every resource came from the local server.
        external = page.evaluate(
            "performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin))"
        )
        assert [name for name in external if not name.startswith(("data:", "blob:"))] == []
    assert seconds < 60


def test_demo_refuses_unknown_apps_and_bad_auth(example_plugins):
    with pytest.raises(AppsError, match="unknown app"):
        demo_apps(["nope"])
    bad = run_apps("demo", "textstats", "--auth", "nopassword", env={**example_plugins, "APPS_LOAD_PLUGINS": "textstats"})
    assert bad.returncode == 1 and "USER:PASSWORD" in bad.stderr


def test_kiosk_needs_exactly_one_app(example_plugins):
    result = run_apps("demo", "--kiosk", env={**example_plugins, "APPS_LOAD_PLUGINS": "textstats"})
    assert result.returncode != 0 and "--kiosk shows exactly one app" in result.stderr
