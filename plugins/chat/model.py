"""Loading chat models (hub id, local folder, run directory, LoRA adapter), building the miniature
Phi-architecture model and its byte-level BPE tokenizer, and streamed generation that stops at eos or at
the template's next-turn marker."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from core import (
    AppsError,
    ModelRef,
    apps_home,
    is_offline,
    is_run_dir,
    load_run,
    require_default,
    resolve_model,
)
from plugins.chat.templates import cut_at_stop, get_template, holdback, load_template
from plugins.chat.utf8 import Utf8Guard, Utf8Masks, drop_incomplete_tail, token_bytes

HUB_DEFAULT = "microsoft/phi-1_5"
TINY_BASE = "tiny-en-base"  # the pretrained miniature English model built by 'apps prepare chat'
EOS_TEXT = "<|endoftext|>"


def tiny_base_dir() -> Path:
    """Where 'apps prepare chat' builds the miniature base (the first link of the offline default)."""
    return apps_home() / "models" / "chat" / TINY_BASE


# ---- which model ----------------------------------------------------------------------------------
def resolve_chat_model(spec: str | None) -> ModelRef:
    """``spec`` resolved by ``core.resolve_model``, with chat's own rules on top:

    * ``None``: Phi-1.5 when it is cached or the hub is reachable, else the offline default that
      'apps prepare chat' built (Phi-1.5 comes first because it is the model the app is about);
    * ``tiny-en-base``: the miniature base that 'apps prepare chat' built;
    * local folders and run directories come back with absolute paths, because a run stores its base
      model's location and must find it again from any working directory.

    Only what ``AutoModelForCausalLM`` can load passes: a run directory, a model folder or a hub id.
    """
    if spec in (None, ""):
        if _hub_cached(HUB_DEFAULT) or not is_offline():
            return resolve_model(HUB_DEFAULT, "chat")
        try:
            ref = resolve_model(None, "chat")  # the built offline default, if any
        except AppsError:
            raise AppsError(
                f"the default model {HUB_DEFAULT} is not available offline and no offline default is built",
                hint="run 'apps prepare chat' (builds the miniature model offline), or pass --model FOLDER",
            ) from None
        print(
            f"note: {HUB_DEFAULT} is not reachable offline; using the offline default model {ref.location}",
            file=sys.stderr,
        )
    elif spec == TINY_BASE:
        base = require_default("chat", tiny_base_dir(), takes="it builds tiny-en-base")
        ref = resolve_model(str(base), "chat")
    else:
        ref = resolve_model(str(spec), "chat")
    if ref.kind in ("onnx", "file", "timm"):
        raise AppsError(
            f"model '{ref.spec}' is not a causal language model the chat app can load ({ref.kind})",
            hint="pass a Hugging Face id (owner/name), a model folder or a run directory from 'apps train chat'",
        )
    if ref.kind == "hub" and ref.location.count("/") != 1:
        raise AppsError(f"model '{ref.spec}' is neither a local folder nor a Hugging Face id (owner/name)")
    if ref.is_local:
        return replace(ref, location=str(ref.path.expanduser().resolve()))
    return ref


def resolve_model_ref(spec: str | None) -> str:
    """Where ``spec`` loads from (a hub id or an absolute path): what a run records as its base model."""
    return resolve_chat_model(spec).location


def _hub_cached(repo: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo, "config.json"), str)
    except Exception:
        return False


def load_causal_lm(location: str, **kwargs):
    """``AutoModelForCausalLM.from_pretrained`` of a resolved location; offline, a hub id loads from the
    Hugging Face cache only (no waiting on retries), and a failure is an AppsError that says what to do."""
    from transformers import AutoModelForCausalLM

    return _from_pretrained(AutoModelForCausalLM, location, **kwargs)


def load_tokenizer(location: str):
    """The tokenizer of a resolved location, with a pad token (eos when it has none)."""
    from transformers import AutoTokenizer

    tokenizer = _from_pretrained(AutoTokenizer, location)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def quiet_libraries() -> None:
    """Keep library noise (FutureWarnings such as peft's about ``is_gradient_checkpointing``, "Loading
    weights" progress bars) off the user's terminal; ``PYTHONWARNINGS`` set by the user still wins."""
    import os
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if not os.environ.get("PYTHONWARNINGS"):
        for category in (FutureWarning, DeprecationWarning):
            warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"(transformers|peft|torch)\b")


def _from_pretrained(cls, location: str, **kwargs):
    quiet_libraries()
    local = Path(location).exists()
    try:
        return cls.from_pretrained(location, local_files_only=not local and is_offline(), **kwargs)
    except OSError as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if local:
            raise AppsError(f"could not load the model in {location}: {first}") from None
        raise AppsError(
            f"could not load '{location}' ({first})",
            hint="offline? run 'apps prepare chat' for the offline default, or pass --model FOLDER",
        ) from None


def base_signature(config) -> dict:
    """What an adapter must agree with in its base model."""
    return {
        key: getattr(config, key, None)
        for key in ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")
    }


@dataclass
class ChatModel:
    """A loaded model, its tokenizer and the template it was trained with."""

    model: object
    tokenizer: object
    template: object
    source: str
    info: dict = field(default_factory=dict)

    @property
    def eos_ids(self) -> list[int]:
        ids = (
            self.model.generation_config.eos_token_id
            if getattr(self.model, "generation_config", None)
            else None
        )
        ids = ids if isinstance(ids, list) else [ids] if ids is not None else []
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    @property
    def context(self) -> int | None:
        """The longest sequence (prompt + answer) the model takes, in tokens."""
        config = getattr(self.model, "config", None)
        return getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)

    def utf8_masks(self) -> Utf8Masks | None:
        """The UTF-8 masks of a byte-level tokenizer, built once (None: its tokens are whole characters)."""
        if "utf8" not in self.info:
            table = token_bytes(self.tokenizer)
            self.info["utf8"] = Utf8Masks(self.tokenizer, table) if table else None
        return self.info["utf8"]


def load_chat_model(
    model: str | None = None,
    adapter: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    template: str | None = None,
) -> ChatModel:
    """Load a causal LM for chat. ``model`` may be a run directory (full model or LoRA adapter);
    ``adapter`` adds a LoRA run directory on top of ``model`` after checking they belong together."""
    from plugins.chat.cpu_decode import prefer_sleeping_threads, use_openblas_gemv

    prefer_sleeping_threads()
    import torch

    from core import resolve_device, resolve_dtype

    resolved = resolve_chat_model(model)
    ref = resolved.location
    adapter_dir = None
    if resolved.kind == "run" and (resolved.path / "adapter_config.json").is_file():
        adapter_dir = resolved.path
        ref = resolve_model_ref(_adapter_base(adapter_dir, load_run(adapter_dir)))
    if adapter:
        if adapter_dir is not None:
            raise AppsError(
                "--model is already a LoRA run directory; pass its base as --model, or drop --adapter"
            )
        adapter_dir = Path(adapter).expanduser()
        if not (adapter_dir / "adapter_config.json").is_file():
            raise AppsError(
                f"{adapter_dir} holds no LoRA adapter (adapter_config.json)",
                hint="pass a run directory written by 'apps train chat' with finetune: lora",
            )
    device_ = resolve_device(device)
    dtype = resolve_dtype(precision, device_)
    if device_.type == "cpu" and dtype == torch.float16:
        dtype = torch.float32  # fp16 matmuls are slow or missing on CPUs
    net = load_causal_lm(ref, dtype=dtype)
    tokenizer_dir = adapter_dir if adapter_dir and (adapter_dir / "tokenizer_config.json").is_file() else ref
    tokenizer = load_tokenizer(str(tokenizer_dir))
    info = {"base_model": ref, "adapter": str(adapter_dir) if adapter_dir else None}
    stored = None
    if adapter_dir is not None:
        adapter_run = load_run(adapter_dir) if is_run_dir(adapter_dir) else {}
        _check_base(adapter_dir, adapter_run, net.config, ref, adapter)
        if len(tokenizer) > net.get_input_embeddings().weight.shape[0]:
            net.resize_token_embeddings(len(tokenizer))  # vocabulary extended by the adapter's recipe
        from peft import PeftModel

        net = PeftModel.from_pretrained(net, str(adapter_dir))
        stored = load_template(adapter_dir, tokenizer)
    if stored is None and Path(ref).exists():
        stored = load_template(ref, tokenizer)
    if stored is not None and template and template != stored.name:
        raise AppsError(
            f"this model was trained with the chat template '{stored.name}', not '{template}'",
            hint="drop --template: the stored template is used automatically",
        )
    chosen = stored or get_template(
        template or ("model" if getattr(tokenizer, "chat_template", None) else "default"), tokenizer
    )
    net.to(device_).eval()
    info["openblas_layers"] = use_openblas_gemv(net)
    return ChatModel(net, tokenizer, chosen, adapter_dir and str(adapter_dir) or ref, info)


def _adapter_base(adapter_dir: Path, run: dict) -> str:
    base = run.get("base_model")
    if not base:
        config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
        base = config.get("base_model_name_or_path")
    if not base:
        raise AppsError(f"{adapter_dir} does not say which base model it adapts (run.json base_model)")
    return base


def _check_base(adapter_dir: Path, run: dict, config, ref: str, asked: str | None) -> None:
    expected = run.get("base_signature")
    actual = base_signature(config)
    if expected and {k: v for k, v in expected.items() if k != "vocab_size"} != {
        k: v for k, v in actual.items() if k != "vocab_size"
    }:
        raise AppsError(
            f"the adapter {adapter_dir} was trained on '{run.get('base_model')}' ({expected}), "
            f"but the model given is '{ref}' ({actual})",
            hint=f"pass --model {run.get('base_model')} (or omit --model when --model is the run directory)",
        )
    if (
        asked
        and run.get("base_model")
        and Path(str(run["base_model"])).name != Path(ref).name
        and not expected
    ):
        raise AppsError(
            f"the adapter {adapter_dir} adapts '{run['base_model']}', not '{ref}'",
            hint=f"pass --model {run['base_model']}",
        )


# ---- generation -----------------------------------------------------------------------------------
@dataclass
class Sampling:
    max_new_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 50
    repetition_penalty: float = 1.1
    do_sample: bool = True
    min_new_tokens: int = 0  # benchmarks: decode a fixed length
    seed: int | None = None  # reproducible sampling

    def kwargs(self) -> dict:
        common = {"max_new_tokens": self.max_new_tokens, "repetition_penalty": self.repetition_penalty}
        if self.min_new_tokens:
            common["min_new_tokens"] = self.min_new_tokens
        if not self.do_sample or self.temperature <= 0:
            return {"do_sample": False, **common}
        return {
            "do_sample": True,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            **common,
        }


class _StopOnEvent:
    """Stops generation when ``event`` is set: the client went away or the server is shutting down."""

    def __init__(self, event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )


class _StopOnStrings:
    """Stops generation once the decoded answer contains one of the template's next-turn markers."""

    def __init__(self, tokenizer, prompt_len: int, stops: list[str]):
        self.tokenizer, self.prompt_len, self.stops = tokenizer, prompt_len, stops
        self.window = max((len(s) for s in stops), default=0) + 8

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        done = []
        for row in input_ids:
            tail = self.tokenizer.decode(row[self.prompt_len :][-self.window :], skip_special_tokens=True)
            done.append(any(stop in tail for stop in self.stops))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


@dataclass
class Answer:
    text: str
    tokens: int
    seconds: float
    first_token_s: float | None
    stopped_by: str  # eos | marker | length | cancelled


def answer_result(messages: list[dict], answer: Answer) -> dict:
    """The result every front end (terminal, HTTP, ``predict``) hands to ``on_result`` hooks for one
    answer to the conversation ``messages``."""
    return {
        "prompt": messages[-1]["content"],
        "answer": answer.text,
        "tokens": answer.tokens,
        "seconds": round(answer.seconds, 4),
        "tokens_per_second": round(answer.tokens / answer.seconds, 2) if answer.seconds > 0 else None,
        "first_token_seconds": round(answer.first_token_s, 4) if answer.first_token_s is not None else None,
        "stopped_by": answer.stopped_by,
    }


def generate(
    chat: ChatModel,
    messages: list[dict],
    sampling: Sampling | None = None,
    on_text=None,
    stream: bool = True,
    stops: list[str] | tuple = (),
    cancel=None,
) -> Answer:
    """Answer the conversation ``messages`` (ending with a user turn). ``on_text(piece)`` receives the
    answer as it is generated, in whole characters, never including a stop marker. ``stops``: more
    strings that end the answer; ``cancel``: a ``threading.Event`` that stops generation when set."""
    import torch
    from transformers import LogitsProcessorList, StoppingCriteriaList

    sampling = sampling or Sampling()
    tokenizer, template = chat.tokenizer, chat.template
    prompt = template.render(messages, tokenizer.eos_token or "", add_generation_prompt=True)
    # return_token_type_ids=False: transformers 4.57 tokenizers return them, and generate() refuses them
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False, return_token_type_ids=False).to(
        chat.model.device
    )
    prompt_len = inputs["input_ids"].shape[1]
    stops = [*template.stops(), *stops] if not sampling.min_new_tokens else []
    criteria = StoppingCriteriaList([_StopOnStrings(tokenizer, prompt_len, stops)] if stops else [])
    if cancel is not None:
        criteria.append(_StopOnEvent(cancel))
    masks = chat.utf8_masks()
    kwargs = dict(
        **inputs,
        **sampling.kwargs(),
        stopping_criteria=criteria or None,
        logits_processor=LogitsProcessorList([Utf8Guard(masks)]) if masks else None,
        eos_token_id=chat.eos_ids,
        pad_token_id=tokenizer.pad_token_id,
    )
    if sampling.seed is not None:
        torch.manual_seed(sampling.seed)
    start = time.perf_counter()
    first = None
    if not stream:
        with torch.no_grad():
            output = chat.model.generate(**kwargs)
        new = output[0, prompt_len:]
        raw = drop_incomplete_tail(tokenizer.decode(new, skip_special_tokens=True))
    else:
        raw, shown = "", 0

        def on_piece(piece: str) -> None:
            nonlocal raw, shown
            raw += piece
            visible, found = cut_at_stop(raw, stops)
            limit = len(visible) if found else len(visible) - holdback(visible, stops)
            if on_text and limit > shown:
                on_text(visible[shown:limit])
                shown = limit

        # In generate's own thread: a second Python thread would fight the decode loop for the GIL and
        # slow streaming down (docs/chat.md). Callers that must not block run all of this in a worker, as
        # the server and the demo do.
        streamer = _streamer_class()(on_piece, tokenizer, skip_prompt=True, skip_special_tokens=True)
        with torch.no_grad():
            chat.model.generate(**kwargs, streamer=streamer)
        new = None
        first = streamer.first_token_at - start if streamer.first_token_at else None
    text, found = cut_at_stop(raw, stops)
    if on_text and stream and len(text) > shown:
        on_text(text[shown:])
    tokens = streamer.generated if new is None else len(new)
    stopped = "marker" if found else ("length" if tokens >= sampling.max_new_tokens else "eos")
    if cancel is not None and cancel.is_set() and not found:
        stopped = "cancelled"
    return Answer(text.strip(), tokens, time.perf_counter() - start, first, stopped)


def _streamer_class():
    from transformers import TextStreamer

    class Streamer(TextStreamer):
        """Hands each finished piece of text to ``on_piece``, counts the generated tokens and times the
        first (the first ``put`` is the prompt). The first token is timed here, not when text appears: a
        token may hold part of a character or word."""

        generated = 0
        first_token_at: float | None = None
        _seen_prompt = False

        def __init__(self, on_piece, tokenizer, **kwargs):
            super().__init__(tokenizer, **kwargs)
            self.on_piece = on_piece

        def put(self, value):
            if self._seen_prompt:
                self.generated += int(value.numel())
                self.first_token_at = self.first_token_at or time.perf_counter()
            self._seen_prompt = True
            super().put(value)

        def on_finalized_text(self, text: str, stream_end: bool = False):
            if stream_end:  # a cut by max_new_tokens may leave half a character
                text = drop_incomplete_tail(text)
            if text:
                self.on_piece(text)

    return Streamer


# ---- the miniature model ----------------------------------------------------------------------------
def train_byte_bpe(text: str, vocab_size: int):
    """A byte-level BPE tokenizer (GPT-2/Phi style, digits split) trained on ``text``, as a transformers
    tokenizer."""
    from tokenizers import ByteLevelBPETokenizer, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    # one token per digit: numbers are spelled the same way everywhere, which arithmetic needs
    bpe._tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    bpe.train_from_iterator(
        [text], vocab_size=vocab_size, min_frequency=2, special_tokens=[EOS_TEXT], show_progress=False
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token=EOS_TEXT,
        eos_token=EOS_TEXT,
        unk_token=EOS_TEXT,
        pad_token=EOS_TEXT,
    )
    tokenizer.model_max_length = int(1e30)  # no limit: the model's max_position_embeddings is the limit
    return tokenizer


def build_tiny_phi(tokenizer, overrides: dict):
    """A small randomly initialised PhiForCausalLM (same architecture as Phi-1.5, fewer/narrower layers)."""
    from transformers import PhiConfig, PhiForCausalLM

    settings = {
        "hidden_size": 128,
        "intermediate_size": 512,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "max_position_embeddings": 512,
    }
    settings.update(overrides or {})
    config = PhiConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **settings,
    )
    return PhiForCausalLM(config)
