"""Validation of the chat default's domain settings, never on the held-out split (docs/chat.md).

    python benchmarks/chat_validate.py [MODEL] [--arithmetic N]

Project questions in phrasings of their own (below: neither training templates nor held-out ones, and
never trained on), every command phrasing in a wrapper of its own (and, as "commands (wide)", in each of
eight more), arithmetic questions drawn afresh (seed 999) from the training pairs and templates, scored
per operation, and "word problems (wide)": 12 word problems of the script's own (scenes, verbs and grammar
no training problem has) on training pairs, so that a recipe change can be judged without reading the
held-out split.
"""

from __future__ import annotations

import argparse
import collections

from plugins.chat import domains

# kind: question phrasings only used here
PROJECT_VALIDATION = {
    "what": [
        "{app}主要用来干什么？",
        "{app}的本事是什么？",
        "{app}到底是搞什么的？",
        "请问{app}负责哪块工作？",
    ],
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
    for app, (_, fact) in domains.APPS.items():
        for kind, questions in PROJECT_VALIDATION.items():
            facts = [f.format(app=app, fact=fact) for f in domains.PROJECT_KINDS[kind][3]]
            for question in questions:
                out.append(
                    {"domain": f"project:{kind}", "question": question.format(app=app), "expected": facts}
                )
    for question, index in GENERAL_VALIDATION:
        out.append({"domain": "project:general", "question": question, "expected": domains.GENERAL[index][3]})
    return out


# arithmetic phrasings only used here (bare and word problems with objects and verbs of their own)
ARITHMETIC_VALIDATION = {
    "+": ["{a}{o}{b}，结果是？", "操场上有{a}个同学，又来了{b}个同学，现在操场上有多少个同学？"],
    "-": ["请帮我计算{a}{o}{b}", "妈妈买了{a}个橘子，吃了{b}个，还有几个？"],
    "*": ["{a}{o}{b}应该是多少", "一辆车坐{a}个人，{b}辆车能坐多少人？"],
    "/": ["{a}{o}{b}会得到多少？", "{a}支铅笔平均分给{b}个同学，每个同学分几支？"],
}


# command wrappers only used here (training and held-out wrappers are domains.WRAP_TRAIN / WRAP_TEST)
COMMAND_WRAPS_VALIDATION = ["你可以{c}吗？", "{c}，好吗？", "拜托{c}", "我需要你{c}", "赶紧{c}", "来，{c}"]


def command_items() -> list[dict]:
    """Every phrasing of every command (domains.COMMANDS) in a wrapper of this script's own (seed 997)."""
    import random

    rng = random.Random(997)
    return [
        {
            "domain": f"commands:{'arm' if target in domains.ARM_COMMANDS else 'game'}",
            "question": rng.choice(COMMAND_WRAPS_VALIDATION).format(c=phrase),
            "expected": target,
        }
        for target, phrases in domains.COMMANDS.items()
        for phrase in phrases
    ]


# a second, wider set: every phrasing in every one of these wrappers, with words before and after it
COMMAND_WRAPS_WIDE = ["{c}，辛苦了。", "好的，{c}，动作要稳。", "嘿，请{c}", "{c}，记得小心。", "能否{c}？",
                      "请立刻{c}！", "小帮手，{c}好不好？", "等一下{c}"]  # fmt: skip


def wide_command_items() -> list[dict]:
    return [
        {"domain": "commands:wide", "question": wrap.format(c=phrase), "expected": target}
        for target, phrases in domains.COMMANDS.items()
        for phrase in phrases
        for wrap in COMMAND_WRAPS_WIDE
    ]


def training_pairs(op: str) -> list[tuple[int, int]]:
    return [p for p in domains.arithmetic_pairs(op) if not domains.is_held_out_pair(op, *p)]


def arithmetic_items(count: int) -> list[dict]:
    """``count`` questions drawn by the training generator (seed 999: its templates and training pairs) and
    ``count // 2`` in the phrasings above on training pairs drawn here (seed 998), so that this second part
    stays the same whatever the generator draws."""
    import random

    items = [
        dict(item, domain=f"arithmetic:{item['pair'][0]}")
        for item in domains.arithmetic_set("train", count, seed=999)
    ]
    rng = random.Random(998)
    for op, share in domains.SHARES.items():
        pairs = training_pairs(op)
        for _ in range(round(count // 2 * share)):
            a, b = rng.choice(pairs)
            question = rng.choice(ARITHMETIC_VALIDATION[op]).format(
                a=domains.chinese_numeral(a) if rng.random() < 0.4 else a, b=b, o=domains.OPS[op]
            )
            items.append(
                {"domain": f"arithmetic:new {op}", "question": question, "expected": domains.solve(op, a, b)}
            )
    return items


# a third, wider arithmetic set: word problems in scenes, verbs and grammar of this script's own (verbs
# without 了, directional complements, the count before or after "每"), 8 training pairs each (seed 996)
WORD_PROBLEMS_WIDE = {
    "+": ["池塘里有{a}只青蛙，又跳进来{b}只，池塘里现在有几只青蛙？",
          "上午卖出{a}杯果汁，下午卖出{b}杯，这一天共卖出多少杯？",
          "{a}名游客先上了船，接着又上来{b}名，船上一共有多少名游客？"],
    "-": ["气球店有{a}个气球，飞走{b}个，店里还剩几个气球？",
          "电影院里有{a}位观众，散场时走了{b}位，还留下多少位观众？",
          "水桶里有{a}升水，倒出去{b}升，桶里还有多少升水？"],
    "*": ["每只蜘蛛有{a}条腿，{b}只蜘蛛共有多少条腿？",
          "一袋糖果重{a}克，{b}袋糖果重多少克？",
          "教室里摆了{b}排桌子，每排摆{a}张，一共摆了多少张桌子？"],
    "/": ["{a}朵花插在{b}个花瓶里，每个花瓶插得一样多，每个花瓶插几朵？",
          "{a}米长的布做了{b}件一样的衣服，每件用布多少米？",
          "{a}名运动员平均站成{b}列，每列站几名？"],
}  # fmt: skip


def wide_word_items() -> list[dict]:
    import random

    rng = random.Random(996)
    items = []
    for op, templates in WORD_PROBLEMS_WIDE.items():
        pairs = [p for p in training_pairs(op) if min(p) > 0]
        for template in templates:
            for _ in range(8):
                a, b = rng.choice(pairs)
                numeral = domains.chinese_numeral if rng.random() < 0.4 else str
                items.append(
                    {
                        "domain": "arithmetic:word wide",
                        "question": template.format(a=numeral(a), b=numeral(b)),
                        "expected": domains.solve(op, a, b),
                    }
                )
    return items


# groups reported under a total of their own, beside their domain's
OWN_TOTALS = {"commands:wide": "commands (wide)", "arithmetic:word wide": "word problems (wide)"}


def base_identity(base: str) -> str:
    """The base model and a digest of its weights. Figures compare only between adapters on one base: a
    rebuilt base need not be bit-for-bit the same, and moved them as much as a recipe change does."""
    import hashlib
    from pathlib import Path

    weights = Path(base) / "model.safetensors"
    if not weights.is_file():
        return f"base {base} (no model.safetensors to digest)"
    return f"base {base}, weights sha256 {hashlib.sha256(weights.read_bytes()).hexdigest()[:12]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "model", nargs="?", default=None, help="model or run directory (default: the offline default)"
    )
    parser.add_argument("--arithmetic", type=int, default=100, help="arithmetic questions (0: none)")
    parser.add_argument("--show", type=int, default=3, help="wrong answers shown per group")
    args = parser.parse_args()
    from plugins.chat.evaluate import domain_scores
    from plugins.chat.model import load_chat_model

    chat = load_chat_model(args.model, device="cpu", precision="fp32")
    print(base_identity(chat.info["base_model"]))  # load_chat_model found the adapter's base
    items = project_items() + command_items() + wide_command_items() + arithmetic_items(args.arithmetic)
    items += wide_word_items()
    for item in items:  # is_correct scores by the domain's prefix
        item["domain"], item["group"] = item["domain"].split(":")[0], item["domain"]
    groups = collections.defaultdict(list)
    for item in items:
        groups[item["group"]].append(item)
    totals = collections.Counter()
    for group, part in sorted(groups.items()):
        row = domain_scores(chat, part)[part[0]["domain"]]
        total = OWN_TOTALS.get(group, part[0]["domain"])
        totals[total, "right"] += row["right"]
        totals[total, "count"] += row["count"]
        print(f"{group:16s} {row['right']:3d}/{row['count']:3d}  {row['exact_match']:.3f}")
        for wrong in row["wrong"][: args.show]:
            print(f"    {wrong['question']} -> {wrong['answer'][:120]!r}  (expected {wrong['expected']})")
    for domain in ("project", "commands", "commands (wide)", "arithmetic", "word problems (wide)"):
        if totals[domain, "count"]:
            print(
                f"{domain:16s} {totals[domain, 'right']:3d}/{totals[domain, 'count']:3d}  "
                f"{totals[domain, 'right'] / totals[domain, 'count']:.3f}"
            )


if __name__ == "__main__":
    main()
