"""``apps demo``: one Gradio page with a tab per app, each tab built by its App's ``demo()``.

Offline and safe by default: no share links, no analytics, no fonts or scripts from the internet, bound to
127.0.0.1 unless ``--host`` says otherwise, uploads size-limited. ``--kiosk`` shows one app full-screen with
large type; an app whose tab fails to build shows a friendly message instead, and the page stays up.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

from core.errors import AppsError

MAX_UPLOAD = "20mb"
KIOSK_CSS = """
.gradio-container { max-width: 100% !important; font-size: 1.35rem; }
.gradio-container button { font-size: 1.4rem; min-height: 3.2rem; }
footer { display: none !important; }
"""


def _quiet_gradio() -> None:
    """Set before gradio is imported: no analytics, no update checks, no telemetry."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GRADIO_SSR_MODE", "False")


def friendly(app_name: str, function: Callable, reset: Callable | None = None) -> Callable:
    """Wrap a tab's event handler: an error becomes a message on the page, and ``reset()`` (for example
    dropping a loaded model so the next request reloads it) restores the app for the next visitor."""
    import functools
    import inspect

    import gradio as gr

    def recover(exc: Exception):
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, AppsError):
            return gr.Error(str(exc))
        print(f"demo: {app_name} failed: {exc}", file=sys.stderr)
        traceback.print_exc()
        if reset is not None:
            reset()
        return gr.Error(f"{app_name} hit a problem and was restarted. Please try again.")

    if inspect.isgeneratorfunction(function):  # streaming handlers: gradio must still see a generator

        @functools.wraps(function)
        def guarded(*args, **kwargs):
            try:
                yield from function(*args, **kwargs)
            except Exception as exc:
                raise recover(exc) from None
            finally:
                return_freed_memory()

    else:

        @functools.wraps(function)
        def guarded(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except Exception as exc:
                raise recover(exc) from None
            finally:
                return_freed_memory()

    return guarded


_last_trim = [0.0]


def return_freed_memory(every: float = 10.0) -> None:
    """Give freed heap pages back to the OS, at most every ``every`` seconds. glibc keeps them in per-thread
    arenas, so a server whose handlers run on many worker threads creeps up in RSS all day otherwise."""
    now = time.monotonic()
    if now - _last_trim[0] < every:
        return
    _last_trim[0] = now
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        pass


def scratch_path(suffix: str, keep_seconds: float = 600) -> Path:
    """A fresh file path for a tab's output (plot, animation). Older files of this server are deleted here,
    so a kiosk running all day does not fill the disk (gradio keeps its own copy of what was shown)."""
    folder = Path(tempfile.gettempdir()) / f"apps-demo-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    now = time.time()
    for old in folder.iterdir():
        if now - old.stat().st_mtime > keep_seconds:
            old.unlink(missing_ok=True)
    return folder / f"{uuid.uuid4().hex}{suffix}"


def demo_apps(names: list[str] | None = None) -> list[type]:
    """The App classes to show: those named (refusing unknown names), else every app that has a tab."""
    from core.plugins import get_manager

    manager = get_manager()
    if names:
        classes = [manager.app_class(name) for name in names]
        lacking = [cls.name for cls in classes if not cls.offers("demo")]
        if lacking:
            raise AppsError(f"no demo tab for: {', '.join(lacking)}", hint="'apps info APP' lists what an app offers")
        return classes
    return [cls for cls in manager.apps().values() if cls.offers("demo")]


def build(names: list[str] | None = None, kiosk: bool = False, training: bool = True):
    """The gr.Blocks page."""
    _quiet_gradio()
    import gradio as gr

    if kiosk and len(names or []) != 1:
        raise AppsError("--kiosk shows exactly one app", hint="name it, for example: apps demo vit --kiosk")
    classes = demo_apps(names)
    # delete_cache: gradio's copies of shown files older than an hour go, checked every 10 minutes.
    with gr.Blocks(title="transformer-apps", delete_cache=(600, 3600)) as page:
        if not kiosk:
            gr.Markdown("# transformer-apps\nTransformer models, running on this machine.")
        if not classes:
            gr.Markdown("No installed app has a demo tab yet.")
        for app_class in classes:
            with gr.Tab(app_class.name.upper() if kiosk else app_class.name, id=app_class.name):
                gr.Markdown(f"**{app_class.description}**")
                try:
                    app_class().demo()
                except Exception as exc:  # one broken tab must not take the page down
                    traceback.print_exc()
                    gr.Markdown(f"This app could not start here: `{exc}`")
        if training and not kiosk:
            from core.demo_training import training_tab

            with gr.Tab("train", id="train"):
                training_tab()
    return page


def launch(names=None, host="127.0.0.1", port=7860, auth=None, kiosk=False, open_browser=False):
    """Build and serve the page until interrupted."""
    if kiosk and len(names or []) != 1:  # checked before importing gradio: bad input fails at once
        raise AppsError("--kiosk shows exactly one app", hint="name it, for example: apps demo vit --kiosk")
    if host not in ("127.0.0.1", "localhost", "::1") and not auth:
        print(f"warning: serving on {host} without --auth: anyone on the network can use this page.", file=sys.stderr)
    credentials = None
    if auth:
        user, _, password = auth.partition(":")
        if not user or not password:
            raise AppsError("--auth takes USER:PASSWORD")
        credentials = (user, password)
    _quiet_gradio()
    import gradio as gr

    page = build(names, kiosk=kiosk)
    # System fonts only: the default theme would fetch Google Fonts, which a booth offline cannot reach.
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    page.queue(default_concurrency_limit=2).launch(
        server_name=host,
        server_port=port,
        auth=credentials,
        share=False,
        inbrowser=open_browser,
        max_file_size=MAX_UPLOAD,
        show_error=True,
        footer_links=[],
        theme=theme,
        css=KIOSK_CSS if kiosk else None,
        ssr_mode=False,
        quiet=False,
    )
