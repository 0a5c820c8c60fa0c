"""``apps new-plugin NAME``: writes a complete third-party plugin package that installs and tests green.

The package has the one plugin layout (docs/plugins.md): ``__init__.py`` (hookimpls only), ``app.py`` (the
App, delegating), ``recipe.py``, ``model.py``, ``data.py``, ``training.py``, ``prepare.py`` (the offline
default through ``core.build_default`` / ``core.require_default``), ``recipes/NAME.yaml``, a pyproject with
the entry point and a test. Its app is real and small: a tiny BERT, built from a config (nothing to
download), that tells questions from statements and trains in seconds on a CPU. Everything it writes
imports only public names (``from core import ...``).

Templates name their placeholders ``{app}``, ``{dist}``, ``{module}``, ``{cls}`` and ``{recipe_cls}``; any
other brace is left as written.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.errors import AppsError

PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "apps-{dist}"
version = "0.1.0"
description = "A transformer-apps plugin: the '{app}' app"
requires-python = ">=3.10"
dependencies = ["transformer-apps"]

[project.entry-points.transformer_apps]
{app} = "{module}"

[tool.setuptools]
packages = ["{module}"]

[tool.setuptools.package-data]
{module} = ["recipes/*.yaml"]
"""

INIT = '''\
"""The '{app}' plugin for transformer-apps: hook implementations only.

Found through the entry point group ``transformer_apps`` (pyproject.toml). ``apps list`` imports this
module, so it stays light: the App loads when a hook asks for it, torch when a method needs it.
"""

from pathlib import Path

from core import hookimpl, recipes_in


@hookimpl
def register_apps(register):
    from {module}.app import {cls}

    register({cls})


@hookimpl
def register_recipes(register):
    for name, path, description in recipes_in(Path(__file__).parent / "recipes"):
        register(app="{app}", name=name, path=path, description=description)
'''

APP = '''\
"""The '{app}' App: what the command line calls, delegating each job to its module.

``apps list`` imports this module: keep it light (torch and transformers load inside the methods).
"""

import json

import click
from core import App, options

from {module}.recipe import {recipe_cls}


class {cls}(App):
    name = "{app}"
    description = "Tell questions from statements with a tiny Transformer (replace with your own app)"
    recipe_class = {recipe_cls}
    default_recipe = "{app}"  # recipes/{app}.yaml, also what 'apps prepare' builds

    @classmethod
    def cli_options(cls, verb):
        if verb == "run":
            return [click.Argument(["text"], nargs=-1, required=True), options.model(), options.device()]
        if verb == "prepare":
            return [click.Option(["--force"], is_flag=True, help="Rebuild the default model.")]
        return []

    @classmethod
    def profile_settings(cls, profile):
        # Hardware facts -> recipe settings: a smaller batch on an 8 GB board.
        return {"batch_size": 16} if profile.accelerator == "jetson" and profile.memory_gb <= 8 else {}

    def load(self, model=None, device=None, dtype=None):
        from {module}.model import load_model
        from {module}.prepare import default_model

        self.model = load_model(model or default_model(self), self, device)
        return self

    def predict(self, inputs):
        from {module}.model import classify

        if getattr(self, "model", None) is None:
            self.load()
        return classify(self.model, list(inputs))

    def run(self, text=(), model=None, device="auto", **kwargs):
        self.load(model, device)
        result = self.predict([" ".join(text)])[0]
        self.emit(result, source="command line")
        click.echo(json.dumps(result))

    def training_parts(self, recipe):
        from {module}.training import training_parts

        return training_parts(recipe)

    def prepare(self, force=False, **kwargs):
        from {module}.prepare import prepare

        prepare(self, force=force)
'''

RECIPE = '''\
"""The recipe of '{app}': the core's training settings plus the model's shape and the data's size.

No torch here: the command line validates recipes before anything heavy is imported.
"""

from dataclasses import dataclass

from core import Recipe


@dataclass
class {recipe_cls}(Recipe):
    samples: int = 256  # synthetic training sentences (data.py); an eighth as many more for evaluation
    max_length: int = 64  # bytes of a text the model reads
    hidden_size: int = 32
    layers: int = 1
    heads: int = 2
'''

MODEL = '''\
"""The model of '{app}': a tiny BERT classifier built from a config (nothing to download),
loaded back from a run directory, and run on texts."""

from {module}.data import VOCAB_SIZE, encode_batch

LABELS = ("statement", "question")


def build_model(recipe):
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=recipe.hidden_size,
        num_hidden_layers=recipe.layers,
        num_attention_heads=recipe.heads,
        intermediate_size=4 * recipe.hidden_size,
        max_position_embeddings=recipe.max_length,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: index for index, label in enumerate(LABELS)},
    )
    return BertForSequenceClassification(config)


def load_model(spec, app, device=None):
    """A trained model from a run directory or folder (``spec``), on ``device``."""
    from core import hf_from_pretrained, resolve_device
    from transformers import AutoModelForSequenceClassification

    model = hf_from_pretrained(AutoModelForSequenceClassification, str(spec), app)
    return model.to(resolve_device(device)).eval()


def classify(model, texts):
    import torch

    batch = encode_batch(texts, model.config.max_position_embeddings)
    with torch.no_grad():
        scores = model(**{name: value.to(model.device) for name, value in batch.items()}).logits.softmax(-1)
    return [
        {"text": text, "label": model.config.id2label[int(row.argmax())], "score": round(float(row.max()), 4)}
        for text, row in zip(texts, scores, strict=True)
    ]
'''

DATA = '''\
"""The data of '{app}': synthetic statements and questions, and the byte-level encoding the
model reads (no tokenizer to download). Replace it with your own data, or register a dataset
(``register_datasets``) that other apps can use too."""

import random

PAD, CLS = 0, 1
VOCAB_SIZE = 2 + 256  # PAD, CLS and the byte values
WORDS = "the rain wind sun snow cloud river station sky cold warm today tomorrow tonight will be".split()
QUESTION_WORDS = ("is", "will", "does", "why", "when")


def sentences(count, seed=0):
    """``count`` pairs ``(text, label)``: 1 for a question, 0 for a statement."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        words = rng.choices(WORDS, k=rng.randint(3, 8))
        if rng.random() < 0.5:
            rows.append((" ".join([rng.choice(QUESTION_WORDS), *words]) + "?", 1))
        else:
            rows.append((" ".join(words) + ".", 0))
    return rows


def encode(text, max_length):
    return [CLS] + [2 + byte for byte in text.encode("utf-8")[: max_length - 1]]


def examples(count, max_length, seed=0):
    """A map-style dataset (a list) of encoded, labelled sentences."""
    pairs = sentences(count, seed)
    return [{"input_ids": encode(text, max_length), "labels": label} for text, label in pairs]


def collate(items):
    """Pad a list of examples into a batch of tensors."""
    import torch

    width = max(len(item["input_ids"]) for item in items)
    input_ids = torch.tensor([item["input_ids"] + [PAD] * (width - len(item["input_ids"])) for item in items])
    batch = {"input_ids": input_ids, "attention_mask": (input_ids != PAD).to(torch.int64)}
    if "labels" in items[0]:
        batch["labels"] = torch.tensor([item["labels"] for item in items])
    return batch


def encode_batch(texts, max_length):
    return collate([{"input_ids": encode(text, max_length)} for text in texts])
'''

TRAINING = '''\
"""How '{app}' trains: the parts the core engine needs for one recipe.

``apps train {app}`` and ``apps prepare {app}`` (through core.build_default)
both come here.
"""

from core import TrainingParts

from {module}.data import collate, examples
from {module}.model import LABELS, build_model


def accuracy(prediction):
    return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}


def training_parts(recipe):
    return TrainingParts(
        model=build_model(recipe),
        train_dataset=examples(recipe.samples, recipe.max_length, seed=recipe.seed),
        eval_dataset=examples(max(recipe.samples // 8, 1), recipe.max_length, seed=recipe.seed + 1),
        data_collator=collate,
        compute_metrics=accuracy,
        metadata={"labels": list(LABELS)},
    )
'''

PREPARE = '''\
"""The offline default of '{app}': built from its own recipe by the core's lifecycle
(``apps prepare``), and required by ``load`` when no --model is given."""

from core import build_default, require_default

RECIPE = "{app}"


def prepare(app, force=False):
    """Train the recipe into $APPS_HOME/models/{app}/default, swapped in once complete."""
    folder = build_default(app, RECIPE, force=force)
    print(f"{app.name}: the default model is in {folder}")


def default_model(app):
    """The built default's folder, or the error that says 'run apps prepare {app}'."""
    return require_default(app.name, takes="a few seconds on a CPU")
'''

RECIPE_YAML = """\
# The offline default of '{app}', what 'apps prepare {app}' trains:
# a one-layer BERT of width 32 on synthetic sentences, a few seconds on a CPU.
description: tiny BERT that tells questions from statements (offline default)
samples: 256
max_length: 64
hidden_size: 32
layers: 1
heads: 2
learning_rate: 5.0e-3
lr_scheduler: constant
num_epochs: 3
batch_size: 16
precision: fp32
logging_steps: 10
save_steps: 1000
save_total_limit: 1
seed: 42
"""

TEST = '''\
import json

import pytest
from core import AppsError, default_is_built, get_manager

APP = "{app}"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Build the default model in a temporary $APPS_HOME, not in your cache."""
    monkeypatch.setenv("APPS_HOME", str(tmp_path))


def test_app_is_registered_and_asks_for_its_default():
    app = get_manager().app(APP)
    assert app.offers("run") and app.offers("train") and app.offers("prepare")
    assert APP in get_manager().recipes(APP)
    with pytest.raises(AppsError, match=f"apps prepare {APP}"):
        app.load()


def test_prepare_builds_the_default_and_run_uses_it(capsys):
    app = get_manager().app(APP)
    app.prepare()
    assert default_is_built(APP)
    app.run(text=("will", "it", "rain", "tomorrow?"))
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["text"] == "will it rain tomorrow?"
    assert result["label"] == "question" and 0.5 < result["score"] <= 1
'''

README = """\
# apps-{dist}

A [transformer-apps](https://github.com/transformer-apps/transformer-apps) plugin: the '{app}' app.

    pip install -e .
    apps list                                  # '{app}' from plugin '{app}'
    apps prepare {app}                         # trains the offline default (seconds)
    apps run {app} "will it rain tomorrow?"
    apps train {app} learning_rate=1e-3        # a run directory under runs/
    pytest

Layout (docs/plugins.md of transformer-apps):

| file | job |
|---|---|
| `{module}/__init__.py` | hook implementations only: the app and its recipes |
| `{module}/app.py` | the App: command-line options, and each verb delegating to a module |
| `{module}/recipe.py` | the recipe dataclass (core training settings + this app's) |
| `{module}/model.py` | build, load and run the model |
| `{module}/data.py` | the training data and its encoding |
| `{module}/training.py` | `training_parts(recipe)`: what the core engine trains |
| `{module}/prepare.py` | the offline default: `core.build_default` / `core.require_default` |
| `{module}/recipes/{app}.yaml` | the recipe of the offline default |

Import from the core only what `core.__all__` names: `from core import App, hookimpl, ...`.
"""

FILES = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "{module}/__init__.py": INIT,
    "{module}/app.py": APP,
    "{module}/recipe.py": RECIPE,
    "{module}/model.py": MODEL,
    "{module}/data.py": DATA,
    "{module}/training.py": TRAINING,
    "{module}/prepare.py": PREPARE,
    "{module}/recipes/{app}.yaml": RECIPE_YAML,
    "tests/test_plugin.py": TEST,
}

PLACEHOLDER = re.compile(r"\{(app|dist|module|cls|recipe_cls)\}")


def _fill(template: str, values: dict) -> str:
    return PLACEHOLDER.sub(lambda match: values[match[1]], template)


def write_plugin(name: str, directory: str | Path = ".") -> Path:
    """Create ``DIRECTORY/apps-NAME`` and return its path."""
    if not re.fullmatch(r"[a-z][a-z0-9_\-]*", name):
        raise AppsError(f"invalid plugin name '{name}'", hint="use lowercase letters, digits, '-' and '_'.")
    dist = name.replace("_", "-")
    module = "apps_" + name.replace("-", "_")
    base = "".join(part.capitalize() for part in re.split(r"[-_]", name))
    folder = Path(directory) / f"apps-{dist}"
    if folder.exists():
        raise AppsError(f"{folder} already exists", hint="choose another name or --dir.")
    values = {"dist": dist, "module": module, "app": dist, "cls": base + "App", "recipe_cls": base + "Recipe"}
    for relative, template in FILES.items():
        path = folder / _fill(relative, values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_fill(template, values), encoding="utf-8")
    return folder
