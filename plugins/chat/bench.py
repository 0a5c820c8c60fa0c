"""'apps bench chat': decode speed of the streaming chat path against a bare ``model.generate`` on the same
model and prompt (tokens/s and time to first token), on the offline default model and, when asked, on the
full Phi-1.5 architecture with random weights (1.4B parameters) in fp32 and bf16."""

from __future__ import annotations

import sys
import time

from core import cpu_has_bf16
from plugins.chat.cpu_decode import prefer_sleeping_threads, use_openblas_gemv
from plugins.chat.model import ChatModel, Sampling, generate, load_chat_model
from plugins.chat.templates import get_template

PROMPT = [{"role": "user", "content": "请介绍一下你自己，并说说怎样才能睡个好觉。"}]


def measure_decode(chat, tokens: int, repeat: int = 2) -> tuple[dict, dict]:
    import torch

    # Fixed length (min_new_tokens, no stop markers): both paths decode the same number of tokens.
    sampling = Sampling(max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, repetition_penalty=1.0)
    prompt = chat.template.render(PROMPT, chat.tokenizer.eos_token or "")
    inputs = chat.tokenizer(
        prompt, return_tensors="pt", add_special_tokens=False, return_token_type_ids=False
    ).to(chat.model.device)

    def bare():
        start = time.perf_counter()
        with torch.no_grad():
            out = chat.model.generate(
                **inputs,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=False,
                pad_token_id=chat.tokenizer.pad_token_id,
            )
        return out.shape[1] - inputs["input_ids"].shape[1], time.perf_counter() - start

    def streamed():
        answer = generate(chat, PROMPT, sampling, on_text=lambda _: None, stream=True)
        return answer.tokens, answer.seconds, answer.first_token_s

    bare()  # warm-up
    b, s = [], []
    for _ in range(repeat):  # interleaved, so load changes on a shared machine hit both alike
        b.append(bare())
        s.append(streamed())
    with torch.no_grad():  # time to first token of the bare path: one prefill + one step
        start = time.perf_counter()
        chat.model.generate(
            **inputs, max_new_tokens=1, do_sample=False, pad_token_id=chat.tokenizer.pad_token_id
        )
        bare_first = time.perf_counter() - start
    bare_tps = sum(n for n, _ in b) / sum(t for _, t in b)
    stream_tps = sum(n for n, _, _ in s) / sum(t for _, t, _ in s)
    firsts = [f for _, _, f in s if f is not None]
    return (
        {"tps": bare_tps, "first": bare_first},
        {"tps": stream_tps, "first": sum(firsts) / len(firsts) if firsts else None},
    )


def weight_gbytes(model) -> float:
    """Bytes of weights a decode step reads, in GB: every parameter once per generated token, except the
    input embedding table, of which a step reads one row (unless it is tied to the output layer)."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    embedding = model.get_input_embeddings().weight
    output = model.get_output_embeddings()
    if output is None or output.weight.data_ptr() != embedding.data_ptr():
        total -= embedding.numel() * embedding.element_size()
    return total / 1e9


def _rows(label: str, gbytes: float, bare: dict, stream: dict) -> list[dict]:
    return [
        {
            "name": f"decode, {label}",
            "metric": "tokens/s",
            "value": round(stream["tps"], 2),
            "unit": "tok/s",
            "peer": "bare model.generate",
            "peer_value": round(bare["tps"], 2),
            "better": "higher",
            "goal": ">= 0.9x",
            "gbytes_per_item": round(gbytes, 4),  # decoding is bandwidth-bound: the harness projects it
        },
        {
            "name": f"time to first token, {label}",
            "metric": "latency",
            "value": round(stream["first"], 4) if stream["first"] else None,
            "unit": "s",
            "peer": "bare model.generate (1 token)",
            "peer_value": round(bare["first"], 4),
            "better": "lower",
        },
    ]


def phi15_plan(wanted: bool | None, dtypes: str) -> list[str]:
    """Precisions to measure the Phi-1.5 architecture in: none unless wanted (``None``: when 8 GB of memory
    are free); ``auto``: fp32, plus bf16 on a GPU or a CPU that runs it natively (emulated bf16 on a CPU
    without it is ~100x slower than fp32 and says nothing about the board)."""
    import psutil

    if wanted is None:
        wanted = psutil.virtual_memory().available > 8e9
    if not wanted:
        return []
    if dtypes != "auto":
        return [d.strip() for d in dtypes.split(",") if d.strip()]
    import torch

    return ["fp32", "bf16"] if torch.cuda.is_available() or cpu_has_bf16() else ["fp32"]


def benchmark(
    model=None, phi15_random: bool | None = None, phi15_dtypes: str = "auto", tokens: int = 64
) -> list[dict]:
    """'apps bench chat': the decode rows of ``model`` (default: the offline default), plus the Phi-1.5
    architecture in the precisions ``phi15_plan`` picks."""
    prefer_sleeping_threads()  # before phi15_plan imports torch
    return decode_benchmark(model, phi15_dtypes=phi15_plan(phi15_random, phi15_dtypes), tokens=tokens)


def decode_benchmark(model=None, phi15_dtypes: list[str] | None = None, tokens: int = 64) -> list[dict]:
    rows = []
    chat = load_chat_model(model, device="cpu", precision="fp32")
    if hasattr(chat.model, "merge_and_unload"):
        chat.model = chat.model.merge_and_unload()  # what 'apps export --merge' serves
    kernel = "OpenBLAS" if chat.info.get("openblas_layers") else "torch"
    print(f"decode benchmark on {chat.source} ({kernel} matrix-vector products)", file=sys.stderr)
    # The small default decodes 64 tokens in ~0.3 s: more repeats, or scheduler noise decides the ratio.
    measured = measure_decode(chat, tokens, repeat=8)
    rows += _rows(f"{chat.source.rsplit('/', 1)[-1]} fp32", weight_gbytes(chat.model), *measured)
    if phi15_dtypes:
        rows += phi15_rows(chat.tokenizer, tokens, phi15_dtypes)
    return rows


def phi15_rows(tokenizer, tokens: int, dtypes: list[str]) -> list[dict]:
    """Full Phi-1.5 architecture (PhiConfig defaults: hidden 2048, 24 layers, vocab 51200), random weights."""
    import torch
    from transformers import PhiConfig, PhiForCausalLM

    rows = []
    names = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    for label in dtypes:
        dtype = names[label]
        torch.manual_seed(0)
        config = PhiConfig(eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
        model = PhiForCausalLM(config).to(dtype).eval()
        use_openblas_gemv(model)  # as load_chat_model does
        with torch.no_grad():  # random weights: keep argmax inside the tokenizer so the text streams
            model.lm_head.bias[len(tokenizer) :] = -1e4
        chat = ChatModel(model, tokenizer, get_template("default"), "phi-1.5 random")
        print(f"decode benchmark on the Phi-1.5 architecture, random weights, {label}", file=sys.stderr)
        rows += _rows(
            f"phi-1.5 arch random {label}", weight_gbytes(model), *measure_decode(chat, tokens, repeat=1)
        )
        del model, chat
    return rows
