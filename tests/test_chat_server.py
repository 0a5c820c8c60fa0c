"""'apps serve chat' as a real process, driven by the official ``openai`` client and by raw HTTP: every
malformed request is a 400 with OpenAI's error body (never a 500), an oversized prompt is refused in under a
second, keys, the bounded queue, a client that disconnects, and SIGTERM during a generation."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import apps_command

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
openai = pytest.importorskip("openai")

KEY = "test-key-123"
CONTEXT = 8192
LONG = 8000  # tokens: a generation that takes many seconds on this model unless it is stopped


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A one-layer Phi with a long context that never ends an answer by itself (eos made unlikely), so a
    long generation stays busy until it is stopped."""
    from plugins.chat.model import build_tiny_phi, train_byte_bpe

    tokenizer = train_byte_bpe(
        "hello world, the quick brown fox jumps over the lazy dog. 你好世界 " * 50, 300
    )
    model = build_tiny_phi(
        tokenizer,
        {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": CONTEXT,
        },
    )
    model.lm_head.bias.data[tokenizer.eos_token_id] = -50.0
    folder = tmp_path_factory.mktemp("serve") / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _start(model_dir: Path, *extra: str, env: dict | None = None):
    port = _free_port()
    process = subprocess.Popen(
        [*apps_command(), "serve", "chat", "--model", str(model_dir), "--port", str(port), *extra],
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {process.stderr.read()}")
        try:
            httpx.get(f"{url}/v1/models", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the server did not start within 90 s")


@pytest.fixture(scope="module")
def server(model_dir):
    process, url = _start(model_dir, "--max-waiting", "1", env={"APPS_CHAT_API_KEY": KEY})
    yield url, process
    if process.poll() is None:
        process.kill()
        process.wait()


def _headers() -> dict:
    return {"Authorization": f"Bearer {KEY}"}


def _client(url: str):
    return openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0, timeout=30)


def _ask(**extra) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8, **extra}


def test_openai_client_completion_stream_usage_stop_seed(server):
    url, _ = server
    client = _client(url)
    assert client.models.list().data[0].object == "model"
    reply = client.chat.completions.create(
        **_ask(max_tokens=6, response_format={"type": "text"}), extra_body={"an_unknown_field": [1, 2]}
    )
    assert reply.choices[0].finish_reason == "length" and reply.usage.completion_tokens <= 6
    assert reply.usage.prompt_tokens > 0
    chunks = list(
        client.chat.completions.create(**_ask(), stream=True, stream_options={"include_usage": True})
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 8
    same = [
        client.chat.completions.create(**_ask(temperature=1.0, seed=5)).choices[0].message.content
        for _ in range(2)
    ]
    assert same[0] == same[1] and "\ufffd" not in same[0]
    first_char = same[0][:1] or "x"
    stopped = client.chat.completions.create(**_ask(temperature=1.0, seed=5, stop=[first_char]))
    assert stopped.choices[0].message.content == "" and stopped.choices[0].finish_reason == "stop"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**_ask(n=2))
    assert info.value.body["param"] == "n"


BAD_BODIES = [
    ("temperature", {"temperature": "hot"}),
    ("max_tokens", {"max_tokens": -5}),
    ("max_tokens", {"max_tokens": 1.5}),
    ("temperature", {"temperature": 3}),
    ("temperature", {"temperature": True}),
    ("top_p", {"top_p": 0}),
    ("n", {"n": 3}),
    ("n", {"n": "one"}),
    ("seed", {"seed": "abc"}),
    ("stop", {"stop": ["a", "b", "c", "d", "e"]}),
    ("stop", {"stop": 5}),
    ("stream", {"stream": "yes"}),
    ("stream_options", {"stream_options": {"include_usage": True}}),
    ("response_format", {"response_format": {"type": "json_object"}}),
    ("messages", {"messages": []}),
    ("messages", {"messages": "hello"}),
    ("messages[0].role", {"messages": [{"role": "robot", "content": "x"}]}),
    ("messages[0].content", {"messages": [{"role": "user", "content": 7}]}),
    ("messages", {"messages": [{"role": "assistant", "content": "x"}]}),
    ("messages[0]", {"messages": ["hello"]}),
    ("model", {"model": 5}),
    ("presence_penalty", {"presence_penalty": 9}),
]


def _check_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return error


def test_every_malformed_request_is_a_400_with_the_openai_error_body(server):
    url, process = server
    with httpx.Client(base_url=url, headers=_headers(), timeout=10) as http:
        for param, change in BAD_BODIES:
            error = _check_error(http.post("/v1/chat/completions", json=_ask(**change)), 400)
            assert error["param"] == param, (change, error)
        for raw in (b"{not json", b"[1, 2]", b"\xff\xfe", b""):
            _check_error(http.post("/v1/chat/completions", content=raw), 400)
        _check_error(http.get("/v1/nothing"), 404)
        _check_error(http.get("/v1/chat/completions"), 405)
        started = time.perf_counter()
        huge = http.post(
            "/v1/chat/completions", json=_ask(messages=[{"role": "user", "content": "x" * 200_000}])
        )
        assert time.perf_counter() - started < 1.0
        error = _check_error(huge, 400)
        assert error["code"] == "context_length_exceeded" and str(CONTEXT) in error["message"]
        counted = http.post(
            "/v1/chat/completions", json=_ask(messages=[{"role": "user", "content": "汉" * 4000}])
        )
        message = _check_error(counted, 400)["message"]  # 12,000 byte tokens: counted exactly
        assert str(CONTEXT) in message and "12" in message
        after = http.post("/v1/chat/completions", json=_ask())
        assert after.status_code == 200 and after.json()["choices"][0]["message"]["role"] == "assistant"
    assert process.poll() is None


def test_the_key_is_required(server):
    url, _ = server
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        error = _check_error(httpx.post(f"{url}/v1/chat/completions", json=_ask(), headers=headers), 401)
        assert error["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()


def _open_stream(url: str, stack: list):
    """A long streamed answer, read up to its first piece of text and left open."""
    client = httpx.Client(base_url=url, headers=_headers(), timeout=30)
    response = client.send(
        client.build_request(
            "POST", "/v1/chat/completions", json=_ask(max_tokens=LONG, stream=True, temperature=1.0)
        ),
        stream=True,
    )
    lines = response.iter_lines()
    stack.append((client, response, lines))  # an iterator collected as garbage closes the response
    for _ in range(2):
        assert next(lines).startswith("data: ")
        next(lines)
    return response


def test_a_full_queue_answers_429_and_a_disconnected_client_frees_the_model(server):
    url, _ = server
    stack: list = []
    try:
        _open_stream(url, stack)  # generating
        waiting = threading.Thread(
            target=lambda: httpx.post(
                f"{url}/v1/chat/completions", json=_ask(), headers=_headers(), timeout=60
            )
        )
        waiting.start()
        time.sleep(0.5)
        error = _check_error(httpx.post(f"{url}/v1/chat/completions", json=_ask(), headers=_headers()), 429)
        assert error["type"] == "rate_limit_error"
    finally:
        for client, response, _ in stack:
            response.close()
            client.close()
    started = time.perf_counter()
    waiting.join(timeout=20)
    assert not waiting.is_alive()
    reply = httpx.post(f"{url}/v1/chat/completions", json=_ask(), headers=_headers(), timeout=10)
    assert reply.status_code == 200
    assert time.perf_counter() - started < 5, "the disconnected stream kept generating"


def test_a_public_host_without_a_key_warns(monkeypatch, capsys):
    from plugins.chat import server as chat_server

    configs = []

    class FakeServer:
        def __init__(self, config, stopping):
            configs.append(config)

        def run(self):
            pass

    class FakeApp:
        chat = type("Chat", (), {"source": "m"})

    monkeypatch.delenv(chat_server.API_KEY_ENV, raising=False)
    monkeypatch.setattr(chat_server, "_server_class", lambda: FakeServer)
    monkeypatch.setattr(chat_server, "build_api", lambda *args, **kwargs: None)
    for host, key, warned in (("0.0.0.0", None, True), ("0.0.0.0", "k", False), ("127.0.0.1", None, False)):
        chat_server.serve(FakeApp(), host=host, api_key=key)
        assert ("warning" in capsys.readouterr().err) == warned, (host, key)
    monkeypatch.setenv(chat_server.API_KEY_ENV, "from-env")
    chat_server.serve(FakeApp(), host="0.0.0.0")
    assert "warning" not in capsys.readouterr().err
    assert configs[0].timeout_graceful_shutdown == 1


def test_sigterm_during_a_generation_exits_within_two_seconds(server):
    """Last: it ends the module's server."""
    url, process = server
    stack: list = []
    try:
        _open_stream(url, stack)
        started = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        assert time.perf_counter() - started < 2.0
    finally:
        for client, response, _ in stack:
            response.close()
            client.close()
