"""'apps eval chat': the same measurements before and after adaptation.

Exact match per taught domain on its held-out items (arithmetic, commands, project questions: held-out
operand pairs and held-out phrasings, ``plugins/chat/domains.py``), held-out Chinese perplexity (answer tokens, and per Chinese character so tokenizers compare), English
perplexity on held-out pydoc text (forgetting), CJK share of greedy answers to held-out Chinese prompts,
char-level BLEU-4 and jieba ROUGE-L against the references, tokens per Chinese character and Chinese
characters generated per second.
"""

from __future__ import annotations

import math
import sys
import time

from core import AppsError, is_run_dir, load_run, require_default
from plugins.chat import data as chat_data
from plugins.chat.domains import domain_items, is_correct, other_phrasings
from plugins.chat.metrics import cjk_share, is_cjk, perplexity, text_scores
from plugins.chat.model import Sampling, generate, load_chat_model

GOALS = {"cjk_share_after": 0.9, "zh_ppl_ratio": 5.0, "en_ppl_increase": 0.2}
DOMAIN_GOALS = {"arithmetic": 0.95, "commands": 0.95, "project": 0.90}
HELD_OUT = (
    "generated held-out split: operand pairs and phrasings never in training (plugins/chat/domains.py); "
    "arithmetic_phrasings: held-out pairs in 17 phrasings written apart from the templates "
    "(plugins/chat/data/arithmetic_other_phrasings.jsonl)"
)


def domain_scores(chat, items: list[dict], max_new_tokens: int = 200) -> dict:
    """Exact match of greedy answers per domain, with a few wrong answers to look at."""
    sampling = Sampling(max_new_tokens=max_new_tokens, do_sample=False, repetition_penalty=1.0)
    scores: dict = {}
    for item in items:
        answer = generate(chat, [{"role": "user", "content": item["question"]}], sampling, stream=False).text
        row = scores.setdefault(item["domain"], {"right": 0, "count": 0, "wrong": []})
        row["count"] += 1
        if is_correct(item, answer):
            row["right"] += 1
        elif len(row["wrong"]) < 3:
            row["wrong"].append(
                {"question": item["question"], "answer": answer, "expected": item["expected"]}
            )
    for row in scores.values():
        row["exact_match"] = row["right"] / row["count"]
    return scores


def _batches(dataset, collator, size: int = 8):
    for start in range(0, len(dataset), size):
        yield collator([dataset[i] for i in range(start, min(start + size, len(dataset)))])


def measure(chat, conversations: list[dict], samples: int, max_new_tokens: int) -> dict:
    tokenizer = chat.tokenizer
    collator = chat_data.CausalCollator(tokenizer.pad_token_id)
    zh = chat_data.ChatDataset(conversations, chat.template, tokenizer, 1024)
    zh_ppl = perplexity(chat.model, _batches(zh, collator))
    answers = [c["messages"][-1]["content"] for c in conversations]
    chars = sum(len(a) + 1 for a in answers)  # +1: the eos each answer ends with
    en = chat_data.TextBlocks(chat_data.english_corpus("test"), tokenizer, 256)
    en_ppl = perplexity(chat.model, _batches(en, collator))
    step = max(1, len(conversations) // max(samples, 1))
    chosen = conversations[::step][:samples]
    predictions, references, seconds, tokens = [], [], 0.0, 0
    sampling = Sampling(max_new_tokens=max_new_tokens, do_sample=False, repetition_penalty=1.0)
    for conversation in chosen:
        answer = generate(chat, conversation["messages"][:-1], sampling, stream=False)
        predictions.append(answer.text)
        references.append(conversation["messages"][-1]["content"])
        seconds += answer.seconds
        tokens += answer.tokens
    cjk_generated = sum(is_cjk(ch) for text in predictions for ch in text)
    ref_cjk = sum(is_cjk(ch) for text in references for ch in text)
    ref_tokens = sum(len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in references)
    return {
        "zh_ppl": zh_ppl["ppl"],
        "zh_ppl_per_char": math.exp(min(zh_ppl["nll_sum"] / chars, 50.0)),
        "en_ppl": en_ppl["ppl"],
        "cjk_share": cjk_share(predictions),
        **text_scores(predictions, references),
        "tokens_per_zh_char": ref_tokens / max(ref_cjk, 1),
        "zh_chars_per_second": cjk_generated / seconds if seconds else 0.0,
        "tokens_per_second": tokens / seconds if seconds else 0.0,
        "examples": [
            {"prompt": c["messages"][-2]["content"], "answer": p}
            for c, p in zip(chosen[:3], predictions, strict=False)
        ],
    }


def _conversations(dataset: str) -> list[dict]:
    if dataset == "zh-instruct":
        return chat_data.load_zh_instruct("test")
    conversations, report = chat_data.load_file(dataset)
    chat_data.check_usable(conversations, report)
    return conversations


def evaluate_before_after(
    model=None, base=None, dataset="zh-instruct", samples=40, max_new_tokens=160, device="auto"
) -> dict:
    if model is None:
        model = str(require_default("chat"))
    after = load_chat_model(model, device=device, precision="fp32")
    run = load_run(model) if is_run_dir(model) else None
    base = base or (after.info.get("base_model") if after.info.get("adapter") else None)
    base = base or (run or {}).get("base_model")
    if not base:
        raise AppsError(f"cannot tell which model {model} was adapted from", hint="pass --base MODEL")
    before = load_chat_model(base, device=device, precision="fp32")
    before.template = after.template  # the same prompts for both
    conversations = _conversations(dataset)
    started = time.perf_counter()
    print(
        f"evaluating before ({base}) and after ({model}) on {len(conversations)} held-out conversations",
        file=sys.stderr,
    )
    result_before = measure(before, conversations, samples, max_new_tokens)
    result_after = measure(after, conversations, samples, max_new_tokens)
    items = domain_items("test") + other_phrasings() if dataset == "zh-instruct" else []
    if items:
        print(f"scoring {len(items)} held-out domain questions before and after", file=sys.stderr)
        result_before["domains"] = domain_scores(before, items)
        result_after["domains"] = domain_scores(after, items)
    report = {
        "model": str(model),
        "base": str(base),
        "dataset": dataset,
        "held_out": len(conversations),
        "generated": min(samples, len(conversations)),
        "before": result_before,
        "after": result_after,
        "domains_held_out": HELD_OUT if items else None,
        "zh_ppl_ratio": result_before["zh_ppl_per_char"] / result_after["zh_ppl_per_char"],
        "en_ppl_increase": result_after["en_ppl"] / result_before["en_ppl"] - 1,
        "seconds": round(time.perf_counter() - started, 1),
    }
    report["goals"] = {
        "cjk_share_after >= 0.90": result_after["cjk_share"] >= GOALS["cjk_share_after"],
        "zh_ppl_ratio >= 5": report["zh_ppl_ratio"] >= GOALS["zh_ppl_ratio"],
        "en_ppl_increase <= 20%": report["en_ppl_increase"] <= GOALS["en_ppl_increase"],
    }
    for domain, goal in DOMAIN_GOALS.items():
        if domain in result_after.get("domains", {}):
            met = result_after["domains"][domain]["exact_match"] >= goal
            report["goals"][f"{domain} exact match >= {goal:.0%}"] = met
    return report


def print_report(report: dict) -> None:
    rows = [
        ("Chinese perplexity (per token)", "zh_ppl", "{:.4g}"),
        ("Chinese perplexity (per character)", "zh_ppl_per_char", "{:.4g}"),
        ("English perplexity (held-out pydoc)", "en_ppl", "{:.4g}"),
        ("CJK share of answers", "cjk_share", "{:.1%}"),
        ("BLEU-4 (characters)", "bleu4", "{:.2f}"),
        ("ROUGE-L (jieba words)", "rouge_l", "{:.2f}"),
        ("tokens per Chinese character", "tokens_per_zh_char", "{:.2f}"),
        ("Chinese characters generated / s", "zh_chars_per_second", "{:.1f}"),
        ("tokens generated / s", "tokens_per_second", "{:.1f}"),
    ]
    print(f"model {report['model']}\nbase  {report['base']}")
    print(
        f"data  {report['dataset']}: {report['held_out']} held-out conversations, {report['generated']} answered"
    )
    print(f"{'metric':<38}{'before':>12}{'after':>12}")
    for domain, row in report["after"].get("domains", {}).items():
        title = f"exact match: {domain} ({row['count']})"
        before = report["before"]["domains"][domain]["exact_match"]
        print(f"{title:<38}{before:>12.1%}{row['exact_match']:>12.1%}")
    if report.get("domains_held_out"):
        print(f"  ({report['domains_held_out']}; the rows below: the hand-written instruction split)")
    for title, key, fmt in rows:
        print(f"{title:<38}{fmt.format(report['before'][key]):>12}{fmt.format(report['after'][key]):>12}")
    print(
        f"Chinese perplexity {report['zh_ppl_ratio']:.1f}x lower; English perplexity "
        f"{report['en_ppl_increase']:+.1%}"
    )
    for goal, met in report["goals"].items():
        print(f"  goal {goal}: {'met' if met else 'NOT met'}")
    for example in report["after"]["examples"]:
        print(f"  Q: {example['prompt']}\n  A: {example['answer']}")
    for domain, row in report["after"].get("domains", {}).items():
        for wrong in row["wrong"][:2]:
            print(
                f"  wrong ({domain}): {wrong['question']} -> {wrong['answer']} (expected {wrong['expected']})"
            )
