"""Chat plugin, the fast parts (no torch): templates, stop markers, dataset parsing, metrics."""

from __future__ import annotations

import json

import pytest

from core.errors import AppsError
from plugins.chat import data as chat_data
from plugins.chat.metrics import cjk_share, rouge_l, sentence_bleu4, text_scores
from plugins.chat.templates import (
    TEMPLATES,
    ChatTemplate,
    cut_at_stop,
    get_template,
    holdback,
    load_template,
    save_template,
)

CONV = [
    {"role": "user", "content": "你好"},
    {"role": "assistant", "content": "您好！"},
    {"role": "user", "content": "1+1?"},
]


def test_default_template_matches_llamafactory_baseline():
    text = get_template("default").render(CONV, eos="</s>")
    assert text == "Human: 你好\nAssistant:您好！</s>\nHuman: 1+1?\nAssistant:"


def test_alpaca_and_chatml_render_and_system():
    alpaca = get_template("alpaca").render(CONV[:1])
    assert alpaca.startswith("Below is an instruction") and alpaca.endswith("### Response:\n")
    chatml = get_template("chatml").render([{"role": "system", "content": "S"}, *CONV[:1]])
    assert (
        chatml == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"
    )


def test_segments_mark_only_answers():
    segments = get_template("default").segments(CONV[:2], eos="E")
    assert [flag for _, flag in segments] == [False, True]
    assert segments[1][0] == "您好！E\n"


def test_unknown_template_lists_known_ones():
    with pytest.raises(AppsError) as info:
        get_template("vicuna")
    assert "default" in str(info.value) and "chatml" in str(info.value) and "model" in str(info.value)


def test_template_roundtrip_and_jinja_agree(tmp_path):
    jinja2 = pytest.importorskip("jinja2")
    for name, template in TEMPLATES.items():
        save_template(template, tmp_path)
        loaded = load_template(tmp_path)
        assert isinstance(loaded, ChatTemplate) and loaded == template
        rendered = jinja2.Template(template.jinja()).render(messages=CONV[:2], eos_token="<e>")
        assert rendered == template.render(CONV[:2], eos="<e>"), name


def test_stop_marker_cut_and_holdback():
    stops = get_template("default").stops()
    assert cut_at_stop("答案是2。\nHuman: 再问", stops) == ("答案是2。", True)
    assert cut_at_stop("答案是2。", stops) == ("答案是2。", False)
    assert holdback("答案\nHum", stops) == 4  # might become "\nHuman:" -> keep back while streaming
    assert holdback("答案", stops) == 0


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_alpaca_jsonl_malformed_lines_reported_with_file_and_line(tmp_path):
    path = _write(
        tmp_path / "d.jsonl",
        [
            json.dumps({"instruction": "问", "input": "", "output": "答"}, ensure_ascii=False),
            "{not json",
            json.dumps({"instruction": "问2"}),
            json.dumps({"instruction": "问3", "output": "答3", "history": [["a", "b"]]}, ensure_ascii=False),
        ],
    )
    conversations, report = chat_data.load_file(path)
    assert report.total == 4 and report.kept == 2 and report.malformed == 2
    assert report.problems[0].startswith(f"{path}:2:") and report.problems[1].startswith(f"{path}:3:")
    assert [m["role"] for m in conversations[1]["messages"]] == ["user", "assistant", "user", "assistant"]
    with pytest.raises(AppsError) as info:
        chat_data.load_file(path, on_error="fail")
    assert info.value.where == f"{path}:2"


def test_json_array_line_numbers_and_sharegpt(tmp_path):
    records = [
        {
            "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}],
            "system": "S",
        },
        {"conversations": [{"from": "human", "value": "only a question"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
    ]
    path = tmp_path / "d.json"
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n", encoding="utf-8")
    conversations, report = chat_data.load_file(path)
    assert report.kept == 2 and report.problems[0].startswith(f"{path}:3:")
    assert conversations[0]["messages"][0] == {"role": "system", "content": "S"}


def test_empty_or_all_malformed_dataset_stops_with_counts(tmp_path):
    path = _write(tmp_path / "bad.jsonl", ["{}", "[1]", "nope"])
    with pytest.raises(AppsError) as info:
        chat_data.resolve_dataset(str(path))
    assert "3 read, 3 malformed" in str(info.value)
    empty = _write(tmp_path / "empty.jsonl", [""])
    with pytest.raises(AppsError, match="0 read"):
        chat_data.resolve_dataset(str(empty))


def test_dataset_info_folder_with_column_mapping(tmp_path):
    _write(tmp_path / "mine.json", [json.dumps([{"q": "问题", "a": "回答"}], ensure_ascii=False)])
    (tmp_path / "dataset_info.json").write_text(
        json.dumps({"mine": {"file_name": "mine.json", "columns": {"prompt": "q", "response": "a"}}})
    )
    conversations, reports = chat_data.resolve_dataset(f"{tmp_path}:mine")
    assert conversations[0]["messages"][-1]["content"] == "回答"
    conversations, _ = chat_data.resolve_dataset("mine", dataset_dir=str(tmp_path))
    assert len(conversations) == 1
    with pytest.raises(AppsError, match="not in"):
        chat_data.resolve_dataset("minee", dataset_dir=str(tmp_path))


def test_shipped_chinese_set_is_large_varied_and_split_fixed():
    rows = [json.loads(line) for line in chat_data.ZH_FILE.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 300 and len({r["instruction"] for r in rows}) == len(rows)
    assert {"日常生活", "客服", "算术", "解释"} <= {r["category"] for r in rows}
    assert all(cjk_share(r["output"]) > 0.5 for r in rows if r["category"] != "语言")
    train, test = chat_data.load_zh_instruct("train"), chat_data.load_zh_instruct("test")
    written = [c for c in train if not c["source"].startswith("generated:")]
    assert 0.05 < len(test) / (len(written) + len(test)) < 0.15
    assert not {c["source"] for c in train} & {c["source"] for c in test}
    assert [c["source"] for c in chat_data.load_zh_instruct("test")] == [c["source"] for c in test]
    domains = {c["source"].split(":")[1] for c in train if c["source"].startswith("generated:")}
    assert domains == {"arithmetic", "commands", "project"}


def test_chinese_numerals_and_the_solver():
    from plugins.chat.domains import arithmetic_pairs, chinese_numeral, last_number, solve

    assert [chinese_numeral(n) for n in (0, 7, 10, 15, 40, 62, 100)] == [
        "零", "七", "十", "十五", "四十", "六十二", "一百"
    ]  # fmt: skip
    assert last_number("3加5等于8，一共有8个苹果。") == 8 and last_number("没有") is None
    for op in "+-*/":
        for a, b in arithmetic_pairs(op):
            r = solve(op, a, b)
            assert 0 <= a <= 100 and 0 <= b <= 100 and r >= 0
            assert op not in "*/" or (a * b <= 100 if op == "*" else a % b == 0)


def test_generated_answers_are_right_and_the_held_out_split_is_disjoint():
    from plugins.chat import domains

    train, test = domains.domain_items("train", draws=3), domains.domain_items("test")  # the recipe's draws
    assert domains.domain_items("test") == test  # fixed
    # more draws: more distinct questions, not the same ones repeated
    once = {item["question"] for item in domains.domain_items("train") if item["domain"] == "arithmetic"}
    assert len({item["question"] for item in train if item["domain"] == "arithmetic"}) > 2.5 * len(once)
    for item in train + test:
        assert domains.is_correct(item, item["answer"]), item
    # no held-out (operation, operands) pair in training, in either order for + and x
    seen = {item["pair"] for item in train if item["domain"] == "arithmetic"}
    seen |= {(op, b, a) for op, a, b in seen if op in "+*"}
    held = [item for item in test if item["domain"] == "arithmetic"]
    assert len(held) >= 200 and not {item["pair"] for item in held} & seen
    assert {item["pair"][0] for item in held} == {"+", "-", "*", "/"}
    # no held-out phrasing in training: every held-out question differs from every training one, and no
    # held-out template's fixed text is a training template's
    questions = {item["question"] for item in train}
    assert not {item["question"] for item in test} & questions
    assert not set(domains.BARE_TEST) & set(domains.BARE_TRAIN)
    assert not set(domains.WRAP_TEST) & set(domains.WRAP_TRAIN)
    # commands in wrappers composed afresh for each draw, none of them a held-out one
    commands = {item["question"] for item in train if item["domain"] == "commands"}
    assert len(commands) > 2 * len(domains.command_set("train"))
    composed = {o + "{c}" + c for o in domains.WRAP_OPENINGS for c in domains.WRAP_CLOSINGS}
    assert not composed & set(domains.WRAP_TEST)
    spelled = [domains.chinese_numeral(i["pair"][2]) in i["question"] for i in held if i["pair"][2] > 10]
    assert 0.2 < sum(spelled) / len(spelled) < 0.8  # operands in Chinese numerals and in Arabic ones
    # the domain is scored by the last number: a wrong result is wrong
    item = held[0]
    assert not domains.is_correct(
        item, item["answer"].replace(str(item["expected"]), str(item["expected"] + 1))
    )


def test_composed_word_problems_use_no_held_out_or_validation_words():
    import random

    from plugins.chat import domains
    from plugins.chat.word_problems import composed_word_problem

    # scenes, things and verbs of domains.WORD_TEST and of benchmarks/chat_validate.py's own phrasings
    reserved = ["停车场", "开进", "辆", "鸡蛋", "篮子", "打碎", "盒", "装", "牛奶", "箱", "操场", "同学", "又来了",
                "橘子", "吃了", "坐", "铅笔", "青蛙", "跳进", "果汁", "卖出", "游客", "上来", "船", "飞走", "观众",
                "散场", "电影院", "水桶", "倒出", "蜘蛛", "腿", "糖果", "重", "摆", "花瓶", "插", "布", "运动员",
                "站成", "列", "一样多", "上午", "下午", "接着"]  # fmt: skip
    rng = random.Random(0)
    for op in "+-*/":
        for _ in range(500):
            question, says, unit = composed_word_problem(rng, op)
            text = question + says + unit
            assert not [word for word in reserved if word in text], text
            assert question.count("{a}") == question.count("{b}") == 1, question
            r = domains.solve(op, 12, 3)
            assert domains.last_number(f"{says}{r}{unit}。") == r


def test_the_working_is_true_and_built_from_steps_seen_in_training():
    import re

    from plugins.chat import domains

    step = re.compile(r"^(\d+)([-+×])(\d+)=(\d+)(?:<(\d+))?$")  # a product short of its target says so
    for op in "+-*/":
        for a, b in domains.arithmetic_pairs(op):
            steps = [step.match(text).groups() for text in domains.working(op, a, b).split("，")]
            for x, sign, y, z, short_of in steps:
                assert int(z) == {"+": int(x) + int(y), "-": int(x) - int(y), "×": int(x) * int(y)}[sign]
                assert short_of is None or int(z) < int(short_of)
            x, sign, y, z, _ = steps[-1]
            if op == "/" and sign == "×":  # counted up to divisor x quotient = dividend
                assert (int(x), int(y), int(z)) == (b, a // b, a)
            else:
                assert int(z) == domains.solve(op, a, b), (op, a, b)
            assert len(steps) <= 12  # counting goes to a one-digit number only
    # a held-out pair's answer is made of steps that training answers show: the model composes, not recalls
    # (a count's "<target" mark compares two numbers; the step before it is what training must show)
    seen = {
        s for item in domains.domain_items("train") for s in re.findall(r"\d+[-+×]\d+=\d+", item["answer"])
    }
    held = [i for i in domains.domain_items("test") if i["domain"] == "arithmetic"]
    steps = [s.split("<")[0] for i in held for s in domains.working(*i["pair"]).split("，") if "=" in s]
    assert sum(s in seen for s in steps) / len(steps) > 0.9
    # the English base's worked problems are training pairs too
    said = re.compile(r"(\d+) (plus|minus|times|divided by) (\d+) is (\d+)\.$")
    lines = domains.english_arithmetic(2000).splitlines()
    ops = {"plus": "+", "minus": "-", "times": "*", "divided by": "/"}
    for line in lines:
        a, word, b, r = said.search(line).groups()
        op, a, b = ops[word], int(a), int(b)
        assert not domains.is_held_out_pair(op, a, b) and int(r) == domains.solve(op, a, b), line


def test_every_command_target_is_accepted_by_the_control_app():
    from core import get_manager
    from plugins.chat.domains import ARM_COMMANDS, COMMANDS

    apps = get_manager().apps()
    if "control" not in apps or not hasattr(apps["control"], "command"):
        pytest.skip("the control app (or its command method) is not installed")
    control = apps["control"]()
    for target in COMMANDS:
        meant = control.command(target)
        assert meant is not None, target
        if target in ARM_COMMANDS:
            assert meant == target, (target, meant)


def test_cjk_share():
    assert cjk_share("你好") == 1.0
    assert cjk_share("hello") == 0.0
    assert cjk_share(["你好ab", "12，。"]) == 0.5  # digits and punctuation do not count
    assert cjk_share("\ufffd你") == 0.5  # broken bytes count against the share


def test_bleu_and_rouge_on_known_inputs():
    assert sentence_bleu4(list("今天天气很好"), list("今天天气很好")) == pytest.approx(1.0)
    assert sentence_bleu4(list("今天天气很好"), list("明日")) < 0.05
    partial = sentence_bleu4(list("今天天气很好啊"), list("今天天气很差啊"))
    assert 0.2 < partial < 0.9
    assert rouge_l(["a", "b", "c", "d"], ["a", "c", "d"]) == pytest.approx(2 * 1 * 0.75 / 1.75)
    scores = text_scores(["今天天气很好"], ["今天天气很好"])
    assert scores["bleu4"] == pytest.approx(100.0) and scores["rouge_l"] == pytest.approx(100.0)
    assert text_scores(["完全不同"], ["今天天气很好"])["rouge_l"] == 0.0


def test_offline_without_prepared_default_says_to_prepare(tmp_path, monkeypatch):
    from plugins.chat import model as chat_model

    monkeypatch.setenv("APPS_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(AppsError) as info:
        chat_model.resolve_model_ref(None)
    assert "apps prepare chat" in str(info.value)
    default = tmp_path / "models" / "chat" / "default"
    default.mkdir(parents=True)
    (default / "run.json").write_text("{}")
    assert chat_model.resolve_model_ref(None) == str(default)
    with pytest.raises(AppsError, match="prepare"):
        chat_model.resolve_model_ref(chat_model.TINY_BASE)


def test_model_specs_resolve_through_core(tmp_path, monkeypatch):
    from plugins.chat import model as chat_model

    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    ref = chat_model.resolve_chat_model("./m")
    assert ref.kind == "folder" and ref.location == str((tmp_path / "m").resolve())
    assert chat_model.resolve_chat_model("org/name").kind == "hub"
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(AppsError, match="not a causal language model"):
        chat_model.resolve_chat_model("model.onnx")


def test_offline_prepare_builds_the_chain_and_rebuilds_the_adapter_on_a_new_base(tmp_path, monkeypatch):
    from plugins.chat import prepare as chat_prepare
    from plugins.chat.app import ChatApp

    monkeypatch.setenv("APPS_HOME", str(tmp_path))
    calls = []

    def build(app, recipe_name, folder=None, overrides=(), force=False, **_):
        calls.append((recipe_name, folder, dict(overrides), force))
        return folder or tmp_path / "models" / "chat" / "default"

    monkeypatch.setattr(chat_prepare, "build_default", build)
    monkeypatch.setattr(chat_prepare, "is_offline", lambda: True)
    base = tmp_path / "models" / "chat" / "tiny-en-base"
    chat_prepare.prepare(ChatApp())
    assert calls == [("tiny-en-base", base, {}, False), ("tiny-zh-lora", None, {"model": str(base)}, True)]
    monkeypatch.setattr(chat_prepare, "default_is_built", lambda app_name, folder=None: True)
    calls.clear()
    chat_prepare.prepare(ChatApp())
    assert [force for *_, force in calls] == [False, False], "a built chain is left as it is"
    calls.clear()
    chat_prepare.prepare(ChatApp(), force=True)
    assert [force for *_, force in calls] == [True, True]


def test_chat_recipes_validate():
    from core.plugins import get_manager
    from core.recipes import load_recipe
    from plugins.chat.recipe import ChatRecipe

    manager = get_manager()
    names = set(manager.recipes("chat"))
    assert {"phi15-zh-lora", "phi15-zh-lora-orin-nx", "tiny-en-base", "tiny-zh-lora"} <= names
    phi = load_recipe(ChatRecipe, manager.recipe_path("chat", "phi15-zh-lora"))
    assert (phi.lora.r, phi.lora.alpha, phi.lora.dropout) == (8, 16, 0.0)
    assert phi.lora.target_modules == ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"]
    assert (phi.learning_rate, phi.num_epochs, phi.batch_size, phi.gradient_accumulation_steps) == (
        5e-5,
        3,
        2,
        8,
    )
    assert (phi.cutoff_len, phi.lr_scheduler, phi.precision, phi.template) == (
        1024,
        "cosine",
        "fp16",
        "default",
    )
    nx = load_recipe(ChatRecipe, manager.recipe_path("chat", "phi15-zh-lora-orin-nx"))
    assert nx.gradient_checkpointing and nx.batch_size * nx.gradient_accumulation_steps == 16
    from core.profiles import PROFILES
    from plugins.chat.app import ChatApp

    board = ChatApp.profile_settings(PROFILES["orin-nx-16gb"])
    assert {key: getattr(nx, key) for key in board} == board, "the recipe and the device profile must agree"
    with pytest.raises(AppsError, match="on_error"):
        load_recipe(ChatRecipe, None, ["on_error=ignore"])


def test_openblas_decode_path_matches_torch_and_leaves_batches_and_training_to_torch(monkeypatch):
    import torch

    from plugins.chat.cpu_decode import fast_path_available, use_openblas_gemv

    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # the setting the fast path needs
    torch.manual_seed(0)
    big, small = torch.nn.Linear(1024, 1024), torch.nn.Linear(64, 64)
    model = torch.nn.Sequential(big, small)
    assert use_openblas_gemv(model) == 1, "only layers of at least 4 MB switch"
    assert "forward" in vars(big) and "forward" not in vars(small)
    row, rows = torch.randn(1, 1, 1024), torch.randn(3, 1024)
    with torch.no_grad():
        expected = torch.nn.functional.linear(row, big.weight, big.bias)
        assert torch.allclose(big(row), expected, atol=1e-4) and big(row).shape == (1, 1, 1024)
        assert torch.equal(big(rows), torch.nn.functional.linear(rows, big.weight, big.bias))
    big(row).sum().backward()  # training goes through torch, so gradients reach the weights
    assert big.weight.grad is not None
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert not fast_path_available(), "spinning OpenMP threads make OpenBLAS slower than torch"
