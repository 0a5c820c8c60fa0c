"""The chat app: its command-line options, and each verb handed to the module that does the work.
Module level stays light (no torch): 'apps list' imports it."""

from __future__ import annotations

import json

from core import App, AppsError
from plugins.chat.recipe import ChatRecipe, settings_for_profile


def _sampling_options() -> list:
    import click

    return [
        click.Option(["--max-new-tokens"], type=int, default=256, help="Longest answer, in tokens."),
        click.Option(["--temperature"], type=float, default=0.7, help="Sampling temperature (0 = greedy)."),
        click.Option(["--top-p"], type=float, default=0.9, help="Nucleus sampling probability mass."),
        click.Option(["--top-k"], type=int, default=50, help="Sample among the k most likely tokens."),
        click.Option(["--repetition-penalty"], type=float, default=1.1, help="Penalty for repeated tokens."),
        click.Option(["--greedy"], is_flag=True, help="Greedy decoding (no sampling)."),
    ]


def _model_options() -> list:
    import click

    from core import options

    return [
        options.model(
            help="Hugging Face causal LM id, local folder or run directory. Default: microsoft/phi-1_5"
            " (offline: the model built by 'apps prepare chat')."
        ),
        click.Option(["--adapter"], default=None, help="A LoRA run directory to put on --model."),
        click.Option(
            ["--template"],
            default=None,
            help="Chat template: default, alpaca, chatml or model (the tokenizer's own). A run "
            "directory's stored template is used automatically.",
        ),
        options.device(),
        options.precision(),
    ]


class ChatApp(App):
    name = "chat"
    description = "Chatbot with streamed answers; Phi-1.5 adapted to Chinese with LoRA"
    recipe_class = ChatRecipe
    default_model = "microsoft/phi-1_5"

    @classmethod
    def profile_settings(cls, profile) -> dict:
        return settings_for_profile(profile)

    @classmethod
    def cli_options(cls, verb: str) -> list:
        import click

        from core import options

        if verb == "run":
            return [
                *_model_options(),
                click.Option(["--system"], default=None, help="System prompt."),
                click.Option(["--prompt", "-p"], default=None, help="Answer this one prompt and exit."),
                click.Option(["--no-stream"], is_flag=True, help="Print the answer when it is complete."),
                *_sampling_options(),
            ]
        if verb == "eval":
            return [
                options.model(help="The adapted model (run directory). Default: the offline default model."),
                click.Option(
                    ["--base"],
                    default=None,
                    help="The model before adaptation. Default: the run's base model.",
                ),
                click.Option(
                    ["--dataset"],
                    default="zh-instruct",
                    help="Held-out Chinese data: zh-instruct (its fixed test split) or a JSON/JSONL file.",
                ),
                click.Option(["--samples"], type=int, default=40, help="Prompts to generate answers for."),
                click.Option(["--max-new-tokens"], type=int, default=160, help="Longest generated answer."),
                options.device(),
                options.json_output(),
            ]
        if verb == "prepare":
            return [
                click.Option(
                    ["--build"],
                    is_flag=True,
                    help="Build the miniature offline default even when the hub is reachable.",
                ),
                click.Option(["--force"], is_flag=True, help="Rebuild what already exists."),
            ]
        if verb == "export":
            return [
                options.model(help="Run directory to export."),
                click.Option(["--merge"], is_flag=True, help="Fold the LoRA adapter into the weights."),
                click.Option(
                    ["--output", "-o"], default=None, help="Output folder (default: RUN_DIR-merged)."
                ),
            ]
        if verb == "serve":
            return [
                *_model_options(),
                click.Option(["--host"], default="127.0.0.1", help="Address to listen on."),
                click.Option(["--port"], type=int, default=8000, help="Port."),
                click.Option(["--max-new-tokens"], type=int, default=256, help="Default answer length."),
                click.Option(
                    ["--api-key"],
                    default=None,
                    help="Require 'Authorization: Bearer KEY' (default: $APPS_CHAT_API_KEY; none: no key).",
                ),
                click.Option(
                    ["--max-waiting"],
                    type=click.IntRange(0),
                    default=8,
                    help="Requests that may wait behind the one generating (more get HTTP 429).",
                ),
            ]
        if verb == "bench":
            return [
                click.Option(
                    ["--model", "-m"],
                    default=None,
                    help="Model for the decode-speed rows (default: the offline default model).",
                ),
                click.Option(
                    ["--phi15-random/--no-phi15-random"],
                    default=None,
                    help="Also measure the full Phi-1.5 architecture with random weights (fp32 needs ~6 GB; "
                    "default: when 8 GB of memory are free).",
                ),
                click.Option(
                    ["--phi15-dtypes"],
                    default="auto",
                    help="Precisions for the Phi-1.5 rows (auto: fp32, plus bf16 where it runs natively).",
                ),
                click.Option(["--tokens"], type=int, default=64, help="Tokens to generate per measurement."),
            ]
        return []

    # ---- inference ----------------------------------------------------------------------------
    def load(self, model=None, device="auto", dtype="auto", adapter=None, template=None):
        from plugins.chat.model import load_chat_model

        self.chat = load_chat_model(model, adapter, device or "auto", dtype or "auto", template)
        return self

    def predict(self, inputs):
        """``inputs``: a list of conversations (lists of messages); returns one answer dict each."""
        from plugins.chat.model import Sampling, answer_result, generate

        results = []
        for messages in inputs:
            answer = generate(self.chat, messages, Sampling(do_sample=False), stream=False)
            results.append(answer_result(messages, answer))
        return results

    def run(
        self,
        model=None,
        adapter=None,
        template=None,
        device="auto",
        precision="auto",
        system=None,
        prompt=None,
        no_stream=False,
        max_new_tokens=256,
        temperature=0.7,
        top_p=0.9,
        top_k=50,
        repetition_penalty=1.1,
        greedy=False,
        **_,
    ):
        from plugins.chat.live import terminal_chat
        from plugins.chat.model import Sampling

        self.load(model, device, precision, adapter, template)
        sampling = Sampling(max_new_tokens, temperature, top_p, top_k, repetition_penalty, not greedy)
        terminal_chat(self, sampling, system=system, prompt=prompt, stream=not no_stream)

    # ---- training and evaluation --------------------------------------------------------------
    def training_parts(self, recipe):
        from plugins.chat.training import training_parts

        return training_parts(recipe)

    def evaluate(
        self,
        model=None,
        base=None,
        dataset="zh-instruct",
        samples=40,
        max_new_tokens=160,
        device="auto",
        as_json=False,
        **_,
    ):
        from plugins.chat.evaluate import evaluate_before_after, print_report

        report = evaluate_before_after(model, base, dataset, samples, max_new_tokens, device)
        if as_json:
            print(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            print_report(report)
        return report

    def prepare(self, build=False, force=False, **_):
        from plugins.chat.prepare import prepare

        prepare(self, build=build, force=force)

    def export(self, model=None, merge=False, output=None, **_):
        from plugins.chat.export import export

        if not model:
            raise AppsError("'apps export chat' needs --model RUN_DIR")
        print(export(model, merge=merge, output=output))

    def serve(
        self,
        model=None,
        adapter=None,
        template=None,
        device="auto",
        precision="auto",
        host="127.0.0.1",
        port=8000,
        max_new_tokens=256,
        api_key=None,
        max_waiting=8,
        **_,
    ):
        from plugins.chat.server import serve

        self.load(model, device, precision, adapter, template)
        serve(
            self,
            host=host,
            port=port,
            max_new_tokens=max_new_tokens,
            api_key=api_key,
            max_waiting=max_waiting,
        )

    def benchmark(self, model=None, phi15_random=None, phi15_dtypes="auto", tokens=64, **_):
        from plugins.chat.bench import benchmark

        return benchmark(model, phi15_random, phi15_dtypes, tokens)

    def demo(self):
        from plugins.chat.demo import build_tab

        build_tab(self)
