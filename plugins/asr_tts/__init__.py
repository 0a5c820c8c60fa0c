"""Built-in plugin: speech recognition (FastConformer CTC), text-to-speech and a voice assistant.

Hook implementations only: no torch, no audio libraries imported here.
"""

from core import hookimpl


@hookimpl
def register_apps(register):
    from plugins.asr_tts.app import AsrApp, AssistantApp, TtsApp

    register(AsrApp)
    register(TtsApp)
    register(AssistantApp)


@hookimpl
def register_recipes(register):
    from core import recipes_in
    from plugins.asr_tts.recipe import RECIPE_APPS, RECIPES_DIR

    for name, path, description in recipes_in(RECIPES_DIR):
        register(app=RECIPE_APPS.get(name, "asr"), name=name, path=path, description=description)


@hookimpl
def register_datasets(register):
    from plugins.asr_tts.corpus import espeak_corpus
    from plugins.asr_tts.data import read_librispeech, read_manifest

    register(
        app="asr",
        name="espeak-commands",
        loader=espeak_corpus,
        description="digits, robot commands and sentences synthesised with espeak-ng; held-out voices",
    )
    register(
        app="asr",
        name="manifest",
        loader=read_manifest,
        description="NeMo-style JSONL manifest (audio_filepath, text, duration)",
    )
    register(
        app="asr",
        name="librispeech",
        loader=read_librispeech,
        description="a LibriSpeech split folder (*.trans.txt + *.flac)",
    )
