"""The asr and tts tabs of 'apps demo': record or upload speech -> transcript; text -> playable audio."""

from __future__ import annotations


def transcribe(app, audio) -> str:
    """``audio`` from gr.Audio(type="numpy"): (rate, samples int16/float, mono or stereo)."""
    import numpy as np

    from core import AppsError
    from plugins.asr_tts.audio import downmix, resample

    if audio is None:
        raise AppsError("record or upload some speech first")
    rate, samples = audio
    samples = np.asarray(samples)
    if samples.dtype.kind == "i":
        samples = samples.astype(np.float32) / np.iinfo(samples.dtype).max
    wave = resample(downmix(samples.astype(np.float32)), int(rate))
    result = app.predict([wave])[0]
    app.emit({"text": result["text"], "rtf": result.get("rtf")}, source="demo")
    return result["text"] if result.get("speech", True) else "(no speech detected)"


def build_asr_tab(app) -> None:
    import gradio as gr

    from core import friendly

    audio = gr.Audio(sources=["microphone", "upload"], type="numpy", label="speech", elem_id="asr-audio")
    button = gr.Button("Transcribe", variant="primary", elem_id="asr-run")
    text = gr.Textbox(label="transcript", elem_id="asr-text")
    handler = friendly(
        app.name, lambda a: transcribe(app, a), reset=lambda: app.__dict__.pop("transcriber", None)
    )
    button.click(handler, audio, text, api_name="transcribe")


def build_tts_tab(app) -> None:
    import gradio as gr

    from core import friendly

    def say(text):
        result = app.predict([text])[0]
        return result["sample_rate"], result["audio"]

    text = gr.Textbox(
        label="text (English or Chinese)", value="turn left and move forward three", elem_id="tts-text"
    )
    button = gr.Button("Speak", variant="primary", elem_id="tts-run")
    audio = gr.Audio(label="speech", type="numpy", elem_id="tts-audio")
    button.click(friendly(app.name, say), text, audio, api_name="speak")
