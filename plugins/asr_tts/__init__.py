"""Built-in plugin: speech recognition (FastConformer CTC), text-to-speech and a voice assistant.

Hook implementations only: no torch, no audio libraries imported here.
"""

from pathlib import Path

from core import hookimpl

RECIPES = Path(__file__).parent / "recipes"


@hookimpl
def register_apps(register):
    from plugins.asr_tts.app import AsrApp, AssistantApp, TtsApp

    register(AsrApp)
    register(TtsApp)
    register(AssistantApp)


@hookimpl
def register_recipes(register):
    from core.recipes import recipes_in

    apps = {"tacotron2-commands": "tts"}
    for name, path, description in recipes_in(RECIPES):
        register(app=apps.get(name, "asr"), name=name, path=path, description=description)


def _espeak_corpus(**options):
    from plugins.asr_tts.asr_train import corpus_folder
    from plugins.asr_tts.corpus import build_corpus

    return build_corpus(corpus_folder(), **options)


def _manifest(path):
    from plugins.asr_tts.data import read_manifest

    return read_manifest(path)


def _librispeech(path):
    from plugins.asr_tts.data import read_librispeech

    return read_librispeech(path)


@hookimpl
def register_datasets(register):
    register(
        app="asr",
        name="espeak-commands",
        loader=_espeak_corpus,
        description="digits, robot commands and sentences synthesised with espeak-ng; held-out voices",
    )
    register(
        app="asr",
        name="manifest",
        loader=_manifest,
        description="NeMo-style JSONL manifest (audio_filepath, text, duration)",
    )
    register(
        app="asr",
        name="librispeech",
        loader=_librispeech,
        description="a LibriSpeech split folder (*.trans.txt + *.flac)",
    )
