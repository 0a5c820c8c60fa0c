"""The ``textstats`` App: command-line options, ``apps run`` and its tab in ``apps demo``.

``apps list`` imports this module, so it stays light (gradio loads inside ``demo``).
"""

from __future__ import annotations

import json

import click

from apps_textstats.stats import text_stats
from core import App


class TextStatsApp(App):
    name = "textstats"
    description = "Measure texts: words, characters and the share of Chinese characters"

    @classmethod
    def cli_options(cls, verb):
        if verb == "run":
            return [
                click.Argument(["texts"], nargs=-1),
                click.Option(
                    ["--file", "-f"],
                    type=click.File("r", encoding="utf-8"),
                    help="Read the text from a file ('-' for stdin).",
                ),
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

        from core import friendly

        text = gr.Textbox(label="text", lines=4, elem_id="textstats-input")
        button = gr.Button("Measure", variant="primary", elem_id="textstats-run")
        output = gr.JSON(label="statistics", elem_id="textstats-output")
        button.click(friendly(self.name, lambda value: self.predict([value])[0]), text, output)
