"""Training word problems composed from parts: a scene, a thing with its measure word, people, and a verb
or a question ending that carries the operation. With six fixed templates per operation the model took a
word it had not seen as any operation ("吃了" read as x); composed problems make the verb and the question
ending the cues, and the scene one more variation. Training only: held-out problems keep their own
templates (``domains.WORD_TEST``), and none of their scenes, things or verbs is used here (tested). No
torch.
"""

from __future__ import annotations

import random

THINGS = {  # measure word -> things counted with it
    "个": ["苹果", "梨", "桃子", "气球", "面包", "西瓜", "玩具", "杯子"],
    "本": ["书", "本子", "故事书", "杂志"],
    "只": ["小鸟", "小猫", "鸭子", "兔子", "小鸡"],
    "条": ["鱼", "毛巾", "裙子"],
    "张": ["纸", "邮票", "卡片", "照片"],
    "颗": ["星星", "糖", "珠子", "纽扣"],
    "朵": ["花", "红花"],
    "棵": ["树", "白菜"],
    "块": ["饼干", "蛋糕", "积木", "巧克力"],
    "袋": ["米", "面粉", "薯片"],
    "把": ["椅子", "伞", "尺子"],
    "件": ["衣服", "礼物"],
    "双": ["鞋", "袜子", "筷子"],
    "头": ["牛", "猪"],
    "片": ["叶子", "面包片"],
    "封": ["信"],
    "顶": ["帽子"],
}
PLACES = ["桌子上", "房间里", "教室里", "花园里", "盘子里", "商店里", "仓库里", "厨房里", "书包里", "果园里",
          "草地上", "农场里", "超市里", "柜子里", "图书馆里", "院子里", "架子上", "家里"]  # fmt: skip
PEOPLE = ["小明", "小红", "小刚", "妈妈", "爸爸", "老师", "小李", "王阿姨", "爷爷", "奶奶", "哥哥", "姐姐",
          "弟弟", "妹妹", "小华", "张叔叔"]  # fmt: skip
GROUPS = ["袋", "盘", "排", "层", "组", "筐", "包", "堆", "串", "束", "桌", "行", "队"]  # containers, rows
DOING = ["买", "做", "收", "摘", "画", "写", "折", "种", "捡", "拿"]
MORE = ["又买来了", "又拿来了", "又放进了", "又送来了", "又添了", "又做了", "又摘了", "又运来了", "又搬来了",
        "又找到了", "又收到了", "又借来了", "又多了", "又带来了", "又增加了", "后来又得到"]  # fmt: skip
LESS = ["拿走了", "卖掉了", "用掉了", "送出了", "吃掉了", "丢了", "借走了", "搬走了", "运走了", "扔掉了",
        "弄坏了", "少了", "分给{q}", "给了{q}", "送给{q}", "被{q}拿走了"]  # fmt: skip
# How a + or - story opens says nothing of the operation (a "{p}买了" opening is also x's: "{p}买了{b}袋"),
# so the event and the question ending must carry it.
OPENINGS = ["{place}有{a}{u}{o}", "{p}有{a}{u}{o}", "{p}{do}了{a}{u}{o}", "{p}原来有{a}{u}{o}"]
ENDINGS = {  # (question ending, what the answer says before the result, whether the thing follows the unit)
    "+": [("现在一共有多少{u}{o}？", "一共有", True), ("现在有多少{u}？", "现在有", False),
          ("一共有几{u}{o}？", "一共有", True), ("总共有多少{u}？", "总共有", False),
          ("这时有多少{u}{o}？", "这时有", True), ("合起来是多少{u}？", "合起来是", False)],
    "-": [("还剩多少{u}？", "还剩", False), ("还有几{u}{o}？", "还有", True), ("剩下多少{u}？", "剩下", False),
          ("现在还有多少{u}？", "现在还有", False), ("还剩几{u}{o}？", "还剩", True)],
}  # fmt: skip
# (question, says, with the thing as in ENDINGS or a unit of its own); says None: the story's {start} and
# {end} are drawn from OPENINGS and ENDINGS
STORIES = {
    "+": [
        ("{start}，{more}{b}{u}，{end}", None, None),
        ("{start}，{q}{more}{b}{u}，{end}", None, None),
        ("{p}有{a}{u}{o}，{q}有{b}{u}{o}，他们一共有多少{u}{o}？", "一共有", True),
        ("{p}第一天{do}了{a}{u}{o}，第二天{do}了{b}{u}，两天一共{do}了多少{u}？", "一共{do}了", False),
        ("{p}有{a}{u}{o}，比{q}少{b}{u}，{q}有多少{u}？", "{q}有", False),
    ],
    "-": [
        ("{start}，{less}{b}{u}，{end}", None, None),
        ("{p}要{do}{a}{u}{o}，已经{do}了{b}{u}，还要{do}多少{u}？", "还要{do}", False),
        ("{p}有{a}{u}{o}，比{q}多{b}{u}，{q}有几{u}？", "{q}有", False),
        ("{p}有{a}{u}{o}，{q}有{b}{u}{o}，{p}比{q}多几{u}？", "多", False),
    ],
    "*": [
        ("每{g}有{a}{u}{o}，{b}{g}一共有多少{u}{o}？", "一共有", True),
        ("{p}每天{do}{a}{u}{o}，{b}天一共{do}多少{u}？", "一共{do}", False),
        ("一{g}{o}有{a}{u}，{b}{g}共有几{u}？", "共有", False),
        ("{b}个小朋友，每人有{a}{u}{o}，一共有多少{u}？", "一共有", False),
        ("{p}{do}了{b}{g}{o}，每{g}{a}{u}，一共{do}了多少{u}？", "一共{do}了", False),
        ("一{u}{o}卖{a}元，{p}买了{b}{u}，一共花了多少元？", "一共花了", "元"),
    ],
    "/": [
        ("{a}{u}{o}平均分给{b}个人，每人分到几{u}？", "每人分到", False),
        ("把{a}{u}{o}平均分成{b}{g}，每{g}有多少{u}？", "每{g}有", False),
        ("{p}{b}天{do}了{a}{u}{o}，平均每天{do}多少{u}？", "每天{do}", False),
        ("{a}{u}{o}平均放在{b}{g}里，每{g}几{u}？", "每{g}", False),
        ("有{a}{u}{o}，每{b}{u}放一{g}，可以放几{g}？", "可以放", "{g}"),
        ("一{u}{o}{b}元，{a}元可以买几{u}？", "可以买", False),
    ],
}


def composed_word_problem(rng: random.Random, op: str) -> tuple[str, str, str]:
    """A training word problem for ``op``: ``(question with {a} and {b} left, says, unit)``, as the fixed
    templates of ``domains.WORD_TRAIN`` give them."""
    question, says, with_thing = rng.choice(STORIES[op])
    if says is None:
        ending, says, with_thing = rng.choice(ENDINGS[op])
        question = question.replace("{end}", ending).replace("{start}", rng.choice(OPENINGS))
    unit = rng.choice(list(THINGS))
    p, q = rng.sample(PEOPLE, 2)
    parts = {
        "u": unit,
        "o": rng.choice(THINGS[unit]),
        "p": p,
        "q": q,
        "place": rng.choice(PLACES),
        "g": rng.choice(GROUPS),
        "do": rng.choice(DOING),
        "more": rng.choice(MORE),
        "less": rng.choice(LESS).format(q=q),
    }
    fill = dict(parts, a="{a}", b="{b}")
    if isinstance(with_thing, str):  # a unit of its own (元, the group)
        unit_said = with_thing.format(**fill)
    else:
        unit_said = parts["u"] + (parts["o"] if with_thing else "")
    return question.format(**fill), says.format(**fill), unit_said
