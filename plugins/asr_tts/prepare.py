"""``apps prepare``: the offline defaults of the asr and tts apps, trained by their default recipes.

``core.build_default`` trains into ``$APPS_HOME/models/APP/default.building`` and swaps the result in when
training has finished, so an interrupted prepare leaves the previous default usable. The espeak-ng corpus
is synthesised by the recipe's ``training_parts`` before the first training step.
"""

from __future__ import annotations

import time

from core import build_default, default_is_built, default_model_dir


def prepare_default(app, force: bool = False, overrides=()) -> str:
    """Build ``app``'s offline default with its ``default_recipe``; a message saying what was done."""
    if default_is_built(app.name) and not force:
        return f"the offline default {app.name} model is ready: {default_model_dir(app.name)} (--force rebuilds it)"
    began = time.time()
    folder = build_default(app, app.default_recipe, overrides=list(overrides), force=force)
    return f"built {folder} in {time.time() - began:.0f} s"


def prepare_asr(app, force: bool = False, pretrained: bool = False, overrides=()) -> str:
    """The asr default (recipe conformer-ctc-commands), or with ``pretrained`` the hub's parakeet-ctc-0.6b
    fetched into the cache instead."""
    if pretrained:
        from plugins.asr_tts.asr_model import Transcriber
        from plugins.asr_tts.recipe import PARAKEET_HUB

        Transcriber.load(PARAKEET_HUB, "cpu")
        return f"{PARAKEET_HUB} is in the Hugging Face cache; use it with --model {PARAKEET_HUB}"
    return prepare_default(app, force, overrides)
