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


def _favour(chat, boosts: dict):
    """Context: the output bias of ``chat`` raised by ``boost`` for each (ids, boost) item."""
    import contextlib

    import torch

    @contextlib.contextmanager
    def favoured():
        head = chat.model.get_output_embeddings()
        saved = head.bias.detach().clone()
        try:
            with torch.no_grad():
                for ids, boost in boosts.items():
                    head.bias[list(ids)] += boost
            chat.info.pop("utf8", None)
            yield
        finally:
            with torch.no_grad():
                head.bias.copy_(saved)
            chat.info.pop("utf8", None)

    return favoured()


GREEDY_AND_SAMPLED = [
    {"max_new_tokens": 12, "do_sample": False, "repetition_penalty": 1.0},
    {"max_new_tokens": 12, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 0},
]


def test_control_characters_are_never_produced(chat):
    """A model whose logits favour the control-character tokens (\\x00, \\x1e, \\r, DEL ...) still answers
    with none of them, greedy or sampled: the masks forbid every token whose bytes hold a C0 control byte
    or DEL, tab and newline excepted."""
    from plugins.chat.model import Sampling, generate
    from plugins.chat.utf8 import CONTROL_BYTES, token_bytes

    table = token_bytes(chat.tokenizer)
    control = tuple(i for i, data in enumerate(table) if data and not CONTROL_BYTES.isdisjoint(data))
    layout = tuple(i for i, data in enumerate(table) if data in (b"\t", b"\n"))
    assert len(control) >= len(CONTROL_BYTES) and len(layout) == 2, "every byte has a token"
    # a control-byte token wins every step unless it is masked; tab and newline come next and stay allowed
    with _favour(chat, {control: 1000.0, layout: 500.0}):
        for settings in GREEDY_AND_SAMPLED:
            pieces: list[str] = []
            answer = generate(
                chat, [{"role": "user", "content": "你好"}], Sampling(**settings), pieces.append
            )
            shown = "".join(pieces) + answer.text
            assert not [ch for ch in shown if ord(ch) in CONTROL_BYTES], repr(shown)
            assert answer.tokens == 12 and {"\t", "\n"} & set("".join(pieces)), repr(pieces)


def test_an_answer_is_never_blank(chat):
    """A model that would end at once or answer only whitespace still shows text: until the first visible
    character, end of text and whitespace-only tokens are masked; after it, both are allowed again."""
    from plugins.chat.model import Sampling, generate
    from plugins.chat.utf8 import token_bytes

    table = token_bytes(chat.tokenizer)
    blank = tuple(i for i, data in enumerate(table) if data is not None and not data.strip())
    with _favour(chat, {(chat.tokenizer.eos_token_id,): 1000.0, blank: 500.0}):
        for settings in GREEDY_AND_SAMPLED:
            answer = generate(chat, [{"role": "user", "content": "你好"}], Sampling(**settings))
            # it ends as soon as it may: after the first whole visible character (up to four byte tokens)
            assert answer.text.strip() and answer.tokens <= 5 and answer.stopped_by == "eos", answer
