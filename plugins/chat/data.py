"""Chat datasets: alpaca and sharegpt records (JSON or JSONL), LLaMA-Factory ``dataset_info.json`` folders,
Hugging Face datasets when online, the shipped Chinese instruction set and the English text of pydoc.

Every loader returns conversations ``{"messages": [{"role", "content"}, ...], "source": "file:line"}``.
Malformed records are reported with file:line and skipped or refused (``on_error``). No torch at import.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from core import AppsError

PACKAGE_DATA = Path(__file__).parent / "data"
ZH_FILE = PACKAGE_DATA / "zh_instruct.jsonl"
TEST_SHARE = 10  # one record in ten (by a hash of its text) is held out, fixed across edits of the file

SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "observation": None,
    "function_call": None,
}


@dataclass
class LoadReport:
    """Counts of one dataset load, printed before training."""

    name: str
    total: int = 0
    kept: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def malformed(self) -> int:
        return len(self.problems)

    def summary(self) -> str:
        text = f"{self.name}: {self.kept} usable of {self.total} records"
        if self.problems:
            text += f", {self.malformed} malformed skipped (first: {self.problems[0]})"
        return text


# ---- reading records with their line numbers ---------------------------------------------------
def _read_records(path: Path):
    """Yield ``(line, record)``; JSON syntax errors are raised as AppsError with file:line."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".jsonl" or not text.lstrip().startswith("["):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, _Broken(f"invalid JSON: {exc.msg} (column {exc.colno})")
        return
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            raise AppsError(
                "the JSON array is not closed with ']'", where=f"{path}:{text.count(chr(10), 0, pos) + 1}"
            )
        if text[pos] == "]":
            return
        line = text.count("\n", 0, pos) + 1
        try:
            record, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise AppsError(
                f"invalid JSON: {exc.msg}",
                where=f"{path}:{exc.lineno}:{exc.colno}",
                hint="fix the file; a JSON array cannot be read past a syntax error (JSONL can)",
            ) from None
        yield line, record


class _Broken:
    def __init__(self, problem: str):
        self.problem = problem


# ---- record formats -----------------------------------------------------------------------------
@dataclass
class Columns:
    """LLaMA-Factory's column and tag mapping (``dataset_info.json`` ``columns`` / ``tags``)."""

    prompt: str = "instruction"
    query: str = "input"
    response: str = "output"
    history: str = "history"
    system: str = "system"
    messages: str = "conversations"
    role_tag: str = "from"
    content_tag: str = "value"
    user_tag: str = "human"
    assistant_tag: str = "gpt"
    system_tag: str = "system"


def _text(value, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"'{what}' must be a string, got {type(value).__name__}")
    return value


def alpaca_messages(record: dict, cols: Columns) -> list[dict]:
    if not isinstance(record, dict):
        raise ValueError(f"a record must be a JSON object, got {type(record).__name__}")
    if cols.prompt not in record or cols.response not in record:
        raise ValueError(f"an alpaca record needs '{cols.prompt}' and '{cols.response}'")
    prompt = _text(record[cols.prompt], cols.prompt).strip()
    query = _text(record.get(cols.query) or "", cols.query).strip()
    answer = _text(record[cols.response], cols.response).strip()
    user = "\n".join(part for part in (prompt, query) if part)
    if not user or not answer:
        raise ValueError("empty instruction or output")
    messages = []
    system = record.get(cols.system)
    if system:
        messages.append({"role": "system", "content": _text(system, cols.system)})
    history = record.get(cols.history) or []
    if not isinstance(history, list):
        raise ValueError(f"'{cols.history}' must be a list of [question, answer] pairs")
    for turn in history:
        if not (isinstance(turn, (list, tuple)) and len(turn) == 2 and all(isinstance(t, str) for t in turn)):
            raise ValueError(f"'{cols.history}' must be a list of [question, answer] pairs")
        messages += [{"role": "user", "content": turn[0]}, {"role": "assistant", "content": turn[1]}]
    return [*messages, {"role": "user", "content": user}, {"role": "assistant", "content": answer}]


def sharegpt_messages(record: dict, cols: Columns) -> list[dict]:
    if not isinstance(record, dict):
        raise ValueError(f"a record must be a JSON object, got {type(record).__name__}")
    key = cols.messages if cols.messages in record else "messages" if "messages" in record else None
    if key is None or not isinstance(record[key], list):
        raise ValueError(f"a sharegpt record needs a list '{cols.messages}'")
    tags = {cols.user_tag: "user", cols.assistant_tag: "assistant", cols.system_tag: "system"}
    messages = []
    if record.get(cols.system):
        messages.append({"role": "system", "content": _text(record[cols.system], cols.system)})
    for i, turn in enumerate(record[key]):
        if not isinstance(turn, dict):
            raise ValueError(f"turn {i} is not an object")
        role_key, content_key = (
            (cols.role_tag, cols.content_tag) if cols.role_tag in turn else ("role", "content")
        )
        raw = turn.get(role_key)
        role = tags.get(raw, SHAREGPT_ROLES.get(raw, "?"))
        if role == "?":
            raise ValueError(f"turn {i} has an unknown role {raw!r}")
        if role is None:  # tool turns are not chat
            continue
        content = _text(turn.get(content_key), f"{key}[{i}].{content_key}").strip()
        if not content:
            raise ValueError(f"turn {i} is empty")
        messages.append({"role": role, "content": content})
    turns = [m for m in messages if m["role"] != "system"]
    if not turns or turns[-1]["role"] != "assistant":
        raise ValueError("the conversation must end with an assistant turn")
    for i, message in enumerate(turns):
        if message["role"] != ("user" if i % 2 == 0 else "assistant"):
            raise ValueError("turns must alternate user / assistant, starting with the user")
    return messages


def detect_format(record) -> str:
    if isinstance(record, dict) and ("conversations" in record or "messages" in record):
        return "sharegpt"
    return "alpaca"


def load_file(
    path,
    fmt: str | None = None,
    on_error: str = "skip",
    columns: Columns | None = None,
    report: LoadReport | None = None,
) -> tuple[list[dict], LoadReport]:
    """Conversations from one JSON/JSONL file of alpaca or sharegpt records."""
    path = Path(path)
    if not path.is_file():
        raise AppsError(f"dataset file {path} does not exist")
    if on_error not in ("skip", "fail"):
        raise AppsError(f"on_error is {on_error!r}; expected skip or fail")
    cols = columns or Columns()
    report = report or LoadReport(str(path))
    out = []
    for line, record in _read_records(path):
        report.total += 1
        where = f"{path}:{line}"
        try:
            if isinstance(record, _Broken):
                raise ValueError(record.problem)
            kind = fmt or detect_format(record)
            messages = (sharegpt_messages if kind == "sharegpt" else alpaca_messages)(record, cols)
        except ValueError as exc:
            if on_error == "fail":
                raise AppsError(
                    f"malformed record: {exc}",
                    where=where,
                    hint="fix it, or pass on_error=skip to leave such records out",
                ) from None
            report.problems.append(f"{where}: {exc}")
            continue
        report.kept += 1
        out.append({"messages": messages, "source": where})
    return out, report


def check_usable(conversations: list, report: LoadReport) -> None:
    """Stop before training when nothing is usable, with the counts."""
    if not conversations:
        detail = f"; first problem: {report.problems[0]}" if report.problems else ""
        raise AppsError(
            f"no usable records in {report.name}: {report.total} read, {report.malformed} malformed{detail}",
            hint="check the format (alpaca: instruction/input/output; sharegpt: conversations with from/value)",
        )
    if report.problems:
        print(f"warning: {report.summary()}", file=sys.stderr)
        for problem in report.problems[1:5]:
            print(f"  {problem}", file=sys.stderr)


# ---- LLaMA-Factory dataset_info.json -------------------------------------------------------------
def load_dataset_info(folder, name: str, on_error: str = "skip"):
    """A dataset named in ``folder/dataset_info.json`` (file_name, formatting, columns, tags, hf_hub_url)."""
    folder = Path(folder)
    info_path = folder / "dataset_info.json"
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AppsError(f"{folder} has no dataset_info.json") from None
    except json.JSONDecodeError as exc:
        raise AppsError(f"invalid JSON: {exc.msg}", where=f"{info_path}:{exc.lineno}:{exc.colno}") from None
    if name not in info:
        from core import suggest

        raise AppsError(f"dataset '{name}' is not in {info_path}", hint=suggest(name, info))
    entry = info[name]
    fmt = entry.get("formatting", "alpaca")
    cols = Columns()
    if fmt == "sharegpt":
        cols.messages = "conversations"
    for key, value in {**entry.get("columns", {}), **entry.get("tags", {})}.items():
        if hasattr(cols, key):
            setattr(cols, key, value)
    if entry.get("file_name"):
        target = folder / entry["file_name"]
        files = (
            sorted(p for p in target.iterdir() if p.suffix in (".json", ".jsonl"))
            if target.is_dir()
            else [target]
        )
        report = LoadReport(f"{info_path}:{name}")
        out = []
        for file in files:
            part, _ = load_file(file, fmt, on_error, cols, report)
            out += part
        return out, report
    if entry.get("hf_hub_url"):
        return load_hub(entry["hf_hub_url"], fmt, on_error, cols, split=entry.get("split", "train"))
    raise AppsError(f"dataset '{name}' in {info_path} has neither file_name nor hf_hub_url")


def load_hub(repo: str, fmt: str | None, on_error: str, cols: Columns | None = None, split: str = "train"):
    """A Hugging Face dataset (online, or in the local datasets cache)."""
    try:
        import datasets
    except ImportError:
        raise AppsError(
            "loading Hugging Face datasets needs the 'datasets' package", hint="pip install datasets"
        ) from None
    try:
        rows = datasets.load_dataset(repo, split=split)
    except Exception as exc:  # offline, unknown repo ...
        raise AppsError(
            f"could not load the Hugging Face dataset '{repo}': {str(exc).splitlines()[0][:200]}",
            hint="check the network (HF_HUB_OFFLINE unset), or use a local file / the shipped 'zh-instruct'",
        ) from None
    cols = cols or Columns()
    report = LoadReport(f"hf:{repo}")
    out = []
    for i, record in enumerate(rows):
        report.total += 1
        try:
            kind = fmt or detect_format(record)
            messages = (sharegpt_messages if kind == "sharegpt" else alpaca_messages)(dict(record), cols)
        except ValueError as exc:
            if on_error == "fail":
                raise AppsError(f"malformed record: {exc}", where=f"hf:{repo}[{i}]") from None
            report.problems.append(f"hf:{repo}[{i}]: {exc}")
            continue
        report.kept += 1
        out.append({"messages": messages, "source": f"hf:{repo}[{i}]"})
    return out, report


# ---- the shipped Chinese set and generated arithmetic -------------------------------------------
def is_held_out(conversation: dict) -> bool:
    text = json.dumps(conversation["messages"], ensure_ascii=False)
    return int(hashlib.md5(text.encode("utf-8")).hexdigest(), 16) % TEST_SHARE == 0


def domain_conversations(split: str, draws: int = 1) -> list[dict]:
    """The generated domains (arithmetic, commands, project questions; ``plugins/chat/domains.py``) as
    conversations, with their fixed split (``draws``: ``domain_items``)."""
    from plugins.chat.domains import domain_items

    return [
        {
            "messages": [
                {"role": "user", "content": item["question"]},
                {"role": "assistant", "content": item["answer"]},
            ],
            "source": f"generated:{item['domain']}:{i}",
        }
        for i, item in enumerate(domain_items(split, draws=draws))
    ]


def load_zh_instruct(split: str = "train", draws: int = 1) -> list[dict]:
    """The shipped Chinese instruction set. ``train``: the hand-written training split plus the generated
    domains' training items, both ``draws`` times as many (the recipe's ``domain_draws``); ``test``: the
    hand-written held-out split (the instruction split that perplexity and the CJK share are measured on;
    the domains' held-out items are scored by ``apps eval chat`` separately); ``all``: every hand-written
    record."""
    if split not in ("train", "test", "all"):
        raise AppsError(f"split is {split!r}; expected train, test or all")
    conversations, report = load_file(ZH_FILE, "alpaca", "fail")
    if split == "all":
        return conversations
    written = [c for c in conversations if is_held_out(c) == (split == "test")]
    return written * draws + domain_conversations("train", draws) if split == "train" else written


def zh_instruct_dataset(split: str = "train", **_) -> list[dict]:
    """The ``zh-instruct`` dataset's registered loader (``loader(**options)``; options it does not know
    are ignored)."""
    return load_zh_instruct(split)


# ---- English text (pretraining and forgetting) ---------------------------------------------------
def english_corpus(split: str = "train") -> str:
    """pydoc's topic help (ships with every CPython): 9 topics in 10 train, the rest held out."""
    import pydoc_data.topics as topics

    names = sorted(topics.topics)
    chosen = [n for i, n in enumerate(names) if (i % 10 == 9) == (split == "test")]
    return "\n\n".join(topics.topics[n].strip() for n in chosen)


# ---- resolving a recipe's dataset string ---------------------------------------------------------
def resolve_dataset(
    spec: str, dataset_dir: str | None = None, on_error: str = "skip", split: str = "train", draws: int = 1
):
    """``spec`` is comma-separated: shipped names (``zh-instruct``, its training split ``draws`` times as
    large), names in ``dataset_dir``'s dataset_info.json, JSON/JSONL paths, ``folder:name`` or Hugging
    Face ids (``owner/name``)."""
    conversations: list[dict] = []
    reports = []
    for item in [s.strip() for s in spec.split(",") if s.strip()]:
        if item == "zh-instruct":
            part = load_zh_instruct(split, draws)
            report = LoadReport(f"zh-instruct[{split}]", len(part), len(part))
        elif dataset_dir and (Path(dataset_dir) / "dataset_info.json").is_file() and not Path(item).exists():
            part, report = load_dataset_info(dataset_dir, item, on_error)
        elif ":" in item and (Path(item.rsplit(":", 1)[0]) / "dataset_info.json").is_file():
            folder, name = item.rsplit(":", 1)
            part, report = load_dataset_info(folder, name, on_error)
        elif Path(item).is_file():
            part, report = load_file(item, None, on_error)
        elif Path(item).is_dir() and (Path(item) / "dataset_info.json").is_file():
            raise AppsError(
                f"{item} is a dataset_info.json folder: name one of its datasets",
                hint=f"use '{item}:NAME' or dataset_dir={item} dataset=NAME",
            )
        elif "/" in item and not Path(item).exists() and not item.startswith((".", "/")):
            part, report = load_hub(item, None, on_error)
        else:
            raise AppsError(
                f"dataset '{item}' is neither a shipped dataset, a file nor a dataset_info.json entry",
                hint="shipped: zh-instruct; or a .json/.jsonl path, FOLDER:NAME, or owner/name online",
            )
        check_usable(part, report)
        conversations += part
        reports.append(report)
    return conversations, reports


# ---- tokenization for training --------------------------------------------------------------------
@dataclass
class EncodeReport:
    samples: int = 0
    truncated: int = 0
    dropped: int = 0

    def summary(self) -> str:
        return (
            f"{self.samples} samples encoded, {self.truncated} overlong truncated to the cutoff, "
            f"{self.dropped} dropped (no answer token left within the cutoff)"
        )


def encode_conversation(conversation: dict, template, tokenizer, cutoff: int) -> tuple[list, list, bool]:
    """``(input_ids, labels, truncated)``: labels are -100 on every prompt token, so only answers train."""
    ids: list[int] = []
    labels: list[int] = []
    eos = tokenizer.eos_token or ""
    for text, is_answer in template.segments(conversation["messages"], eos):
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if is_answer else [-100] * len(piece)
    truncated = len(ids) > cutoff
    return ids[:cutoff], labels[:cutoff], truncated


class ChatDataset:
    """Map-style dataset of encoded conversations (``input_ids``, ``labels``)."""

    def __init__(self, conversations: list[dict], template, tokenizer, cutoff: int):
        self.items = []
        self.report = EncodeReport()
        for conversation in conversations:
            ids, labels, truncated = encode_conversation(conversation, template, tokenizer, cutoff)
            if all(label == -100 for label in labels):
                self.report.dropped += 1
                continue
            self.report.truncated += truncated
            self.items.append({"input_ids": ids, "labels": labels})
        self.report.samples = len(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


class TextBlocks:
    """Plain text cut into fixed-length token blocks for causal-LM pretraining / perplexity."""

    def __init__(self, text: str, tokenizer, block: int, eos_between: bool = True):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        self.items = [
            {"input_ids": ids[i : i + block], "labels": ids[i : i + block]}
            for i in range(0, max(len(ids) - 1, 1), block)
            if len(ids[i : i + block]) > 1
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


class CausalCollator:
    """Pads ``input_ids`` (pad id) and ``labels`` (-100) to the longest item, rounded up to 8."""

    def __init__(self, pad_id: int, multiple: int = 8):
        self.pad_id = pad_id
        self.multiple = multiple

    def __call__(self, items: list[dict]) -> dict:
        import torch

        longest = max(len(item["input_ids"]) for item in items)
        longest = -(-longest // self.multiple) * self.multiple
        ids = torch.full((len(items), longest), self.pad_id, dtype=torch.long)
        labels = torch.full((len(items), longest), -100, dtype=torch.long)
        mask = torch.zeros((len(items), longest), dtype=torch.long)
        for row, item in enumerate(items):
            n = len(item["input_ids"])
            ids[row, :n] = torch.tensor(item["input_ids"])
            labels[row, :n] = torch.tensor(item["labels"])
            mask[row, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}
