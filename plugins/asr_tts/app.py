"""The asr, tts and assistant apps. Module level stays light (no torch): 'apps list' imports it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core import App
from core.errors import AppsError
from plugins.asr_tts.recipe import AsrRecipe, TacotronRecipe

PARAKEET_HUB = "nvidia/parakeet-ctc-0.6b"


def _echo(text: str) -> None:
    import click

    click.echo(text)


def _default_asr_model() -> str:
    """The offline default run directory when it exists, else a clear way to make it."""
    from core.paths import default_model_dir

    folder = default_model_dir("asr")
    if (folder / "vocab.json").is_file():
        return str(folder)
    raise AppsError(
        "no ASR model yet: the offline default is not built",
        hint=f"run 'apps prepare asr' (trains it, about 15 min on a CPU), or pass --model "
        f"{PARAKEET_HUB} when online, or --model RUN_DIR from 'apps train asr'",
    )


def _inputs(paths) -> list[Path]:
    from plugins.asr_tts.audio import audio_files

    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = audio_files(path)
            if not found:
                raise AppsError(f"no audio files (wav, flac, ogg, mp3) in {path}")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise AppsError(f"{path} does not exist", hint="give audio files or folders, or --mic")
    return files


class AsrApp(App):
    name = "asr"
    description = "Speech recognition with a Conformer (FastConformer CTC)"
    recipe_class = AsrRecipe
    default_model = None  # the offline default run built by 'apps prepare asr'
    default_recipe = "conformer-ctc-commands"

    @classmethod
    def cli_options(cls, verb: str) -> list:
        import click

        from core import options

        model = options.model(
            help=f"Run directory from 'apps train asr', a folder, or a hub id ({PARAKEET_HUB}). "
            "Default: the offline model built by 'apps prepare asr'."
        )
        decoder = click.Option(
            ["--decoder"],
            type=click.Choice(["auto", "lexicon", "greedy"]),
            default="auto",
            show_default=True,
            help="CTC decoding. lexicon: a beam search that spells only the words of the model's training "
            "transcripts (runs of 'apps train asr' store them); greedy: the best character of every frame; "
            "auto: lexicon when the model has one.",
        )
        if verb == "run":
            return [
                click.Argument(["inputs"], nargs=-1, type=click.Path()),
                model,
                decoder,
                options.device(),
                options.json_output(),
                click.Option(["--mic"], is_flag=True, help="Listen to the microphone (needs sounddevice)."),
                click.Option(
                    ["--chunk-seconds"],
                    type=float,
                    default=20.0,
                    help="Longest piece decoded at once; longer audio is cut at quiet points.",
                ),
                click.Option(
                    ["--vad-threshold"],
                    type=float,
                    default=-45.0,
                    help="Energy (dBFS) above which the microphone hears speech.",
                ),
                click.Option(
                    ["--seconds"], type=float, default=None, help="Stop listening after this long (mic)."
                ),
                click.Option(
                    ["--mic-device"], default=None, help="sounddevice input device (name or index)."
                ),
            ]
        if verb == "eval":
            return [
                model,
                decoder,
                options.device(),
                options.json_output(),
                click.Option(
                    ["--dataset"],
                    default=None,
                    help="Manifest JSONL, LibriSpeech folder, corpus folder or hf:NAME. Default: the "
                    "held-out voices of the espeak-ng corpus.",
                ),
                click.Option(
                    ["--limit"], type=int, default=None, help="Evaluate the first N utterances only."
                ),
            ]
        if verb == "prepare":
            return [
                click.Option(["--force"], is_flag=True, help="Rebuild even when the default model exists."),
                click.Option(
                    ["--pretrained"],
                    is_flag=True,
                    help=f"Download {PARAKEET_HUB} into the cache instead (online).",
                ),
                click.Argument(["overrides"], nargs=-1, metavar="[KEY=VALUE]..."),
            ]
        if verb == "bench":
            return [
                options.device(),
                click.Option(["--seconds"], type=float, default=10.0, help="Length of the test audio."),
                click.Option(["--skip-large"], is_flag=True, help="Skip the 0.6b architecture row."),
            ]
        return []

    # ---- inference ------------------------------------------------------------------------------
    def load(self, model=None, device=None, dtype=None, decoder="auto"):
        from plugins.asr_tts.asr_model import Transcriber

        self.transcriber = Transcriber.load(model or _default_asr_model(), device, dtype, decoder)
        self.model_name = str(model or "default")
        return self

    def predict(self, inputs):
        """``inputs``: mono 16 kHz float arrays or audio file paths; returns one result dict each:
        ``{"text", "speech", "duration_s", "seconds", "rtf", "chunks"}``."""
        from plugins.asr_tts.audio import load_audio

        if not hasattr(self, "transcriber"):
            self.load()
        waves = [load_audio(x) if isinstance(x, (str, Path)) else x for x in inputs]
        return self.transcriber.transcribe(waves)

    def run(
        self,
        inputs=(),
        model=None,
        device="auto",
        as_json=False,
        mic=False,
        chunk_seconds=20.0,
        vad_threshold=-45.0,
        seconds=None,
        mic_device=None,
        decoder="auto",
        **_,
    ):
        if not inputs and not mic:
            raise AppsError("nothing to transcribe", hint="apps run asr FILE|DIR ... or apps run asr --mic")
        files = _inputs(inputs)
        self.load(model, device, decoder=decoder)
        self.transcriber.max_chunk_s = chunk_seconds
        if mic:
            from plugins.asr_tts.stream import listen

            for result in listen(
                self.transcriber,
                vad_threshold,
                seconds,
                mic_device,
                partial=lambda text: None if as_json else print(f"\r... {text}", end="", file=sys.stderr),
            ):
                self._show(result, "microphone", as_json)
            return
        from plugins.asr_tts.audio import load_audio

        for path in files:
            result = self.transcriber.transcribe([load_audio(path)])[0]
            self._show(result, str(path), as_json)

    def _show(self, result: dict, source: str, as_json: bool) -> None:
        result = {"file": source, **result}
        if not result.get("speech"):
            result["message"] = "no speech detected"
        self.emit(result, source=source)
        if as_json:
            _echo(json.dumps(result, ensure_ascii=False))
        else:
            _echo(f"{source}: {result['text'] if result.get('speech') else '(no speech detected)'}")

    # ---- training, evaluation -------------------------------------------------------------------
    def training_parts(self, recipe):
        from plugins.asr_tts.asr_train import training_parts

        return training_parts(recipe)

    def evaluate(
        self, model=None, device="auto", as_json=False, dataset=None, limit=None, decoder="auto", **_
    ) -> dict:
        from plugins.asr_tts.asr_eval import evaluate_asr

        metrics = evaluate_asr(model or _default_asr_model(), dataset, limit, device, decoder)
        _echo(json.dumps(metrics, indent=None if as_json else 2))
        return metrics

    def prepare(self, force=False, pretrained=False, overrides=(), **_) -> None:
        from plugins.asr_tts.asr_eval import prepare_default

        _echo(prepare_default(self, force, pretrained, list(overrides)))

    def demo(self) -> None:
        from plugins.asr_tts.demo import build_asr_tab

        build_asr_tab(self)

    def benchmark(self, device="auto", seconds=10.0, skip_large=False, **_) -> list[dict]:
        from plugins.asr_tts.asr_eval import benchmark_rows

        return benchmark_rows(device, seconds, skip_large)


class TtsApp(App):
    name = "tts"
    description = "Text-to-speech: espeak-ng, VITS (MMS-TTS) or a Tacotron 2 trained offline"
    recipe_class = TacotronRecipe
    default_recipe = "tacotron2-commands"

    @classmethod
    def cli_options(cls, verb: str) -> list:
        import click

        from core import options

        if verb == "run":
            return [
                click.Argument(["text"], nargs=-1),
                click.Option(["--output", "-o"], default=None, help="WAV file to write (default: tts.wav)."),
                click.Option(
                    ["--engine", "-e"],
                    type=click.Choice(["espeak", "vits", "tacotron2"]),
                    default="espeak",
                    help="espeak-ng (offline), vits (MMS-TTS, online once) or tacotron2 (apps prepare tts).",
                ),
                click.Option(
                    ["--voice", "-v"],
                    default=None,
                    help="espeak-ng voice: en-us, en-gb+f3, cmn (Mandarin) ... Default: by the text.",
                ),
                click.Option(["--speed"], type=int, default=165, help="espeak-ng words per minute."),
                click.Option(["--pitch"], type=int, default=50, help="espeak-ng pitch 0-99."),
                options.model(help="VITS hub id (facebook/mms-tts-eng) or Tacotron 2 run directory."),
                options.device(),
                click.Option(["--play"], is_flag=True, help="Play the sound (needs an audio device)."),
                options.json_output(),
            ]
        if verb == "prepare":
            return [
                click.Option(["--force"], is_flag=True, help="Retrain the Tacotron 2 default."),
                click.Argument(["overrides"], nargs=-1, metavar="[KEY=VALUE]..."),
            ]
        if verb == "bench":
            return [options.device()]
        if verb == "eval":
            return [
                options.model(help="Tacotron 2 run directory (default: the one from apps prepare tts)."),
                click.Option(
                    ["--asr-model"], default=None, help="ASR model that listens (default: offline)."
                ),
                click.Option(["--limit"], type=int, default=40, help="Sentences to speak."),
                options.device(),
                options.json_output(),
            ]
        return []

    def benchmark(self, device=None, **_) -> list[dict]:
        from plugins.asr_tts.tts import benchmark_rows

        return benchmark_rows(device)

    def load(self, model=None, device=None, dtype=None, engine="espeak", voice=None, speed=165, pitch=50):
        from plugins.asr_tts.tts import make_engine

        self.engine = make_engine(engine, model, voice, speed, pitch, device)
        return self

    def predict(self, inputs):
        """``inputs``: texts; returns ``{"audio", "sample_rate", "duration_s", "seconds", "rtf"}`` each."""
        from plugins.asr_tts.tts import speak

        if not hasattr(self, "engine"):
            self.load()
        return [speak(self.engine, text) for text in inputs]

    def run(
        self,
        text=(),
        output=None,
        engine="espeak",
        voice=None,
        speed=165,
        pitch=50,
        model=None,
        device="auto",
        play=False,
        as_json=False,
        **_,
    ):
        from plugins.asr_tts.audio import save_wav
        from plugins.asr_tts.tts import play as play_audio

        sentence = " ".join(text).strip()
        if not sentence:
            raise AppsError("nothing to say", hint='apps run tts "turn left" -o turn.wav')
        self.load(model, device, engine=engine, voice=voice, speed=speed, pitch=pitch)
        result = self.predict([sentence])[0]
        path = save_wav(output or "tts.wav", result["audio"], result["sample_rate"])
        info = {
            "text": sentence,
            "engine": engine,
            "file": str(path),
            **{k: v for k, v in result.items() if k != "audio"},
        }
        self.emit(info, source="command line")
        if play:
            play_audio(result["audio"], result["sample_rate"])
        _echo(
            json.dumps(info, ensure_ascii=False)
            if as_json
            else f"wrote {path} ({info['duration_s']} s, {engine})"
        )

    def demo(self) -> None:
        from plugins.asr_tts.demo import build_tts_tab

        build_tts_tab(self)

    def training_parts(self, recipe):
        from plugins.asr_tts.tacotron import training_parts

        return training_parts(recipe)

    def prepare(self, force=False, overrides=(), **_) -> None:
        from plugins.asr_tts.asr_eval import prepare_tacotron

        _echo(prepare_tacotron(self, force, list(overrides)))

    def evaluate(self, model=None, asr_model=None, limit=40, device="auto", as_json=False, **_) -> dict:
        from plugins.asr_tts.asr_eval import round_trip

        metrics = round_trip(model, asr_model or _default_asr_model(), limit, device)
        _echo(json.dumps(metrics, indent=None if as_json else 2))
        return metrics


class AssistantApp(App):
    name = "assistant"
    description = "Voice assistant: speech recognition -> chat -> speech, from a microphone or files"

    @classmethod
    def cli_options(cls, verb: str) -> list:
        import click

        from core import options

        if verb != "run":
            return []
        return [
            click.Argument(["inputs"], nargs=-1, type=click.Path()),
            click.Option(["--mic"], is_flag=True, help="Listen to the microphone."),
            click.Option(["--asr-model"], default=None, help="ASR model (default: the offline one)."),
            click.Option(
                ["--chat-model"], default=None, help="Chat model for the chat app (default: its own)."
            ),
            click.Option(
                ["--engine", "-e"], type=click.Choice(["espeak", "vits", "tacotron2"]), default="espeak"
            ),
            click.Option(["--voice", "-v"], default=None, help="espeak-ng voice for the answers."),
            click.Option(["--output-dir", "-o"], default="assistant", help="Where answer WAV files go."),
            click.Option(
                ["--no-chat"], is_flag=True, help="Echo the transcript instead of asking the chat app."
            ),
            click.Option(["--play"], is_flag=True, help="Play each answer."),
            click.Option(
                ["--seconds"], type=float, default=None, help="Stop listening after this long (mic)."
            ),
            options.device(),
            options.json_output(),
        ]

    def run(
        self,
        inputs=(),
        mic=False,
        asr_model=None,
        chat_model=None,
        engine="espeak",
        voice=None,
        output_dir="assistant",
        no_chat=False,
        play=False,
        seconds=None,
        device="auto",
        as_json=False,
        **_,
    ):
        from plugins.asr_tts.assistant import Assistant

        if not inputs and not mic:
            raise AppsError("nothing to listen to", hint="apps run assistant FILE|DIR ... or --mic")
        assistant = Assistant(
            self,
            asr_model,
            None if no_chat else (chat_model or ""),
            engine,
            voice,
            device,
            Path(output_dir),
            play,
        )
        utterances = assistant.from_mic(seconds) if mic else assistant.from_files(_inputs(inputs))
        for result in utterances:
            _echo(
                json.dumps(result, ensure_ascii=False)
                if as_json
                else f"you: {result['transcript'] or '(no speech detected)'}\nassistant: {result['reply']}"
            )
