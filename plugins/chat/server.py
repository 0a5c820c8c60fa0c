"""'apps serve chat': an OpenAI-compatible API, so existing clients (the official ``openai`` package,
LangChain, curl) can talk to a fine-tuned model.

    GET  /v1/models
    POST /v1/chat/completions   messages, stream, max_tokens | max_completion_tokens, temperature, top_p,
                                stop, seed, n (1), stream_options.include_usage, response_format (text)

One model per server; one answer is generated at a time, the others wait in a bounded queue (429 when it
is full). Every error is OpenAI's body ``{"error": {"message", "type", "param", "code"}}``: bad fields
400, a prompt longer than the model's context 400 with both numbers (counted before anything waits),
a missing key 401, unknown paths 404. A client that goes away stops its generation; SIGTERM or Ctrl-C
stops every generation and the process exits within 2 seconds.
"""

import asyncio
import json
import os
import queue
import secrets
import sys
import threading
import time
import uuid

from plugins.chat.api_request import ApiError, ChatRequest, parse_request
from plugins.chat.model import Sampling, answer_result, generate

API_KEY_ENV = "APPS_CHAT_API_KEY"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_BODY = 8 * 2**20  # bytes: a request larger than this is refused before it is parsed
EXIT_WITHIN_S = 1.5  # after SIGTERM/Ctrl-C, the process is ended if it has not exited by itself


class Job:
    """One request's generation, run in its own thread; ``pieces`` carries its text to the response."""

    def __init__(self, request: ChatRequest, sampling: Sampling):
        self.request, self.sampling = request, sampling
        self.pieces: queue.Queue = queue.Queue()
        self.cancel = threading.Event()
        self.done = threading.Event()
        self.answer = None
        self.error: BaseException | None = None


class Generator:
    """Runs jobs one at a time; at most ``max_waiting`` wait behind the one generating."""

    def __init__(self, app, max_waiting: int, stopping: threading.Event):
        self.app, self.max_waiting, self.stopping = app, max_waiting, stopping
        self.lock = threading.Lock()
        self.count_lock = threading.Lock()
        self.pending = 0  # waiting + generating

    def submit(self, job: Job) -> None:
        with self.count_lock:
            if self.pending > self.max_waiting:
                raise ApiError(
                    429,
                    f"the server is busy: {self.pending - 1} requests already wait for the one generating; "
                    "retry in a moment",
                    code="rate_limit_exceeded",
                )
            self.pending += 1
        threading.Thread(target=self._run, args=(job,), daemon=True).start()

    def _run(self, job: Job) -> None:
        try:
            while not self.lock.acquire(timeout=0.1):  # waiting: give up when the client or server leaves
                if job.cancel.is_set() or self.stopping.is_set():
                    return
            try:
                if not (job.cancel.is_set() or self.stopping.is_set()):
                    job.answer = generate(
                        self.app.chat,
                        job.request.messages,
                        job.sampling,
                        on_text=job.pieces.put if job.request.stream else None,
                        stream=job.request.stream,
                        stops=job.request.stop,
                        cancel=_either(job.cancel, self.stopping),
                    )
            finally:
                self.lock.release()
            if job.answer is not None:
                self.app.emit(answer_result(job.request.messages, job.answer), source="http")
        except Exception as exc:  # reported to the client
            job.error = exc
        finally:
            with self.count_lock:
                self.pending -= 1
            job.done.set()
            job.pieces.put(None)


class _either:
    """``is_set()`` of two events: a job stops for its client or for the server."""

    def __init__(self, first: threading.Event, second: threading.Event):
        self.first, self.second = first, second

    def is_set(self) -> bool:
        return self.first.is_set() or self.second.is_set()


def build_api(
    app, max_new_tokens: int = 256, api_key: str | None = None, max_waiting: int = 8, stopping=None
):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.exceptions import HTTPException

    stopping = stopping or threading.Event()
    api = FastAPI(title="transformer-apps chat", version="1", docs_url=None, redoc_url=None)
    model_id = app.chat.source
    generator = Generator(app, max_waiting, stopping)
    counter = _TokenCounter(app.chat)

    def error_response(error: ApiError):
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return JSONResponse(error.body(), status_code=error.status, headers=headers)

    @api.exception_handler(ApiError)
    async def on_api_error(request, exc: ApiError):
        return error_response(exc)

    @api.exception_handler(HTTPException)
    async def on_http_error(request, exc):
        text = {404: f"no such endpoint: {request.method} {request.url.path}", 405: "method not allowed"}
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return error_response(
            ApiError(exc.status_code, text.get(exc.status_code, str(exc.detail)), code=code)
        )

    @api.exception_handler(RequestValidationError)
    async def on_validation_error(request, exc):
        first = (exc.errors() or [{}])[0]
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return error_response(ApiError(400, first.get("msg", "invalid request"), param, "invalid_value"))

    @api.exception_handler(Exception)
    async def on_crash(request, exc):
        print(f"chat server: {type(exc).__name__}: {exc}", file=sys.stderr)
        return error_response(ApiError(500, f"internal error: {type(exc).__name__}", code="internal_error"))

    def check_key(request) -> None:
        if not api_key:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), api_key.encode()):
            raise ApiError(
                401,
                "missing or wrong API key: send the header 'Authorization: Bearer KEY' "
                "(the key given to 'apps serve chat --api-key')",
                code="invalid_api_key",
            )

    @api.get("/v1/models")
    def models(request: Request):
        check_key(request)
        item = {
            "id": model_id,
            "object": "model",
            "created": int(time.time()),
            "owned_by": "transformer-apps",
        }
        return {"object": "list", "data": [item]}

    @api.post("/v1/chat/completions")
    async def completions(request: Request):
        check_key(request)
        chat = parse_request(await _json_body(request))
        prompt_tokens = counter.count(chat.messages)
        left = counter.context - prompt_tokens if counter.context else None
        if left is not None and left < 1:
            raise ApiError(
                400,
                f"this model's maximum context length is {counter.context} tokens, but the messages take "
                f"{counter.shown(prompt_tokens)} tokens: shorten them",
                "messages",
                "context_length_exceeded",
            )
        wanted = chat.max_tokens or max_new_tokens
        sampling = Sampling(
            max_new_tokens=min(wanted, left) if left is not None else wanted,
            temperature=chat.temperature,
            top_p=chat.top_p,
            do_sample=chat.temperature > 0,
            repetition_penalty=1.1,
            seed=chat.seed,
        )
        job = Job(chat, sampling)
        generator.submit(job)
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        reply = _Reply(cid, created, model_id, prompt_tokens)
        if chat.stream:
            return StreamingResponse(_events(job, reply), media_type="text/event-stream")
        try:
            while not job.done.is_set():
                if await request.is_disconnected():
                    job.cancel.set()
                    return JSONResponse({}, status_code=499)
                await asyncio.sleep(0.02)
        finally:
            if not job.done.is_set():
                job.cancel.set()
        if job.error is not None:
            raise job.error
        if job.answer is None:  # stopped before it began: the server is shutting down
            raise ApiError(503, "the server is shutting down", code="server_shutting_down")
        return reply.complete(job.answer)

    return api


class _TokenCounter:
    """Counts prompt tokens before a request waits, with its own tokenizer copy (generation uses the other
    one in another thread). A text too long to fit even at the longest token's length is refused without
    tokenizing it."""

    def __init__(self, chat):
        import copy

        self.chat, self.tokenizer = chat, copy.deepcopy(chat.tokenizer)
        self.context = chat.context
        self.longest = max((len(t) for t in self.tokenizer.get_vocab()), default=1) or 1
        self.lower_bound = False

    def count(self, messages: list[dict]) -> int:
        text = self.chat.template.render(messages, self.tokenizer.eos_token or "")
        self.lower_bound = bool(self.context) and len(text) > self.context * self.longest
        if self.lower_bound:
            return -(-len(text) // self.longest)
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def shown(self, tokens: int) -> str:
        return f"at least {tokens}" if self.lower_bound else str(tokens)


async def _json_body(request):
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > MAX_BODY:
            raise ApiError(
                413, f"the request body is larger than {MAX_BODY // 2**20} MiB", code="body_too_large"
            )
    try:
        return json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}", code="invalid_json") from None


class _Reply:
    """The OpenAI response objects of one request."""

    def __init__(self, cid: str, created: int, model: str, prompt_tokens: int):
        self.cid, self.created, self.model, self.prompt_tokens = cid, created, model, prompt_tokens

    def usage(self, answer) -> dict:
        tokens = answer.tokens if answer else 0
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": tokens,
            "total_tokens": self.prompt_tokens + tokens,
        }

    @staticmethod
    def finish(answer) -> str:
        return "length" if answer is not None and answer.stopped_by == "length" else "stop"

    def complete(self, answer) -> dict:
        message = {"role": "assistant", "content": answer.text}
        return {
            "id": self.cid,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish(answer)}],
            "usage": self.usage(answer),
        }

    def chunk(self, choices: list, **extra) -> str:
        body = {
            "id": self.cid,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }
        return f"data: {json.dumps({**body, 'choices': choices, **extra}, ensure_ascii=False)}\n\n"

    def delta(self, delta: dict, finish=None) -> str:
        return self.chunk([{"index": 0, "delta": delta, "finish_reason": finish}])


async def _events(job: Job, reply: _Reply):
    """Server-sent events of a streamed answer; a client that disconnects cancels this generator, which
    stops the generation."""
    try:
        yield reply.delta({"role": "assistant", "content": ""})
        while True:
            try:
                piece = job.pieces.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.01)
                continue
            if piece is None:
                break
            yield reply.delta({"content": piece})
        if job.error is not None:
            error = ApiError(500, f"generation failed: {type(job.error).__name__}", code="internal_error")
            yield f"data: {json.dumps(error.body())}\n\n"
        else:
            yield reply.delta({}, reply.finish(job.answer))
            if job.request.include_usage:
                yield reply.chunk([], usage=reply.usage(job.answer))
        yield "data: [DONE]\n\n"
    finally:
        job.cancel.set()  # a no-op when the answer is complete


def serve(
    app,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_new_tokens: int = 256,
    api_key: str | None = None,
    max_waiting: int = 8,
) -> None:
    import uvicorn

    api_key = api_key or os.environ.get(API_KEY_ENV) or None
    if host not in LOCAL_HOSTS and not api_key:
        print(
            f"warning: serving on {host} without --api-key: anyone on the network can use this model "
            f"(pass --api-key KEY or set {API_KEY_ENV}).",
            file=sys.stderr,
        )
    stopping = threading.Event()
    api = build_api(app, max_new_tokens, api_key, max_waiting, stopping)
    config = uvicorn.Config(api, host=host, port=port, log_level="warning", timeout_graceful_shutdown=1)
    server = _server_class()(config, stopping)
    print(
        f"serving {app.chat.source} on http://{host}:{port}/v1 (OpenAI-compatible"
        f"{', key required' if api_key else ''}; Ctrl-C stops)",
        flush=True,
    )
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn raises the Ctrl-C it caught again once it has stopped
        pass
    if stopping.is_set():  # stopped by a signal: exit now, not after the libraries' threads wind down (~5 s)
        sys.stdout.flush()
        os._exit(130)


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, but a signal also stops every generation, and the process ends within
        ``EXIT_WITHIN_S`` seconds even if something still holds it (a long prefill)."""

        def __init__(self, config, stopping: threading.Event):
            super().__init__(config)
            self.stopping = stopping

        def handle_exit(self, sig, frame):
            self.stopping.set()
            if not self.should_exit:
                threading.Thread(target=_exit_later, args=(128 + int(sig),), daemon=True).start()
            super().handle_exit(sig, frame)

    return Server


def _exit_later(code: int) -> None:
    time.sleep(EXIT_WITHIN_S)
    sys.stdout.flush()
    os._exit(code)
