"""Validation of the chat default's domain settings, never on the held-out split (docs/chat.md).

    python benchmarks/chat_validate.py [MODEL] [--arithmetic N]

Project questions in phrasings of their own (below: neither training templates nor held-out ones, and
never trained on) and arithmetic questions drawn afresh (seed 999) from the training pairs and templates,
scored per operation, so that a recipe change can be judged without reading the held-out split.
"""

from __future__ import annotations

import argparse
import collections

from plugins.chat import domains

# kind: question phrasings only used here
PROJECT_VALIDATION = {
    "what": ["{app}主要用来干什么？", "{app}的本事是什么？", "{app}到底是搞什么的？", "请问{app}负责哪块工作？"],
    "run": ["{app}要怎么跑起来？", "运行{app}的命令是啥？", "要使用{app}得敲哪条指令？", "{app}咋开启？"],
    "train": ["想用我的数据微调{app}，命令是什么？", "{app}能不能用新数据再训一遍？要怎么操作？"],
    "eval": ["怎么知道{app}模型准不准？", "{app}模型表现如何，拿什么命令来测？"],
    "prepare": ["没网的情况下{app}怎么准备？", "在没有互联网的地方，{app}需要先做哪一步？"],
}
GENERAL_VALIDATION = [  # (question, index into domains.GENERAL)
    ("能用的应用有哪些？", 0),
    ("怎么在网页上试用？", 1),
    ("transformer-apps是干什么的？", 2),
    ("你是什么助手？", 3),
]


def project_items() -> list[dict]:
    out = []
    for app, (what, fact) in domains.APPS.items():
        for kind, questions in PROJECT_VALIDATION.items():
            facts = [f.format(app=app, fact=fact) for f in domains.PROJECT_KINDS[kind][3]]
            for question in questions:
                out.append({"domain": f"project:{kind}", "question": question.format(app=app), "expected": facts})
    for question, index in GENERAL_VALIDATION:
        out.append({"domain": "project:general", "question": question, "expected": domains.GENERAL[index][3]})
    return out


def arithmetic_items(count: int) -> list[dict]:
    items = domains.arithmetic_set("train", count, seed=999)
    return [dict(item, domain=f"arithmetic:{item['pair'][0]}") for item in items]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="default")
    parser.add_argument("--arithmetic", type=int, default=100, help="arithmetic questions (0: none)")
    parser.add_argument("--show", type=int, default=3, help="wrong answers shown per group")
    args = parser.parse_args()
    from plugins.chat.evaluate import domain_scores
    from plugins.chat.model import load_chat_model

    chat = load_chat_model(args.model, device="cpu", precision="fp32")
    items = project_items() + arithmetic_items(args.arithmetic)
    for item in items:  # is_correct scores by the domain's prefix
        item["domain"], item["group"] = item["domain"].split(":")[0], item["domain"]
    groups = collections.defaultdict(list)
    for item in items:
        groups[item["group"]].append(item)
    totals = collections.Counter()
    for group, part in sorted(groups.items()):
        row = domain_scores(chat, part)[part[0]["domain"]]
        totals[part[0]["domain"], "right"] += row["right"]
        totals[part[0]["domain"], "count"] += row["count"]
        print(f"{group:16s} {row['right']:3d}/{row['count']:3d}  {row['exact_match']:.3f}")
        for wrong in row["wrong"][: args.show]:
            print(f"    {wrong['question']} -> {wrong['answer'][:120]!r}  (expected {wrong['expected']})")
    for domain in ("project", "arithmetic"):
        if totals[domain, "count"]:
            print(f"{domain:16s} {totals[domain, 'right']:3d}/{totals[domain, 'count']:3d}  "
                  f"{totals[domain, 'right'] / totals[domain, 'count']:.3f}")


if __name__ == "__main__":
    main()
