"""The chat tab of 'apps demo': a streaming chatbot with a model/adapter picker."""

from __future__ import annotations

import queue
import threading

from core import friendly, is_run_dir, load_run, runs_dir
from plugins.chat.model import Sampling, generate


def model_choices() -> list[str]:
    """The offline default, then every chat run directory under ./runs (newest first)."""
    choices = ["default"]
    runs = runs_dir()
    if runs.is_dir():
        found = [p for p in runs.iterdir() if is_run_dir(p) and load_run(p).get("app") == "chat"]
        choices += [str(p) for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]
    return choices


def stream_answer(chat, messages: list[dict], sampling):
    """Yield the answer text as it grows, from generate() running in a worker thread."""
    pieces: queue.Queue = queue.Queue()
    done = object()
    outcome: dict = {}

    def work():
        try:
            outcome["answer"] = generate(chat, messages, sampling, on_text=pieces.put, stream=True)
        except BaseException as exc:  # re-raised in the page's thread
            outcome["error"] = exc
        finally:
            pieces.put(done)

    threading.Thread(target=work, daemon=True).start()
    text = ""
    while (piece := pieces.get()) is not done:
        text += piece
        yield text
    if "error" in outcome:
        raise outcome["error"]
    yield outcome["answer"].text


def build_tab(app) -> None:
    import gradio as gr

    loaded: dict = {}

    def chat_for(choice: str):
        key = choice or "default"
        if loaded.get("key") != key:
            loaded.clear()
            app.load(None if key == "default" else key)
            loaded.update(key=key, chat=app.chat)
        return loaded["chat"]

    def respond(message, history, choice, system, max_new_tokens):
        if not message or not message.strip():
            raise gr.Error("Type a message first.")
        chat = chat_for(choice)
        messages = (
            ([{"role": "system", "content": system}] if system else [])
            + [{"role": m["role"], "content": m["content"]} for m in history]
            + [{"role": "user", "content": message}]
        )
        sampling = Sampling(max_new_tokens=int(max_new_tokens), do_sample=False, repetition_penalty=1.2)
        history = history + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        text = ""
        for text in stream_answer(chat, messages, sampling):
            history[-1]["content"] = text
            yield history, ""
        app.emit({"prompt": message, "answer": text}, source="demo")

    with gr.Row():
        model = gr.Dropdown(
            model_choices(),
            value="default",
            label="model or adapter run",
            allow_custom_value=True,
            elem_id="chat-model",
        )
        max_new_tokens = gr.Slider(16, 512, value=128, step=16, label="max new tokens")
    system = gr.Textbox(label="system prompt", placeholder="optional")
    chatbot = gr.Chatbot(label="chat", height=380, elem_id="chat-history")
    message = gr.Textbox(label="message", placeholder="你好！", elem_id="chat-input")
    with gr.Row():
        send = gr.Button("Send", variant="primary", elem_id="chat-send")
        clear = gr.Button("Reset")
    handler = friendly(app.name, respond, reset=loaded.clear)
    send.click(
        handler, [message, chatbot, model, system, max_new_tokens], [chatbot, message], api_name="chat"
    )
    message.submit(handler, [message, chatbot, model, system, max_new_tokens], [chatbot, message])
    clear.click(lambda: ([], ""), None, [chatbot, message])
