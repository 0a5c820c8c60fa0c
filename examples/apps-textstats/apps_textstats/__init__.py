"""An example third-party plugin for transformer-apps, installed through the entry point group.

It shows three hooks:
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
import unicodedata

import click

from core import App, hookimpl


def text_stats(text: str) -> dict:
    letters = [ch for ch in text if not ch.isspace() and unicodedata.category(ch)[0] in "LN"]
    cjk = [ch for ch in letters if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"]
    return {
        "characters": len(text),
        "words": len(text.split()),
        "lines": text.count("\n") + (1 if text and not text.endswith("\n") else 0),
        "cjk_share": round(len(cjk) / len(letters), 4) if letters else 0.0,
    }


class TextStatsApp(App):
    name = "textstats"
    description = "Measure texts: words, characters and the share of Chinese characters"

    @classmethod
    def cli_options(cls, verb):
        if verb == "run":
            return [
                click.Argument(["texts"], nargs=-1),
                click.Option(["--file", "-f"], type=click.File("r", encoding="utf-8"), help="Read the text from a file ('-' for stdin)."),
            ]
        return []

    def predict(self, inputs):
        return [text_stats(text) for text in inputs]

    def run(self, texts=(), file=None, **options):
        inputs = [file.read()] if file is not None else list(texts)
        if not inputs:
            raise click.UsageError("give a text or --file")
        for stats in self.predict(inputs):
            self.emit(stats, source="file" if file is not None else "argument")
            click.echo(json.dumps(stats, ensure_ascii=False))


    def demo(self):
        """A tab in 'apps demo': the core gives every app's tab a place, no change to the core needed."""
        import gradio as gr

        from core.demo import friendly

        text = gr.Textbox(label="text", lines=4, elem_id="textstats-input")
        button = gr.Button("Measure", variant="primary", elem_id="textstats-run")
        output = gr.JSON(label="statistics", elem_id="textstats-output")
        button.click(friendly(self.name, lambda value: self.predict([value])[0]), text, output)


def _pangrams(**options):
    return ["The quick brown fox jumps over the lazy dog.", "敏捷的棕色狐狸跳过了懒狗。"]


@hookimpl
def register_apps(register):
    register(TextStatsApp)


@hookimpl
def register_datasets(register):
    register(app="textstats", name="pangrams", loader=_pangrams, description="two pangrams, English and Chinese")


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
