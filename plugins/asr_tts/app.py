"""The asr and tts apps. Module level stays light (no torch): 'apps list' imports it."""

from core import App


class AsrApp(App):
    name = "asr"
    description = "Speech recognition with a Conformer (FastConformer CTC)"


class TtsApp(App):
    name = "tts"
    description = "Text-to-speech: espeak-ng, VITS (MMS-TTS) or a Tacotron 2 trained offline"
