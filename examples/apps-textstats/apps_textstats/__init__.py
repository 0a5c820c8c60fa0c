"""An example third-party plugin for transformer-apps, installed through the entry point group.

Hook implementations only (the app is in app.py, the measuring in stats.py, the dataset in data.py). It
shows three hooks:
- ``register_apps``: the ``textstats`` app, which measures a text (words, characters, share of CJK
  characters: the same figure the chat app uses to check that answers are Chinese);
- ``register_datasets``: a named dataset other apps can use;
- ``on_result``: a logger that appends every result of every app to the JSONL file named by
  ``APPS_RESULT_LOG`` (set it, then run any app).
"""

from __future__ import annotations

import json
import os
import sys

from core import hookimpl


@hookimpl
def register_apps(register):
    from apps_textstats.app import TextStatsApp

    register(TextStatsApp)


@hookimpl
def register_datasets(register):
    from apps_textstats.data import pangrams

    register(app="textstats", name="pangrams", loader=pangrams, description="two pangrams, English and Chinese")


@hookimpl
def on_result(app, result, context):
    path = os.environ.get("APPS_RESULT_LOG")
    if not path:
        return
    record = {"app": app.name, "result": result, "context": context}
    try:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    except OSError as exc:
        print(f"apps-textstats: cannot write {path}: {exc}", file=sys.stderr)
