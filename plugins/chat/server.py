"""'apps serve chat': an OpenAI-compatible API, so existing clients can talk to a fine-tuned model.

    GET  /v1/models
    POST /v1/chat/completions   {"messages": [...], "stream": true|false, "max_tokens", "temperature", "top_p"}

One model per server; requests are answered one at a time (a lock around generation).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid

from plugins.chat.model import Sampling, answer_result, generate


def build_api(app, max_new_tokens: int = 256):
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import StreamingResponse

    api = FastAPI(title="transformer-apps chat", version="1")
    model_id = app.chat.source
    lock = threading.Lock()

    def sampling_of(body: dict) -> Sampling:
        temperature = float(body.get("temperature", 0.7))
        return Sampling(
            max_new_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or max_new_tokens),
            temperature=temperature,
            top_p=float(body.get("top_p", 0.9)),
            do_sample=temperature > 0,
            repetition_penalty=1.1,
        )

    def messages_of(body: dict) -> list[dict]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise HTTPException(400, "'messages' must be a non-empty list")
        out = []
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list):  # [{"type": "text", "text": ...}]
                content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
            if not isinstance(content, str) or message.get("role") not in ("system", "user", "assistant"):
                raise HTTPException(400, "each message needs a role (system/user/assistant) and text content")
            out.append({"role": message["role"], "content": content})
        if out[-1]["role"] != "user":
            raise HTTPException(400, "the last message must come from the user")
        return out

    def chunk(cid: str, created: int, delta: dict, finish=None) -> str:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model_id,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    @api.get("/v1/models")
    def models():
        return {
            "object": "list",
            "data": [
                {
                    "id": model_id,
                    "object": "model",
                    "created": int(time.time()),
                    "owned_by": "transformer-apps",
                }
            ],
        }

    @api.post("/v1/chat/completions")
    def completions(body: dict):
        messages = messages_of(body)
        sampling = sampling_of(body)
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        prompt_tokens = len(
            app.chat.tokenizer(
                app.chat.template.render(messages, app.chat.tokenizer.eos_token or ""),
                add_special_tokens=False,
            )["input_ids"]
        )
        if not body.get("stream"):
            with lock:
                answer = generate(app.chat, messages, sampling, stream=False)
            app.emit(answer_result(messages, answer), source="http")
            return {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model_id,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer.text},
                        "finish_reason": "length" if answer.stopped_by == "length" else "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": answer.tokens,
                    "total_tokens": prompt_tokens + answer.tokens,
                },
            }

        pieces: queue.Queue = queue.Queue()
        done = object()

        def work():
            try:
                with lock:
                    answer = generate(app.chat, messages, sampling, on_text=pieces.put, stream=True)
                app.emit(answer_result(messages, answer), source="http")
                pieces.put(("end", answer))
            except Exception as exc:  # reported to the client as the last event
                pieces.put(("error", exc))
            finally:
                pieces.put(done)

        def events():
            threading.Thread(target=work, daemon=True).start()
            yield chunk(cid, created, {"role": "assistant", "content": ""})
            finish = "stop"
            while True:
                item = pieces.get()
                if item is done:
                    break
                if isinstance(item, tuple):
                    if item[0] == "error":
                        yield f"data: {json.dumps({'error': {'message': str(item[1])}})}\n\n"
                    elif item[1].stopped_by == "length":
                        finish = "length"
                    continue
                yield chunk(cid, created, {"content": item})
            yield chunk(cid, created, {}, finish)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return api


def serve(app, host: str = "127.0.0.1", port: int = 8000, max_new_tokens: int = 256) -> None:
    import uvicorn

    print(f"serving {app.chat.source} on http://{host}:{port}/v1 (OpenAI-compatible; Ctrl-C stops)")
    uvicorn.run(build_api(app, max_new_tokens), host=host, port=port, log_level="warning")
