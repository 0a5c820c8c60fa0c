"""Built-in plugin: speech recognition (Conformer CTC) and text-to-speech."""

from core import hookimpl


@hookimpl
def register_apps(register):
    from plugins.asr_tts.app import AsrApp, TtsApp

    register(AsrApp)
    register(TtsApp)
