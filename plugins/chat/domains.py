"""The domains the offline default is taught, generated at build time by templates and a solver: Chinese
arithmetic (bare and word problems, Arabic or Chinese numerals; answers show their working, and the
English base learns the same working in English), Chinese commands for the control app
(English canonical strings), and questions about this project (scored by key facts).

The held-out split is fixed and disjoint by construction: an arithmetic (operation, operands) pair is held
out by a hash of the pair (both orders for + and x), and every question template is either a training
template or a held-out one, so no held-out pair and no held-out phrasing occurs in training. No torch.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

from plugins.chat.word_problems import composed_word_problem

# ---- numerals -------------------------------------------------------------------------------------
DIGITS_ZH = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """0..100 in Chinese numerals: 7 七, 10 十, 15 十五, 40 四十, 62 六十二, 100 一百."""
    if not 0 <= n <= 100:
        raise ValueError(f"{n} is outside 0..100")
    if n == 100:
        return "一百"
    if n < 10:
        return DIGITS_ZH[n]
    tens, units = divmod(n, 10)
    return ("" if tens == 1 else DIGITS_ZH[tens]) + "十" + (DIGITS_ZH[units] if units else "")


def last_number(text: str) -> int | None:
    """The last Arabic number in ``text`` (how an arithmetic answer is scored)."""
    found = re.findall(r"-?\d+", text)
    return int(found[-1]) if found else None


# ---- arithmetic -----------------------------------------------------------------------------------
OPS = {"+": "加", "-": "减", "*": "乘以", "/": "除以"}


def solve(op: str, a: int, b: int) -> int:
    return {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else 0}[op]


def arithmetic_pairs(op: str) -> list[tuple[int, int]]:
    """Every pair the domain covers: + and - on 0..100 (no negative results), x with a product <= 100,
    exact division with a dividend <= 100."""
    if op == "+":
        return [(a, b) for a in range(101) for b in range(101)]
    if op == "-":
        return [(a, b) for a in range(101) for b in range(a + 1)]
    if op == "*":
        return [(a, b) for a in range(1, 101) for b in range(1, 101) if a * b <= 100]
    return [(q * b, b) for b in range(1, 101) for q in range(0, 101) if q * b <= 100]


def is_held_out_pair(op: str, a: int, b: int) -> bool:
    """One pair in ten, fixed; + and x pairs are held out in both orders."""
    key = (a, b) if op in "-/" else tuple(sorted((a, b)))
    return int(hashlib.md5(f"{op}:{key}".encode()).hexdigest(), 16) % 10 == 0


# Bare questions: {a} and {b} are the operands (Arabic or Chinese numerals), {o} the operator word.
BARE_TRAIN = [
    "{a}{o}{b}等于多少？",
    "{a}{o}{b}是几？",
    "{a}{o}{b}得多少？",
    "请算一下{a}{o}{b}。",
    "{a}{o}{b}等于几？",
    "计算：{a}{o}{b}",
    "帮我算算{a}{o}{b}是多少。",
    "{a}{o}{b}的结果是多少？",
    "{a}{s}{b}=？",
    "算一算{a}{o}{b}等于多少",
    "你知道{a}{o}{b}是多少吗？",
    "{a}{o}{b}，答案是什么？",
    "{a}{o}{b}是多少？",
    "求{a}{o}{b}的值。",
    "{a}{o}{b}多少？",
    "{a}{s}{b}",
    "{a}{s}{b}=",
    "快算{a}{o}{b}",
    "{a}{o}{b}等于？",
]
BARE_TEST = ["请问{a}{o}{b}得几？", "{a}{o}{b}等于什么？", "麻烦算一下{a}{o}{b}", "{a}{s}{b}等于多少？"]
SYMBOLS = {"+": "+", "-": "-", "*": "×", "/": "÷"}

# Word problems per operation: (question, what the answer says before the result, unit).
WORD_TRAIN = {
    "+": [
        ("小明有{a}个苹果，妈妈又给了他{b}个，他一共有多少个苹果？", "一共有", "个苹果"),
        ("书架上有{a}本书，又放上了{b}本，现在一共有多少本书？", "一共有", "本书"),
        ("一支笔{a}元，一个本子{b}元，一共要花多少元？", "一共要花", "元"),
        ("昨天看了{a}页书，今天看了{b}页，两天一共看了多少页？", "一共看了", "页"),
        ("班里有{a}个男生和{b}个女生，全班一共有多少人？", "一共有", "人"),
        ("树上有{a}只鸟，飞来了{b}只，树上一共有几只鸟？", "一共有", "只鸟"),
    ],
    "-": [
        ("小红有{a}个苹果，吃掉了{b}个，还剩多少个？", "还剩", "个"),
        ("一本书有{a}页，已经读了{b}页，还剩多少页没读？", "还剩", "页"),
        ("箱子里有{a}瓶水，拿走了{b}瓶，还剩几瓶？", "还剩", "瓶"),
        ("我有{a}元，买东西花了{b}元，还剩多少元？", "还剩", "元"),
        ("车上有{a}个人，下去了{b}个人，车上还有几个人？", "还有", "个人"),
        ("一根绳子长{a}米，剪掉{b}米，还剩多少米？", "还剩", "米"),
    ],
    "*": [
        ("每瓶水{a}元，买{b}瓶一共多少元？", "一共", "元"),
        ("每盒有{a}个苹果，{b}盒一共有多少个苹果？", "一共有", "个苹果"),
        ("每天读{a}页书，{b}天一共读多少页？", "一共读", "页"),
        ("一排有{a}个座位，{b}排一共有多少个座位？", "一共有", "个座位"),
        ("一张票{a}元，买{b}张要多少元？", "要", "元"),
    ],
    "/": [
        ("{a}个苹果平均分给{b}个小朋友，每人分到几个？", "每人分到", "个"),
        ("{a}元钱买了{b}本一样的本子，每本多少元？", "每本", "元"),
        ("一本书{a}页，{b}天读完，平均每天读多少页？", "每天读", "页"),
        ("{a}块糖平均分成{b}份，每份有几块？", "每份有", "块"),
        ("{a}个学生平均分成{b}组，每组有多少个学生？", "每组有", "个学生"),
    ],
}
WORD_TEST = {
    "+": [("停车场有{a}辆车，又开进来{b}辆，现在有多少辆车？", "现在有", "辆车")],
    "-": [("篮子里有{a}个鸡蛋，打碎了{b}个，还剩下多少个？", "还剩下", "个")],
    "*": [("一个盒子装{a}支笔，{b}个盒子能装多少支笔？", "能装", "支笔")],
    "/": [("{a}瓶牛奶平均装进{b}个箱子，每个箱子装几瓶？", "每个箱子装", "瓶")],
}


def _numerals(rng: random.Random, a: int, b: int) -> tuple[str, str]:
    mode = rng.random()
    if mode < 0.5:
        return str(a), str(b)
    if mode < 0.85:
        return chinese_numeral(a), chinese_numeral(b)
    return (str(a), chinese_numeral(b)) if rng.random() < 0.5 else (chinese_numeral(a), str(b))


def working(op: str, a: int, b: int) -> str:
    """The steps an answer writes before its result, each small enough to be a fact the model has seen in
    other problems, and counting at most to a one-digit number: + and - take the tens of ``b``, then its
    units (37+45: 37+40=77, 77+5=82); x of a two-digit factor takes its tens, then its units (13x6:
    10x6=60, 6x3=18, 60+18=78), x of two one-digit factors counts up in the larger (3x8: 8x1=8, 8x2=16,
    8x3=24); / counts up in the divisor to a one-digit quotient (24/8: 8x1=8<24, 8x2=16<24, 8x3=24) and
    finds the tens of a larger one first, then counts its units in what is left (96/6: 6x10=60, 96-60=36,
    6x1=6<36 ... 6x6=36, 10+6=16). Products are written larger factor first, a division's divisor first.
    A held-out pair is thus made of steps from training pairs."""
    if op in "+-":
        tens, units = b - b % 10, b % 10
        parts, steps, x = ([tens, units] if tens and units else [b]), [], a
        for part in parts:
            y = x + part if op == "+" else x - part
            steps.append(f"{x}{op}{part}={y}")
            x = y
        return "，".join(steps)
    if op == "*":
        small, large = sorted((a, b))
        if small == 1 or large < 10:
            return "，".join(_product(large, k) for k in range(1, small + 1))
        tens, units = large - large % 10, large % 10
        if not units:
            return _product(tens, small)
        return f"{_product(tens, small)}，{_product(units, small)}，{tens * small}+{units * small}={a * b}"
    quotient = a // b
    tens, units = quotient - quotient % 10, quotient % 10
    if b == 1 or not units:
        return f"{b}×{quotient}={a}"
    if not tens:
        return _count_up(b, quotient, a)
    rest = a - b * tens
    return f"{b}×{tens}={b * tens}，{a}-{b * tens}={rest}，{_count_up(b, units, rest)}，{tens}+{units}={quotient}"


def _count_up(b: int, quotient: int, target: int) -> str:
    """b x 1, b x 2 ... up to ``target``, each product short of it marked (8×7=56<64): whether to stop is
    then read from two neighbouring numbers, not by looking back at the question (unmarked, the model
    counted past the dividend). Every b x k is also a step of other divisions."""
    return "，".join(
        f"{b}×{k}={b * k}" + (f"<{target}" if k < quotient else "") for k in range(1, quotient + 1)
    )


def _product(x: int, y: int) -> str:
    large, small = max(x, y), min(x, y)
    return f"{large}×{small}={x * y}"


# Training questions vary beyond their templates (greetings, filler words, operator words, spaces,
# half-width marks, a missing character), so that no one phrasing carries the answer and words never seen
# in training are passed over; held-out questions are generated as before.
OPERATOR_WORDS = {"+": ["加", "加上"], "-": ["减", "减去"], "*": ["乘以", "乘"], "/": ["除以"]}
OPERATOR_SYMBOLS = {"+": ["+", "＋"], "-": ["-", "－"], "*": ["×", "*", "x"], "/": ["÷", "/"]}
PREFIXES = ["你好，", "老师，", "我想问一下，", "小助手，", "考考你：", "问个问题：", "嗨，", "对了，",
            "顺便问下，"]  # fmt: skip
FILLERS = ["到底", "究竟", "呢", "啊", "呀", "那个", "这个", "具体", "你知道", "能告诉我", "帮我看看",
           "我想知道", "快", "好", "嗯", "现在", "咱们", "大概", "能不能", "可以", "吗"]  # fmt: skip


def _vary(rng: random.Random, question: str, drop: float = 0.0, fillers: float = 0.0) -> str:
    if rng.random() < drop:  # one character missing: the answer must rest on every cue in the question
        chinese = [i for i, c in enumerate(question) if "\u4e00" <= c <= "\u9fff"]
        if len(chinese) > 3:
            i = rng.choice(chinese)
            question = question[:i] + question[i + 1 :]
    if rng.random() < fillers:  # a word the answer does not depend on, at the start or before the end mark
        end = len(question.rstrip("？?。！!"))
        at = rng.choice([0, end])
        question = question[:at] + rng.choice(FILLERS) + question[at:]
    if rng.random() < 0.2:
        question = rng.choice(PREFIXES) + question
    if rng.random() < 0.2:
        question = question.replace("？", "?")
    return question


# Training word problems: their share of the arithmetic questions, and the share of those composed from
# parts (word_problems.py) rather than drawn from WORD_TRAIN.
WORD_SHARE, COMPOSED_SHARE = 0.4, 0.6


def arithmetic_item(rng: random.Random, op: str, a: int, b: int, held_out: bool) -> dict:
    r = solve(op, a, b)
    x, y = _numerals(rng, a, b)
    words = (WORD_TEST if held_out else WORD_TRAIN)[op]
    restated = f"{a}{OPS[op]}{b}"
    steps = f"{restated}：{working(op, a, b)}，所以{restated}等于{r}"
    if rng.random() < (0.3 if held_out else WORD_SHARE):
        question, says, unit = rng.choice(words)
        if not held_out and rng.random() < COMPOSED_SHARE:
            question, says, unit = composed_word_problem(rng, op)
        answer = f"{steps}，{says}{r}{unit}。"
        question = question.format(a=x, b=y)
    else:
        template = rng.choice(BARE_TEST if held_out else BARE_TRAIN)
        o, s = OPS[op], SYMBOLS[op]
        if not held_out:
            o, s = rng.choice(OPERATOR_WORDS[op]), rng.choice(OPERATOR_SYMBOLS[op])
            if rng.random() < 0.15:
                o, s = f" {o} ", f" {s} "
        question = template.format(a=x, b=y, o=o, s=s)
        answer = f"{steps}。"
    if not held_out:
        question = _vary(rng, question, fillers=0.3)
    return {"domain": "arithmetic", "question": question, "answer": answer, "expected": r, "pair": (op, a, b)}


SHARES = {"+": 0.35, "-": 0.35, "*": 0.15, "/": 0.15}  # of the arithmetic questions, per operation


def arithmetic_set(split: str, count: int, seed: int) -> list[dict]:
    """``count`` questions on the split's pairs, ``SHARES`` of them per operation."""
    rng = random.Random(seed)
    held_out = split == "test"
    pools = {op: [p for p in arithmetic_pairs(op) if is_held_out_pair(op, *p) == held_out] for op in OPS}
    out = []
    for op, share in SHARES.items():
        for _ in range(round(count * share)):
            out.append(arithmetic_item(rng, op, *rng.choice(pools[op]), held_out))
    rng.shuffle(out)
    return out


ENGLISH_QUESTIONS = {
    "+": ["What is {a} plus {b}?", "Add {a} and {b}.", "{a} + {b} = ?"],
    "-": ["What is {a} minus {b}?", "Subtract {b} from {a}.", "{a} - {b} = ?"],
    "*": ["What is {a} times {b}?", "Multiply {a} by {b}.", "{a} × {b} = ?"],
    "/": ["What is {a} divided by {b}?", "Divide {a} by {b}.", "{a} ÷ {b} = ?"],
}
ENGLISH_OPS = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}


def english_arithmetic(count: int, seed: int = 11) -> str:
    """``count`` worked English problems on the training pairs, one per line, for the English base's
    corpus: the base knows arithmetic as Phi-1.5 does, and the Chinese adapter reuses its steps."""
    rng = random.Random(seed)
    lines = []
    for item in arithmetic_set("train", count, seed):
        op, a, b = item["pair"]
        said = f"{a} {ENGLISH_OPS[op]} {b}"
        question = rng.choice(ENGLISH_QUESTIONS[op]).format(a=a, b=b)
        lines.append(
            f"{question} {said}: {working(op, a, b).replace('，', ', ')}, so {said} is {solve(op, a, b)}."
        )
    return "\n".join(lines)


# ---- commands for the control app ---------------------------------------------------------------
# The canonical strings the control app accepts (its MT10 instructions and game moves; the same strings
# as the control issue's table, kept here because plugins never import each other).
ARM_COMMANDS = {
    "reach to the goal": ["移动到目标位置", "把手臂伸到目标点", "伸手够到目标", "到达目标"],
    "push the puck to the goal": ["把冰球推到目标", "将冰球推向目标位置", "推动冰球到目标点", "把冰球推过去"],
    "pick up the puck and place it at the goal": [
        "把冰球拿起来放到目标",
        "抓起冰球放到目标位置",
        "拿起冰球放在目标点",
        "捡起冰球再放到目标处",
    ],
    "open the door": ["开门", "把门打开", "打开门", "推开那扇门"],
    "open the drawer": ["打开抽屉", "把抽屉打开", "拉开抽屉", "把抽屉拉出来"],
    "close the drawer": ["关上抽屉", "把抽屉关上", "推上抽屉", "把抽屉合上"],
    "press the button from the top": [
        "从上面按下按钮",
        "从上往下按按钮",
        "从顶部按按钮",
        "把按钮从上面按下去",
    ],
    "insert the peg from the side": [
        "从侧面插入插销",
        "把插销从侧面插进去",
        "从旁边插入插销",
        "侧着插入插销",
    ],
    "open the window": ["打开窗户", "把窗户打开", "推开窗户", "开窗"],
    "close the window": ["关上窗户", "把窗户关上", "关窗", "合上窗户"],
}
GAME_COMMANDS = {
    "turn left": ["向左转", "左转", "往左拐", "转向左边"],
    "turn right": ["向右转", "右转", "往右拐", "转向右边"],
    "move forward": ["向前走", "前进", "往前移动", "向前移动"],
    "move back": ["后退", "向后退", "往后走", "倒退"],
    "stop": ["停下", "停止", "别动了", "站住"],
    "pause": ["暂停", "先暂停一下", "暂停游戏", "暂时停一下"],
    "go": ["开始", "出发", "走吧", "开始行动"],
}
COMMANDS = {**ARM_COMMANDS, **GAME_COMMANDS}
WRAP_TRAIN = [
    "{c}",
    "请{c}",
    "请{c}。",
    "帮我{c}",
    "{c}吧",
    "麻烦{c}",
    "现在{c}",
    "{c}！",
    "快{c}",
    "机器人，{c}",
]
WRAP_TEST = ["能不能{c}？", "麻烦你{c}，谢谢。", "请你马上{c}", "我想让你{c}"]
# Composed training wrappers: an opening and a closing the answer does not depend on, so the command is
# found inside words around it on either side (no held-out wrapper is one of them: tested)
WRAP_OPENINGS = ["", "", "请", "帮我", "麻烦", "现在", "快", "机器人，", "好，", "先", "然后", "接下来",
                 "下一步，", "那就", "喂，", "小机器人，", "请帮我", "给我", "快点", "好了，"]  # fmt: skip
WRAP_CLOSINGS = ["", "", "。", "！", "吧", "吧。", "一下", "一下吧", "，快点", "，小心点", "，慢一点",
                 "，动作轻一点", "，就现在", "，别等了", "，做完告诉我", "，开始吧", "，听到了吗", "，对准一点"]  # fmt: skip


def command_set(split: str, rng: random.Random | None = None, composed: float = 0.0) -> list[dict]:
    """Every (command phrasing, wrapper) of the split: training and held-out wrappers are disjoint. With
    ``rng``, a ``composed`` share of the training wrappers is an opening and a closing drawn afresh."""
    wraps = WRAP_TEST if split == "test" else WRAP_TRAIN
    out = []
    for target, phrases in COMMANDS.items():
        for phrase in phrases:
            for wrap in wraps:
                if rng is not None and rng.random() < composed:
                    wrap = rng.choice(WRAP_OPENINGS) + "{c}" + rng.choice(WRAP_CLOSINGS)
                question = wrap.format(c=phrase)
                out.append({"domain": "commands", "question": question, "answer": target, "expected": target})
    return out


# ---- questions about this project ---------------------------------------------------------------
APPS = {  # app: (what it does, the key fact of that answer)
    "vit": ("用视觉Transformer对摄像头画面做实时图像分类", "图像分类"),
    "asr": ("把语音识别成文字，用的是Conformer模型", "语音识别"),
    "assistant": ("是语音助手：先语音识别，再聊天回答，最后语音合成", "语音助手"),
    "chat": ("是聊天机器人，流式输出回答，也能把英文模型用LoRA适配到中文", "聊天机器人"),
    "control": ("用Transformer策略控制机器人和游戏，从示范中学习", "控制机器人"),
    "timeseries": ("用PatchTST做时间序列预测，比如能源、股市和传感器数据", "时间序列预测"),
    "tts": ("把文字转成语音", "文字转成语音"),
}
# kind: (training question templates, held-out question templates, answer, key facts)
PROJECT_KINDS = {
    "what": (
        [
            "{app}应用是做什么的？",
            "{app}能干什么？",
            "介绍一下{app}这个应用。",
            "{app}有什么用？",
            "{app}是什么？",
            "{app}可以做哪些事情？",
            "给我讲讲{app}。",
            "{app}的作用是什么？",
        ],
        ["{app}是干嘛用的？", "说说{app}应用的功能。"],
        "{app}应用{what}。用 apps run {app} 启动。",
        ["{fact}"],
    ),
    "run": (
        [
            "怎么启动{app}？",
            "如何运行{app}应用？",
            "{app}怎么用？",
            "用什么命令运行{app}？",
            "{app}怎么打开？",
            "运行{app}要输入什么？",
            "怎样开始使用{app}？",
            "打开{app}应用的方法。",
        ],
        ["我想用{app}，该输入什么命令？", "启动{app}的命令是什么？"],
        "在终端输入 apps run {app} 就能启动{app}应用。",
        ["apps run {app}"],
    ),
    "train": (
        [
            "怎么训练{app}的模型？",
            "如何微调{app}？",
            "{app}的模型怎么训练？",
            "{app}怎么微调？",
            "用自己的数据训练{app}，怎么做？",
            "训练{app}模型的命令。",
        ],
        ["我想重新训练{app}，怎么做？"],
        "用 apps train {app} --recipe 配方名 训练{app}的模型。",
        ["apps train {app}"],
    ),
    "eval": (
        [
            "怎么评估{app}的模型？",
            "如何测量{app}的效果？",
            "{app}的准确率怎么测？",
            "评估{app}的命令。",
            "怎么检验{app}模型的准确率？",
            "怎么看{app}模型的效果？",
        ],
        ["想知道{app}模型好不好，用什么命令？"],
        "用 apps eval {app} 在留出的数据上评估{app}的模型。",
        ["apps eval {app}"],
    ),
    "prepare": (
        [
            "离线时{app}怎么准备模型？",
            "没有网络怎么给{app}准备模型？",
            "{app}的默认模型怎么准备？",
            "离线使用{app}之前要做什么？",
            "不联网怎么用{app}？",
            "{app}第一次用要准备什么？",
        ],
        ["断网的时候{app}要先运行什么？"],
        "运行 apps prepare {app}：有网络就下载模型，离线就自己构建默认模型。",
        ["apps prepare {app}"],
    ),
}
GENERAL = [  # (training questions, held-out questions, answer, key facts)
    (
        ["有哪些应用？", "怎么查看所有应用？", "列出所有的应用。", "都有哪些应用可以用？"],
        ["这个项目里都有什么应用？"],
        "输入 apps list 可以列出所有应用：vit、asr、assistant、chat、control、timeseries 和 tts。",
        ["apps list"],
    ),
    (
        ["怎么打开网页演示？", "如何启动演示页面？", "有图形界面吗？", "网页版怎么打开？"],
        ["我想在浏览器里试用，怎么做？"],
        "运行 apps demo 会打开一个网页演示，每个应用一个标签页。",
        ["apps demo"],
    ),
    (
        [
            "这个项目是做什么的？",
            "介绍一下这个项目。",
            "transformer-apps是什么？",
            "说一下transformer-apps。",
        ],
        ["这个框架有什么用？"],
        "transformer-apps 把Transformer模型做成应用，命令行是 apps，例如 apps run chat。",
        ["transformer-apps", "apps"],
    ),
    (
        ["你是谁？", "你叫什么名字？", "你能做什么？", "说说你自己。"],
        ["请介绍一下你自己。"],
        "我是 transformer-apps 的离线聊天助手，在本机运行：会算中文算术题，能把中文指令变成控制命令，"
        "也能回答关于这个项目的问题。",
        ["聊天助手"],
    ),
]


# Training questions are also composed from a kind's cue words and a way of naming the app, so that the
# model learns which words choose the answer (the app's name and the kind's verb), not whole templates.
PROJECT_CUES = {  # kind: (cues before the app, cues after it)
    "what": (
        ["介绍一下", "给我讲讲", "讲一讲", "解释一下", "我想了解", "谁能介绍"],
        ["是做什么的", "能干什么", "有什么用", "是什么", "能做哪些事", "的作用是什么", "有哪些功能",
         "主要用来做什么", "是干什么的", "能帮我做什么", "的用途", "负责什么"],
    ),
    "run": (
        ["怎么启动", "如何运行", "用什么命令运行", "怎样打开", "怎么开始用", "教我启动", "运行"],
        ["怎么启动", "怎么用", "怎么打开", "怎么运行", "要输入什么命令", "的启动命令", "从哪里开始用",
         "怎么开", "怎么跑", "怎样使用", "用哪条命令打开"],
    ),
    "train": (
        ["怎么训练", "如何微调", "用自己的数据训练", "训练", "微调", "怎样训练"],
        ["怎么训练", "的模型怎么训练", "怎么微调", "如何用自己的数据训练", "的训练命令", "能训练吗",
         "的模型能微调吗", "训练要用什么命令"],
    ),
    "eval": (
        ["怎么评估", "如何测量", "评估", "检验", "测一测", "怎样测试"],
        ["怎么评估", "的准确率怎么测", "效果怎么测", "如何测量效果", "的评估命令", "怎么检验",
         "的准确率是多少", "的模型准确吗", "测试效果用什么命令"],
    ),
    "prepare": (
        ["离线使用", "没有网络时准备", "不联网运行", "第一次使用", "离线准备"],
        ["离线怎么准备模型", "没有网络怎么用", "不联网怎么准备", "第一次用要准备什么",
         "的默认模型怎么准备", "离线前要做什么", "没网能用吗", "要先准备什么"],
    ),
}  # fmt: skip
APP_NAMES = ["{app}", "{app}应用", "{app}这个应用", "应用{app}", "{app}的模型"]


def _composed_question(rng: random.Random, kind: str, app: str) -> str:
    before, after = PROJECT_CUES[kind]
    name = rng.choice(APP_NAMES).format(app=app)
    if rng.random() < 0.5:
        return f"{rng.choice(before)}{name}{rng.choice(['？', '。', ''])}"
    return f"{name}{rng.choice(after)}{rng.choice(['？', '？', ''])}"


def project_set(split: str, rng: random.Random | None = None, composed: float = 0.0) -> list[dict]:
    """One item per (app, kind, question template) of the split; with ``rng``, a ``composed`` share of the
    training questions is composed from the kind's cues instead (a fresh draw per call)."""
    out = []
    pick = 1 if split == "test" else 0
    for app, (what, fact) in APPS.items():
        for kind, questions in PROJECT_KINDS.items():
            answer = questions[2].format(app=app, what=what)
            facts = [f.format(app=app, fact=fact) for f in questions[3]]
            for question in questions[pick]:
                question = question.format(app=app)
                if rng is not None and rng.random() < composed:
                    question = _composed_question(rng, kind, app)
                out.append({"domain": "project", "question": question, "answer": answer, "expected": facts})
    for questions in GENERAL:
        for question in questions[pick]:
            out.append(
                {"domain": "project", "question": question, "answer": questions[2], "expected": questions[3]}
            )
    return out


# ---- the sets and their scoring -----------------------------------------------------------------
TEST_ARITHMETIC = 240
TRAIN_ARITHMETIC = 16000
REPEAT = {"commands": 2, "project": 10}  # small domains repeated in training, so each is seen often


def domain_items(split: str, seed: int = 7, draws: int = 1) -> list[dict]:
    """The generated items of ``split`` (train or test), fixed for a seed. ``draws`` > 1 makes the
    training items that many times as many (arithmetic, the varied project questions and the commands'
    composed wrappers newly drawn), so one epoch over them meets more distinct questions than epochs over
    one draw."""
    if split not in ("train", "test"):
        raise ValueError(f"split is {split!r}; expected train or test")
    if split == "test":
        return arithmetic_set("test", TEST_ARITHMETIC, seed + 1) + command_set("test") + project_set("test")
    items = arithmetic_set("train", TRAIN_ARITHMETIC * draws, seed)
    rng = random.Random(seed)
    projects = [
        dict(item, question=_vary(rng, item["question"], drop=0.3, fillers=0.3))
        for _ in range(REPEAT["project"] * draws)
        for item in project_set("train", rng, composed=0.5)
    ]
    commands = [
        item for _ in range(REPEAT["commands"] * draws) for item in command_set("train", rng, composed=0.5)
    ]
    items += commands + projects
    rng.shuffle(items)
    return items


OTHER_PHRASINGS = Path(__file__).parent / "data" / "arithmetic_other_phrasings.jsonl"


def other_phrasings() -> list[dict]:
    """A second held-out arithmetic set: 68 questions on held-out pairs in 17 phrasings written apart from
    the templates ("96和64相加等于多少？", "把八十平均分成四份，每份是多少？"), committed before the
    training it judges. Scored like arithmetic, reported on its own row, used for no choice."""
    with open(OTHER_PHRASINGS, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [dict(row, domain="arithmetic_phrasings", pair=tuple(row["pair"])) for row in rows]


def is_correct(item: dict, answer: str) -> bool:
    """Exact match: the last number of an arithmetic answer, the whole command (without end punctuation),
    every key fact of a project answer."""
    if item["domain"].startswith("arithmetic"):
        return last_number(answer) == item["expected"]
    if item["domain"] == "commands":
        return answer.strip().rstrip("。.!！").strip() == item["expected"]
    return all(fact in answer for fact in item["expected"])
