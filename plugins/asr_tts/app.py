"""The asr, tts and assistant apps: their command-line options, and each verb handed to the module that
does it. Module level stays light (no torch, no numpy): 'apps list' imports it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core import App, AppsError
from plugins.asr_tts.recipe import PARAKEET_HUB, AsrRecipe, TacotronRecipe


def _echo(text: str) -> None:
    import click

    click.echo(text)


class AsrApp(App):
    name = "asr"
    description = "Speech recognition with a Conformer (FastConformer CTC)"
    recipe_class = AsrRecipe
    default_model = None  # the offline default run built by 'apps prepare asr'
    # Beside the espeak-ng-only recipe (conformer-ctc-commands) in one eval run, the robust one is better on
    # every held-out synthesiser source, worse on held-out espeak-ng voices (docs/speech.md).
    default_recipe = "conformer-ctc-robust"

    @classmethod
    def profile_settings(cls, profile) -> dict:
        """On a Jetson (memory shared by CPU and GPU): a batch that fits its memory, in fp16."""
        if profile.accelerator != "jetson":
            return {}
        memory = profile.memory_gb
        return {"batch_size": 8 if memory <= 8 else 16 if memory <= 16 else 32, "precision": "fp16"}

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
            type=click.Choice(["auto", "lm", "lexicon", "greedy"]),
            default="auto",
            show_default=True,
            help="CTC decoding. lexicon: a beam search that spells only the words of the model's training "
            "transcripts (runs of 'apps train asr' store them); lm: the same, weighed by a word bigram "
            "model of those transcripts; greedy: the best character of every frame; auto: the first of "
            "lm, lexicon, greedy that the model has.",
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
                    ["--stream"],
                    is_flag=True,
                    help="Feed the files through the microphone's path (100 ms blocks, voice-activity "
                    "detection, partial results), as if they were heard live.",
                ),
                click.Option(
                    ["--vad-threshold"],
                    type=float,
                    default=10.0,
                    show_default=True,
                    help="Margin in dB above the tracked background noise at which the microphone "
                    "(or --stream) hears speech.",
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
                    help="Manifest JSONL, LibriSpeech folder, corpus folder or hf:NAME. Default: every "
                    "held-out source (espeak-ng's held-out voices, flite clean, flite through sox reverb, "
                    "flite at 10 dB flite babble).",
                ),
                click.Option(
                    ["--limit"],
                    type=int,
                    default=None,
                    help="Evaluate the first N utterances of each source.",
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
        from plugins.asr_tts.asr_model import Transcriber, default_run

        self.transcriber = Transcriber.load(model or default_run(), device, dtype, decoder)
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
        vad_threshold=10.0,
        seconds=None,
        mic_device=None,
        decoder="auto",
        stream=False,
        **_,
    ):
        from plugins.asr_tts.audio import input_files, load_audio

        if not inputs and not mic:
            raise AppsError("nothing to transcribe", hint="apps run asr FILE|DIR ... or apps run asr --mic")
        files = input_files(inputs)
        if mic or stream:
            from plugins.asr_tts.stream import NoiseFloor

            NoiseFloor(vad_threshold)  # a bad margin fails before the model loads
        self.load(model, device, decoder=decoder)
        self.transcriber.max_chunk_s = chunk_seconds
        if mic or stream:
            from plugins.asr_tts.stream import file_blocks, listen

            sources = [(None, "microphone")] if mic else [(file_blocks(path), str(path)) for path in files]
            for blocks, name in sources:
                heard = False
                for result in listen(
                    self.transcriber,
                    vad_threshold,
                    seconds,
                    mic_device,
                    partial=lambda text: None if as_json else print(f"\r... {text}", end="", file=sys.stderr),
                    blocks=blocks,
                ):
                    heard = True
                    self._show(result, name, as_json)
                if not heard:  # the detector never opened: only background
                    self._show({"text": "", "speech": False}, name, as_json)
            return
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
        from plugins.asr_tts.training import training_parts

        return training_parts(recipe)

    def evaluate(
        self, model=None, device="auto", as_json=False, dataset=None, limit=None, decoder="auto", **_
    ) -> dict:
        from plugins.asr_tts.asr_model import default_run
        from plugins.asr_tts.evaluate import evaluate_asr

        metrics = evaluate_asr(model or default_run(), dataset, limit, device, decoder)
        if as_json:
            _echo(json.dumps(metrics))
            return metrics
        _echo(f"model {metrics['model']}, {metrics['decoder']} decoder")
        _echo(f"{'source':<30} {'utts':>5} {'WER':>7} {'CER':>7} {'greedy WER':>11} {'greedy CER':>11}")
        for name, row in metrics["sources"].items():
            if "skipped" in row:
                _echo(f"{name:<30} {row['skipped']}")
                continue
            rates = [row.get(k) for k in ("wer", "cer", "greedy_wer", "greedy_cer")]
            cells = " ".join(
                f"{'-' if r is None else f'{100 * r:.2f}%':>{w}}"
                for r, w in zip(rates, (7, 7, 11, 11), strict=True)
            )
            _echo(f"{name:<30} {row['utterances']:>5} {cells}")
        return metrics

    def prepare(self, force=False, pretrained=False, overrides=(), **_) -> None:
        from plugins.asr_tts.prepare import prepare_asr

        _echo(prepare_asr(self, force, pretrained, overrides))

    def demo(self) -> None:
        from plugins.asr_tts.demo import build_asr_tab

        build_asr_tab(self)

    def benchmark(self, device="auto", seconds=10.0, skip_large=False, **_) -> list[dict]:
        from plugins.asr_tts.bench import asr_benchmark_rows

        return asr_benchmark_rows(device, seconds, skip_large)


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
        from plugins.asr_tts.bench import tts_benchmark_rows

        return tts_benchmark_rows(device)

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
        from plugins.asr_tts.prepare import prepare_default

        _echo(prepare_default(self, force, overrides))

    def evaluate(self, model=None, asr_model=None, limit=40, device="auto", as_json=False, **_) -> dict:
        from plugins.asr_tts.asr_model import default_run
        from plugins.asr_tts.evaluate import evaluate_tts

        metrics = evaluate_tts(model, asr_model or default_run(), limit, device)
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
        from plugins.asr_tts.audio import input_files

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
        utterances = assistant.from_mic(seconds) if mic else assistant.from_files(input_files(inputs))
        for result in utterances:
            _echo(
                json.dumps(result, ensure_ascii=False)
                if as_json
                else f"you: {result['transcript'] or '(no speech detected)'}\nassistant: {result['reply']}"
            )
