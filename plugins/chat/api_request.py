"""The body of an OpenAI ``POST /v1/chat/completions``, checked field by field. Whatever a client sends
wrong is an ``ApiError`` (HTTP 400 with the OpenAI error body, naming the field); fields this server does
not know are ignored, as OpenAI-compatible servers do. No torch, no FastAPI here."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
MAX_STOPS = 4  # OpenAI's limit


class ApiError(Exception):
    """An error answered with OpenAI's body ``{"error": {"message", "type", "param", "code"}}``."""

    TYPES = {
        401: "authentication_error",
        404: "not_found_error",
        429: "rate_limit_error",
        500: "server_error",
    }

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict:
        kind = self.TYPES.get(self.status, "server_error" if self.status >= 500 else "invalid_request_error")
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


def bad(param: str, message: str, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param, code)


@dataclass
class ChatRequest:
    messages: list[dict]
    max_tokens: int | None = None  # None: the server's default
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    include_usage: bool = False


def _number(body: dict, name: str, default: float, low: float, high: float, low_open: bool = False) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(
            name, f"'{name}' must be a number, got {type(value).__name__} {value!r:.40}", "invalid_type"
        )
    if value != value or value < low or value > high or (low_open and value == low):
        side = "(" if low_open else "["
        raise bad(name, f"'{name}' is {value}; it must be in {side}{low}, {high}]")
    return float(value)


def _integer(body: dict, name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(
            name, f"'{name}' must be an integer, got {type(value).__name__} {value!r:.40}", "invalid_type"
        )
    if not low <= value <= high:
        raise bad(name, f"'{name}' is {value}; it must be between {low} and {high}")
    return value


def _flag(body: dict, name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad(name, f"'{name}' must be true or false, got {value!r:.40}", "invalid_type")
    return value


def _content(value, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # [{"type": "text", "text": ...}, ...]
        parts = []
        for i, part in enumerate(value):
            if (
                not isinstance(part, dict)
                or part.get("type", "text") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise bad(
                    f"{where}[{i}]", f"{where}[{i}] must be a text part {{'type': 'text', 'text': ...}}"
                )
            parts.append(part["text"])
        return "".join(parts)
    raise bad(where, f"{where} must be a string or a list of text parts", "invalid_type")


def messages_of(body: dict) -> list[dict]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("messages", "'messages' must be a non-empty list of {role, content} objects")
    out = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise bad(where, f"{where} must be an object with 'role' and 'content'", "invalid_type")
        role = message.get("role")
        if role not in ROLES:
            raise bad(
                f"{where}.role", f"{where}.role is {role!r:.40}; this model takes system, user or assistant"
            )
        out.append({"role": ROLES[role], "content": _content(message.get("content"), f"{where}.content")})
    if out[-1]["role"] != "user":
        raise bad("messages", "the last message must come from the user")
    return out


def parse_request(body) -> ChatRequest:
    """A ``ChatRequest`` from the decoded JSON body, or ``ApiError`` 400 naming the first bad field."""
    if not isinstance(body, dict):
        raise bad(None, "the request body must be a JSON object", "invalid_type")
    if body.get("model") is not None and not isinstance(body["model"], str):
        raise bad("model", "'model' must be a string", "invalid_type")
    n = _integer(body, "n", 1, 128)
    if n not in (None, 1):
        raise bad("n", f"'n' is {n}; this server returns one choice per request (n=1)", "unsupported_value")
    tokens = _integer(body, "max_completion_tokens", 1, 2**31)
    if tokens is None:
        tokens = _integer(body, "max_tokens", 1, 2**31)
    stop = body.get("stop")
    stop = [stop] if isinstance(stop, str) else stop
    if stop is not None and (
        not isinstance(stop, list) or len(stop) > MAX_STOPS or not all(isinstance(s, str) and s for s in stop)
    ):
        raise bad("stop", f"'stop' must be a non-empty string or a list of up to {MAX_STOPS} of them")
    stream = _flag(body, "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad("stream_options", "'stream_options' must be an object such as {\"include_usage\": true}")
    if options and not stream:
        raise bad("stream_options", "'stream_options' is only allowed when 'stream' is true")
    include_usage = _flag(options or {}, "include_usage")
    response_format = body.get("response_format")
    if response_format is not None:
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind != "text":
            raise bad(
                "response_format",
                f"response_format type {kind!r:.40} is not supported: this model writes plain text "
                '(use {"type": "text"} or leave it out)',
                "unsupported_value",
            )
    for name in ("presence_penalty", "frequency_penalty"):  # accepted and checked, not used
        _number(body, name, 0.0, -2.0, 2.0)
    if _flag(body, "logprobs"):
        raise bad("logprobs", "'logprobs' is not supported by this server", "unsupported_value")
    if body.get("tools") or body.get("functions"):
        raise bad("tools", "tool calls are not supported by this model", "unsupported_value")
    return ChatRequest(
        messages=messages_of(body),
        max_tokens=tokens,
        temperature=_number(body, "temperature", 0.7, 0.0, 2.0),
        top_p=_number(body, "top_p", 0.9, 0.0, 1.0, low_open=True),
        seed=_integer(body, "seed", -(2**63), 2**64 - 1),
        stop=stop or [],
        stream=stream,
        include_usage=include_usage,
    )
