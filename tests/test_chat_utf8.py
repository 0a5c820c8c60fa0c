"""Never a broken character: the UTF-8 state machine agrees with Python's decoder, and sampled answers
of a random byte-level model (streamed or not, cut by max_new_tokens or not) hold no U+FFFD, where the
same sampling without the guard does."""

from __future__ import annotations

import itertools
import random

import pytest

from plugins.chat.utf8 import START, drop_incomplete_tail, step


def _python_accepts(data: bytes) -> bool:
    """Whether ``data`` can still become valid UTF-8: some ending of at most three continuation bytes
    makes Python decode it (its incremental decoder does not check a pending sequence's second byte)."""
    endings = [b""] + [
        bytes(p) for k in (1, 2, 3) for p in itertools.product((0x80, 0x90, 0xA0, 0xBF), repeat=k)
    ]
    for ending in endings:
        try:
            (data + ending).decode("utf-8")
            return True
        except UnicodeDecodeError:
            pass
    return False


def test_step_agrees_with_pythons_decoder_on_random_bytes():
    rng = random.Random(0)
    interesting = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0]
    interesting += [0xE1, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF]
    for _ in range(5000):
        data = bytes(rng.choice(interesting) for _ in range(rng.randint(1, 6)))
        assert (step(START, data) is not None) == _python_accepts(data), data.hex()
    # state carried across tokens equals the state of the joined bytes
    text = "汉字 😀 é".encode()
    state = START
    for i in range(len(text)):
        state = step(state, text[i : i + 1])
    assert state == START
    assert drop_incomplete_tail("你好\ufffd\ufffd") == "你好"


@pytest.fixture(scope="module")
def chat(tmp_path_factory):
    pytest.importorskip("transformers")
    from plugins.chat.model import build_tiny_phi, load_chat_model, train_byte_bpe

    tokenizer = train_byte_bpe("你好，世界。今天天气很好，我们去公园散步吧！hello world. " * 40, 400)
    model = build_tiny_phi(
        tokenizer,
        {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2},
    )
    folder = tmp_path_factory.mktemp("utf8") / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return load_chat_model(str(folder), device="cpu", precision="fp32")


def _answers(chat, stream: bool) -> list[tuple[str, str]]:
    from plugins.chat.model import Sampling, generate

    out = []
    for seed in range(8):
        pieces: list[str] = []
        sampling = Sampling(max_new_tokens=5 + seed, temperature=1.5, top_k=0, top_p=1.0, seed=seed)
        answer = generate(
            chat, [{"role": "user", "content": "你好"}], sampling, on_text=pieces.append, stream=stream
        )
        out.append(("".join(pieces), answer.text))
    return out


def test_sampled_answers_never_hold_a_broken_character(chat):
    assert chat.utf8_masks() is not None, "a byte-level tokenizer gets the guard"
    for stream in (True, False):
        for streamed, text in _answers(chat, stream):
            assert "\ufffd" not in streamed + text, (streamed, text)
            if stream:
                assert streamed.strip() == text


def test_without_the_guard_the_same_sampling_breaks_characters(chat, monkeypatch):
    monkeypatch.setitem(chat.info, "utf8", None)
    assert any("\ufffd" in text for _, text in _answers(chat, False))
