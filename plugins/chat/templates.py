"""Chat templates: how a conversation becomes the text a causal LM was trained on, and where answers stop.

A template is stored with every run directory (``chat_template.json``) and read back at inference, so an
adapter is never served with a template it was not trained with. The ``model`` template uses the
tokenizer's own Jinja ``chat_template``. No torch here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core import AppsError

TEMPLATE_FILE = "chat_template.json"
EOS = "{eos}"  # replaced by the tokenizer's eos token when rendered


@dataclass(frozen=True)
class ChatTemplate:
    """Formats with ``{content}``; ``user`` ends with the assistant's prefix, so rendering a conversation
    that ends with a user turn is the generation prompt."""

    name: str
    user: str
    assistant: str  # "{content}" plus what ends a turn (eos, separators)
    system: str = "{content}\n"
    default_system: str = ""
    stop_strings: tuple[str, ...] = field(default_factory=tuple)  # next-turn markers

    def render(self, messages: list[dict], eos: str = "", add_generation_prompt: bool = True) -> str:
        """The whole conversation as one string (prompt for generation when it ends with a user turn)."""
        return "".join(text for text, _ in self.segments(messages, eos))

    def segments(self, messages: list[dict], eos: str = "") -> list[tuple[str, bool]]:
        """``[(text, is_answer), ...]``: training masks every segment but the assistant's."""
        messages = list(messages)
        out: list[tuple[str, bool]] = []
        system = self.default_system
        if messages and messages[0]["role"] == "system":
            system = messages.pop(0)["content"]
        if system:
            out.append((self.system.replace("{content}", system), False))
        for message in messages:
            role, content = message["role"], message["content"]
            if role == "user":
                out.append((self.user.replace("{content}", content), False))
            elif role == "assistant":
                out.append((self.assistant.replace("{content}", content).replace(EOS, eos), True))
            else:
                raise AppsError(f"unknown chat role '{role}'", hint="use system, user or assistant")
        return out

    def stops(self, eos: str = "") -> list[str]:
        """Strings that end an answer: the next-turn markers (eos is stopped on by token id)."""
        return [s for s in self.stop_strings if s]

    def jinja(self) -> str:
        """The same template as a Jinja ``chat_template``, so plain ``transformers`` renders it too."""

        def literal(text: str) -> str:
            return json.dumps(text, ensure_ascii=False)

        sys_pre, sys_post = self.system.split("{content}")
        user_pre, user_post = self.user.split("{content}")
        asst_pre, asst_post = self.assistant.split("{content}")
        asst_end = " + eos_token + ".join(literal(part) for part in asst_post.split(EOS))
        first = f"{{% set system = {literal(self.default_system)} %}}"
        return (
            first
            + "{% if messages and messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}{% endif %}"
            + f"{{% if system %}}{{{{ {literal(sys_pre)} + system + {literal(sys_post)} }}}}{{% endif %}}"
            + "{% for m in messages %}{% if m['role'] == 'user' %}"
            + f"{{{{ {literal(user_pre)} + m['content'] + {literal(user_post)} }}}}"
            + "{% elif m['role'] == 'assistant' %}"
            + f"{{{{ {literal(asst_pre)} + m['content'] + {asst_end} }}}}"
            + "{% endif %}{% endfor %}"
        )

    def to_dict(self) -> dict:
        data = asdict(self)
        data["stop_strings"] = list(self.stop_strings)
        return data


ALPACA_SYSTEM = "Below is an instruction that describes a task. Write a response that appropriately completes the request."

TEMPLATES: dict[str, ChatTemplate] = {
    # LLaMA-Factory's `default`: what the baseline Phi-1.5 run used.
    "default": ChatTemplate(
        name="default",
        system="System: {content}\n",
        user="Human: {content}\nAssistant:",
        assistant="{content}" + EOS + "\n",
        stop_strings=("\nHuman:", "Human:"),
    ),
    "alpaca": ChatTemplate(
        name="alpaca",
        system="{content}\n\n",
        default_system=ALPACA_SYSTEM,
        user="### Instruction:\n{content}\n\n### Response:\n",
        assistant="{content}" + EOS + "\n\n",
        stop_strings=("### Instruction:", "### Response:"),
    ),
    "chatml": ChatTemplate(
        name="chatml",
        system="<|im_start|>system\n{content}<|im_end|>\n",
        user="<|im_start|>user\n{content}<|im_end|>\n<|im_start|>assistant\n",
        assistant="{content}<|im_end|>\n",
        stop_strings=("<|im_end|>", "<|im_start|>"),
    ),
}
MODEL_TEMPLATE = "model"  # the tokenizer's own chat_template


def known_templates() -> list[str]:
    return [*TEMPLATES, MODEL_TEMPLATE]


def get_template(name: str, tokenizer=None):
    """A template by name. ``model`` returns a :class:`ModelTemplate` around the tokenizer's own."""
    if name == MODEL_TEMPLATE:
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise AppsError(
                "the template 'model' was asked for, but this tokenizer has no chat_template",
                hint=f"choose one of: {', '.join(TEMPLATES)}",
            )
        return ModelTemplate(tokenizer)
    if name not in TEMPLATES:
        raise AppsError(
            f"unknown chat template '{name}'", hint=f"known templates: {', '.join(known_templates())}"
        )
    return TEMPLATES[name]


class ModelTemplate:
    """The tokenizer's Jinja template, wrapped with the same interface as :class:`ChatTemplate`."""

    name = MODEL_TEMPLATE
    stop_strings: tuple[str, ...] = ()

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.source = tokenizer.chat_template

    def render(self, messages, eos: str = "", add_generation_prompt: bool = True) -> str:
        add = add_generation_prompt and messages and messages[-1]["role"] == "user"
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=bool(add))

    def segments(self, messages, eos: str = "") -> list[tuple[str, bool]]:
        # Render growing prefixes; what an assistant turn adds is the answer, the rest is prompt.
        out, done = [], ""
        for i, message in enumerate(messages):
            prefix = messages[: i + 1]
            if message["role"] == "assistant":
                text = self.tokenizer.apply_chat_template(prefix, tokenize=False)
            else:
                text = self.render(prefix, add_generation_prompt=True)
            if not text.startswith(done):
                raise AppsError("the model's chat_template does not render conversations incrementally")
            out.append((text[len(done) :], message["role"] == "assistant"))
            done = text
        return out

    def stops(self, eos: str = "") -> list[str]:
        return []

    def jinja(self) -> str:
        return self.source

    def to_dict(self) -> dict:
        return {"name": MODEL_TEMPLATE, "jinja": self.source}


def save_template(template, directory: str | Path) -> Path:
    path = Path(directory) / TEMPLATE_FILE
    path.write_text(json.dumps(template.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def load_template(directory: str | Path, tokenizer=None):
    """The template stored in a run/export directory, or None when it has none."""
    path = Path(directory) / TEMPLATE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AppsError(f"broken chat template file: {exc.msg}", where=f"{path}:{exc.lineno}") from None
    if data.get("name") == MODEL_TEMPLATE:
        if tokenizer is not None and data.get("jinja"):
            tokenizer.chat_template = data["jinja"]
        return get_template(MODEL_TEMPLATE, tokenizer)
    data["stop_strings"] = tuple(data.get("stop_strings", ()))
    try:
        return ChatTemplate(**data)
    except TypeError as exc:
        raise AppsError(f"broken chat template file: {exc}", where=str(path)) from None


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """``text`` up to the first stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def holdback(text: str, stops: list[str]) -> int:
    """How many trailing characters of ``text`` might start a stop string (kept back while streaming)."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:n]):
                longest = max(longest, n)
                break
    return longest
