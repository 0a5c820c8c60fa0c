"""A tiny trainable app for the engine's tests: a 2-layer Phi causal LM (or a tiny BERT classifier) on
generated data. Registered as a third-party plugin by ``tests/conftest.py`` (a dist-info entry point on
``sys.path`` / ``PYTHONPATH``), so ``apps train tiny ...`` works in subprocesses too."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import click

from core import App, hookimpl
from core.recipes import Recipe

RECIPES = Path(__file__).parent / "tiny_recipes"
VOCAB = 64


@dataclass
class TinyRecipe(Recipe):
    samples: int = 64
    seq_len: int = 16
    kind: str = "lm"  # lm | classify
    step_delay: float = 0.0  # seconds slept after each step, so a test can kill mid-run


def _sequences(count: int, length: int, seed: int):
    import torch

    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, VOCAB, (count, 1), generator=generator)
    strides = torch.randint(1, 4, (count, 1), generator=generator)
    return (starts + strides * torch.arange(length)) % VOCAB  # learnable: arithmetic sequences


class SequenceSet:
    def __init__(self, rows, kind: str):
        self.rows, self.kind = rows, kind

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        row = self.rows[index]
        if self.kind == "classify":
            return {"input_ids": row, "labels": int(row[1] - row[0]) % VOCAB - 1}
        return {"input_ids": row, "labels": row.clone()}


def collate(items):
    import torch

    batch = {"input_ids": torch.stack([i["input_ids"] for i in items])}
    labels = [i["labels"] for i in items]
    batch["labels"] = torch.stack(labels) if hasattr(labels[0], "shape") else torch.tensor(labels)
    return batch


def accuracy(prediction):
    import numpy as np

    logits = (
        prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    )
    return {"accuracy": float((np.argmax(logits, -1) == prediction.label_ids).mean())}


def tiny_model(kind: str):
    if kind == "classify":
        from transformers import BertConfig, BertForSequenceClassification

        config = BertConfig(
            vocab_size=VOCAB,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            max_position_embeddings=64,
            num_labels=3,
        )
        return BertForSequenceClassification(config)
    from transformers import PhiConfig, PhiForCausalLM

    config = PhiConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    return PhiForCausalLM(config)


def _delay_callback(seconds: float):
    from transformers import TrainerCallback

    class Delay(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            time.sleep(seconds)

    return [Delay()] if seconds > 0 else []


class TinyApp(App):
    name = "tiny"
    description = "Tiny test app for the training engine"
    recipe_class = TinyRecipe

    @classmethod
    def cli_options(cls, verb):
        if verb == "train":
            return [
                click.Option(["--note"], default="", help="Stored in run.json (tests app train options).")
            ]
        return []

    def benchmark(self, repeat: int = 5, **_):
        """Forward latency of the tiny LM: with autograd (ours, as in training) vs without (the 'peer')."""
        import torch

        from core.bench import PeakMemory, timed

        model = tiny_model("lm")
        batch = _sequences(8, 16, seed=0)
        with PeakMemory() as memory:
            ours = timed(
                lambda: model(input_ids=batch, labels=batch).loss.backward(), repeat=repeat, warmup=1
            )
        with torch.no_grad():
            peer = timed(lambda: model(input_ids=batch), repeat=repeat, warmup=1)
        return [
            {
                "name": "tiny lm step",
                "metric": "latency",
                "value": ours["p50"] * 1000,
                "unit": "ms",
                "peer": "no-grad forward",
                "peer_value": peer["p50"] * 1000,
                "better": "lower",
            },
            {
                "name": "tiny lm step",
                "metric": "peak memory increase",
                "value": memory.increase / 2**20,
                "unit": "MiB",
            },
        ]

    def training_parts(self, recipe, note: str = ""):
        from core import TrainingParts

        rows = _sequences(recipe.samples + 16, recipe.seq_len, seed=recipe.seed)
        classify = recipe.kind == "classify"
        head = "classifier" if classify else "lm_head"

        def save(folder: Path):
            (Path(folder) / "tiny.json").write_text(json.dumps({"kind": recipe.kind, "vocab": VOCAB}))

        return TrainingParts(
            model=tiny_model(recipe.kind),
            train_dataset=SequenceSet(rows[: recipe.samples], recipe.kind),
            eval_dataset=SequenceSet(rows[recipe.samples :], recipe.kind),
            data_collator=collate,
            compute_metrics=accuracy if classify else None,
            save=save,
            trainable_modules=[head],
            metadata={"note": note, "base_model": "tiny-random"},
            callbacks=_delay_callback(recipe.step_delay),
        )


@hookimpl
def register_apps(register):
    register(TinyApp)


@hookimpl
def register_recipes(register):
    for path in sorted(RECIPES.glob("*.yaml")):
        first = path.read_text().splitlines()[0]  # "description: ..."
        register(app="tiny", name=path.stem, path=path, description=first.split(":", 1)[1].strip())


def install(tmp_path: Path, monkeypatch) -> Path:
    """Install this module as a third-party plugin the way pip would: a ``*.dist-info`` folder with an
    entry point in the ``transformer_apps`` group, in a temporary folder put on ``sys.path`` and on
    ``PYTHONPATH`` (so ``apps`` subprocesses see it too). Runs go to ``tmp_path/runs``."""
    import os

    from core.plugins import reset_manager

    tests = Path(__file__).resolve().parent
    site = tmp_path / "site"
    info = site / "apps_tiny-0.0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: apps-tiny\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text("[transformer_apps]\ntiny = tiny_app\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(tests))
    path = os.pathsep.join([str(site), str(tests), str(tests.parent), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path.rstrip(os.pathsep))
    monkeypatch.setenv("APPS_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("APPS_LOAD_PLUGINS", raising=False)
    reset_manager()
    return site
