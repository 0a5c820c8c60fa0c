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


@needs_chromium
def test_training_tab_starts_apps_train_and_follows_its_log(tmp_path, monkeypatch):
    import json
    import time

    from tests import tiny_app

    tiny_app.install(tmp_path, monkeypatch)
    with demo_server() as (url, _), browser_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="train").click()
        page.locator("#train-app input").click()
        page.get_by_role("option", name="tiny", exact=True).click()
        page.locator("#train-recipe input").click()
        page.get_by_role("option", name="tiny-lm", exact=True).click()
        page.locator("#train-settings textarea").fill("max_steps=12\nlogging_steps=2\nsave_steps=6")
        page.locator("#train-start").click()
        status = page.locator("#train-status textarea")
        deadline = time.monotonic() + 300
        while "finished" not in status.input_value() and time.monotonic() < deadline:
            time.sleep(1)
        assert "finished (exit code 0)" in status.input_value(), status.input_value()
        assert "step 12" in status.input_value()
        page.locator("#train-loss canvas, #train-loss svg").first.wait_for()
        screenshot(page, "demo-training")
    runs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 1
    run = json.loads((runs[0] / "run.json").read_text())
    assert run["app"] == "tiny" and (runs[0] / "loss.png").is_file()
    recipe = (tmp_path / "runs" / f"{runs[0].name}.recipe.yaml").read_text()
    assert "max_steps: 12" in recipe
