"""The terminal chat behind 'apps run chat': streamed answers, multi-turn history, /reset and /exit."""

from __future__ import annotations

import sys

from plugins.chat.model import answer_result, generate

HELP = "commands: /reset forgets the conversation, /exit quits (Ctrl-D too)"


def terminal_chat(
    app,
    sampling,
    system: str | None = None,
    prompt: str | None = None,
    stream: bool = True,
    read=input,
    write=None,
) -> list[dict]:
    """Chat with ``app.chat``; returns the final history. ``prompt`` answers once and returns."""
    write = write or (lambda text: (sys.stdout.write(text), sys.stdout.flush()))
    start = [{"role": "system", "content": system}] if system else []
    history = list(start)

    def answer(question: str) -> None:
        history.append({"role": "user", "content": question})
        result = generate(app.chat, history, sampling, on_text=write if stream else None, stream=stream)
        write(("" if stream else result.text) + "\n")
        history.append({"role": "assistant", "content": result.text})
        app.emit(answer_result(history[:-1], result), source="terminal")

    if prompt is not None:
        answer(prompt)
        return history
    print(f"chat with {app.chat.source} (template '{app.chat.template.name}'). {HELP}", file=sys.stderr)
    while True:
        try:
            line = read("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            write("\n")
            break
        if not line:
            continue
        if line in ("/exit", "/quit"):
            break
        if line == "/reset":
            history[:] = list(start)
            print("(conversation forgotten)", file=sys.stderr)
            continue
        if line.startswith("/"):
            print(HELP, file=sys.stderr)
            continue
        write("bot> ")
        asked = len(history)
        try:
            answer(line)
        except KeyboardInterrupt:  # Ctrl-C stops this answer, not the chat
            del history[asked:]  # the unanswered question
            print("\n(answer stopped; Ctrl-C at the prompt or /exit leaves)", file=sys.stderr)
    return history
