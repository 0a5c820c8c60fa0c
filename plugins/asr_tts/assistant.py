"""The voice assistant: asr -> chat -> tts, each app found through the plugin manager (the chat plugin is
never imported here), so any plugin providing an app named ``chat`` can answer. Every recognised
utterance is emitted to ``on_result`` observers, e.g. a robot plugin that reacts to "turn left"."""

from __future__ import annotations

import time
from pathlib import Path

from core import AppsError


class Assistant:
    def __init__(
        self,
        app,
        asr_model=None,
        chat_model: str | None = "",
        engine="espeak",
        voice=None,
        device="auto",
        output_dir: Path = Path("assistant"),
        play: bool = False,
    ):
        from core import get_manager

        manager = get_manager()
        self.app, self.play, self.output_dir = app, play, Path(output_dir)
        self.asr = manager.app("asr").load(asr_model, device)
        self.tts = manager.app("tts").load(None, device, engine=engine, voice=voice)
        self.chat = None
        if chat_model is not None:
            if "chat" not in manager.apps():
                raise AppsError(
                    "the assistant needs an app named 'chat', and none is installed",
                    hint="enable the chat plugin, or use --no-chat to echo transcripts",
                )
            self.chat = manager.app("chat")
            self.chat.load(chat_model or None, device)
        self.turn = 0

    def reply_to(self, transcript: str) -> tuple[str, dict]:
        if self.chat is None:
            return f"you said: {transcript}", {}
        answer = self.chat.predict([[{"role": "user", "content": transcript}]])[0]
        return str(answer.get("answer", "")).strip(), answer

    def handle(self, transcription: dict, source: str) -> dict:
        from plugins.asr_tts.audio import save_wav

        began = time.perf_counter()
        transcript = transcription.get("text", "")
        result = {
            "source": source,
            "transcript": transcript,
            "speech": bool(transcription.get("speech")),
            "asr_seconds": transcription.get("seconds"),
        }
        if not result["speech"] or not transcript:
            result.update(reply="", message="no speech detected")
            self.app.emit(result, source=source)
            return result
        reply, details = self.reply_to(transcript)
        result["reply"] = reply
        result["chat_seconds"] = details.get("seconds")
        if reply:
            spoken = self.tts.predict([reply])[0]
            self.turn += 1
            path = save_wav(
                self.output_dir / f"answer-{self.turn:03d}.wav", spoken["audio"], spoken["sample_rate"]
            )
            result.update(audio=str(path), tts_seconds=spoken["seconds"])
            if self.play:
                from plugins.asr_tts.tts import play

                play(spoken["audio"], spoken["sample_rate"])
        result["seconds"] = round(time.perf_counter() - began + (transcription.get("seconds") or 0), 4)
        self.app.emit(result, source=source)
        return result

    def from_files(self, files):
        from plugins.asr_tts.audio import load_audio

        for path in files:
            transcription = self.asr.transcriber.transcribe([load_audio(path)])[0]
            self.asr.emit({"file": str(path), **transcription}, source=str(path))
            yield self.handle(transcription, str(path))

    def from_mic(self, seconds=None):
        from plugins.asr_tts.stream import listen

        for transcription in listen(self.asr.transcriber, seconds=seconds):
            self.asr.emit(transcription, source="microphone")
            yield self.handle(transcription, "microphone")
