"""Chat plugin with real (tiny) models: LoRA training through the core engine, reload with the stored
template, 'apps run chat --prompt', adapter checks, export --merge, the OpenAI-compatible API."""

from __future__ import annotations

import json
import sys

import pytest

pytest.importorskip("peft")

QA = [
    ("你好", "您好，请问有什么可以帮您？"),
    ("一加一等于几？", "一加一等于二。"),
    ("天空是什么颜色？", "天空是蓝色的。"),
    ("谢谢", "不客气！"),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("chat")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APPS_HOME", str(root / "home"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("APPS_RUNS", str(root / "runs"))
        yield root


@pytest.fixture(scope="module")
def tiny_base(env):
    """A very small Phi-architecture model with a byte-level BPE tokenizer, saved as a plain folder."""
    from plugins.chat.model import build_tiny_phi, train_byte_bpe

    tokenizer = train_byte_bpe("hello world, the quick brown fox jumps over the lazy dog. " * 50, 300)
    model = build_tiny_phi(
        tokenizer,
        {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 512,
        },
    )
    folder = env / "base"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def lora_run(env, tiny_base):
    from core import run_training
    from core.recipes import load_recipe
    from plugins.chat.app import ChatApp
    from plugins.chat.recipe import ChatRecipe

    data = env / "qa.jsonl"
    data.write_text(
        "".join(
            json.dumps({"instruction": q, "input": "", "output": a}, ensure_ascii=False) + "\n"
            for q, a in QA * 4
        ),
        encoding="utf-8",
    )
    recipe = load_recipe(
        ChatRecipe,
        None,
        {
            "model": str(tiny_base),
            "dataset": str(data),
            "finetune": "lora",
            "template": "alpaca",
            "lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj", "fc1"]},
            "learning_rate": 5e-3,
            "max_steps": 4,
            "batch_size": 4,
            "cutoff_len": 192,
            "precision": "fp32",
            "logging_steps": 2,
            "save_steps": 1000,
        },
    )
    return run_training(ChatApp(), recipe, run_dir=str(env / "run"), recipe_name="test")


def test_lora_run_dir_holds_adapter_template_and_tokenizer(lora_run):
    from plugins.chat.model import load_chat_model

    run = json.loads((lora_run / "run.json").read_text())
    assert run["finetune"] == "lora" and run["template"] == "alpaca" and run["status"] == "complete"
    assert run["data"]["train"] == 16
    for name in ("adapter_config.json", "chat_template.json", "tokenizer.json", "recipe.yaml"):
        assert (lora_run / name).is_file(), name
    chat = load_chat_model(str(lora_run), device="cpu", precision="fp32")
    assert chat.template.name == "alpaca" and chat.info["adapter"]
    from core.errors import AppsError

    with pytest.raises(AppsError, match="trained with the chat template 'alpaca'"):
        load_chat_model(str(lora_run), device="cpu", template="chatml")


def test_cut_overlong_samples_are_counted(tiny_base, env):
    from plugins.chat.data import ChatDataset
    from plugins.chat.model import load_tokenizer
    from plugins.chat.templates import get_template

    tokenizer = load_tokenizer(str(tiny_base))
    conversations = [
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "答" * 40}]},
        {"messages": [{"role": "user", "content": "问" * 80}, {"role": "assistant", "content": "a"}]},
    ]
    dataset = ChatDataset(conversations, get_template("default"), tokenizer, 48)
    assert dataset.report.truncated == 1 and dataset.report.dropped == 1 and len(dataset) == 1
    assert len(dataset[0]["input_ids"]) == 48
    labels = dataset[0]["labels"]
    assert labels[0] == -100 and labels[-1] != -100  # the prompt is masked, the answer trains


def test_run_chat_prompt_cli_and_on_result(lora_run):
    from click.testing import CliRunner

    from core.cli import cli
    from core.plugins import reset_manager

    reset_manager()
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "chat",
            "--model",
            str(lora_run),
            "--prompt",
            "你好",
            "--max-new-tokens",
            "8",
            "--greedy",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output


def test_generation_stops_at_marker_and_streams_without_it(lora_run):
    from plugins.chat.model import Sampling, generate, load_chat_model

    chat = load_chat_model(str(lora_run), device="cpu", precision="fp32")
    pieces = []
    answer = generate(
        chat,
        [{"role": "user", "content": "你好"}],
        Sampling(max_new_tokens=12, do_sample=False),
        on_text=pieces.append,
    )
    assert "".join(pieces).strip() == answer.text
    assert "### Instruction:" not in answer.text
    assert answer.stopped_by in ("eos", "marker", "length") and 0 < answer.tokens <= 12
    assert 0 < answer.first_token_s <= answer.seconds  # timed at the first token, not the first text


def test_adapter_on_a_different_base_is_refused(lora_run, env):
    from core.errors import AppsError
    from plugins.chat.model import build_tiny_phi, load_chat_model, load_tokenizer

    tokenizer = load_tokenizer(str(env / "base"))
    other = build_tiny_phi(
        tokenizer,
        {"hidden_size": 48, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2},
    )
    other.save_pretrained(env / "other")
    tokenizer.save_pretrained(env / "other")
    with pytest.raises(AppsError, match="was trained on"):
        load_chat_model(str(env / "other"), adapter=str(lora_run), device="cpu")


def test_export_merge_loads_with_plain_transformers(lora_run, env):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from plugins.chat.export import export
    from plugins.chat.templates import get_template

    out = export(str(lora_run), merge=True, output=str(env / "merged"))
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert any(p.name.endswith(".safetensors") for p in out.iterdir()) and model.config.model_type == "phi"
    messages = [{"role": "user", "content": "你好"}]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == get_template("alpaca").render(messages)


def test_openai_api_models_completion_and_stream(lora_run):
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from plugins.chat.app import ChatApp
    from plugins.chat.server import build_api

    app = ChatApp().load(str(lora_run), "cpu", "fp32")
    client = TestClient(build_api(app, max_new_tokens=6))
    assert client.get("/v1/models").json()["data"][0]["id"] == str(lora_run)
    body = {"messages": [{"role": "user", "content": "你好"}], "temperature": 0}
    reply = client.post("/v1/chat/completions", json=body).json()
    assert reply["object"] == "chat.completion" and reply["usage"]["completion_tokens"] > 0
    assert reply["choices"][0]["finish_reason"] in ("stop", "length")
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as stream:
        events = [line[6:] for line in stream.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 400


def test_terminal_chat_keeps_history_resets_and_emits(lora_run):
    from plugins.chat.app import ChatApp
    from plugins.chat.live import terminal_chat
    from plugins.chat.model import Sampling

    app = ChatApp().load(str(lora_run), "cpu", "fp32")
    emitted = []
    app.emit = lambda result, **context: emitted.append((result, context))
    lines = iter(["你好", "/reset", "谢谢", "/exit", "never read"])
    shown = []
    history = terminal_chat(
        app,
        Sampling(max_new_tokens=4, do_sample=False),
        system="S",
        read=lambda _: next(lines),
        write=shown.append,
    )
    assert [m["role"] for m in history] == ["system", "user", "assistant"]
    assert history[1]["content"] == "谢谢"
    assert [r["prompt"] for r, _ in emitted] == ["你好", "谢谢"]
    assert emitted[0][1]["source"] == "terminal" and emitted[0][0]["tokens"] > 0


def test_ctrl_c_during_an_answer_stops_that_answer_and_the_chat_goes_on(lora_run):
    from plugins.chat.app import ChatApp
    from plugins.chat.live import terminal_chat
    from plugins.chat.model import Sampling

    app = ChatApp().load(str(lora_run), "cpu", "fp32")
    app.emit = lambda result, **context: None
    lines = iter(["你好", "谢谢", "/exit"])
    interrupted = []

    def streaming() -> bool:  # called from the streamer, not for the prompt or the final newline
        frame = sys._getframe()
        while frame and frame.f_code.co_name != "on_piece":
            frame = frame.f_back
        return frame is not None

    def write(text):
        if not interrupted and streaming():  # the first streamed piece: press Ctrl-C
            interrupted.append(text)
            raise KeyboardInterrupt

    history = terminal_chat(
        app,
        Sampling(
            max_new_tokens=12, min_new_tokens=12, do_sample=False
        ),  # whole characters: up to 3 tokens each
        read=lambda _: next(lines),
        write=write,
    )
    assert interrupted, "the answer streamed nothing to interrupt"
    assert [(m["role"], m["content"]) for m in history][0] == ("user", "谢谢")
    assert [m["role"] for m in history] == ["user", "assistant"]


def test_vocabulary_extension_adds_chinese_tokens_initialised_from_their_bytes(tiny_base):
    import torch
    from transformers import AutoModelForCausalLM

    from plugins.chat.model import load_tokenizer
    from plugins.chat.vocab import extend_vocabulary

    tokenizer = load_tokenizer(str(tiny_base))
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    byte_ids = tokenizer("好", add_special_tokens=False)["input_ids"]
    expected = model.get_input_embeddings().weight[byte_ids].mean(0).detach().clone()
    added = extend_vocabulary(model, tokenizer, ["你好，你好！", "我很好，谢谢。", "再见。"], limit=10)
    assert added == 5  # 好 你 谢 and the punctuation ， 。 appear twice or more; the others once
    assert len(tokenizer("好，。", add_special_tokens=False)["input_ids"]) == 3
    assert tokenizer("你好", add_special_tokens=False)["input_ids"] == [
        tokenizer.convert_tokens_to_ids(c) for c in "你好"
    ]
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    new_row = model.get_input_embeddings().weight[tokenizer.convert_tokens_to_ids("好")]
    assert torch.allclose(new_row, expected)
    assert tokenizer.decode(tokenizer("你好吗", add_special_tokens=False)["input_ids"]) == "你好吗"
