"""Recipes: a YAML file plus ``key=value`` overrides, validated into a typed dataclass.

Every app that can be trained declares ``recipe_class``, a dataclass that subclasses :class:`Recipe` and
adds its own fields. Nested settings (``lora``) are dataclasses too and are overridden with dotted keys:
``apps train chat --recipe phi15-zh-lora learning_rate=1e-4 lora.r=16``.

Errors say what and where: an unknown key suggests the closest valid one, a wrong type names the key, the
value and the type expected, a YAML syntax error gives file:line.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from core.errors import AppsError


@dataclass
class LoraSettings:
    """LoRA adapter settings (peft). ``target_modules: all`` means every linear layer but the output head."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: Union[list[str], str] = "all"  # noqa: UP007 (read at run time by the validator)
    modules_to_save: list[str] = field(default_factory=list)


@dataclass
class Recipe:
    """Settings every training run shares. Apps subclass it to add their own fields."""

    description: str = ""
    model: Union[str, None] = None  # noqa: UP007
    dataset: Union[str, None] = None  # noqa: UP007
    finetune: str = "full"  # full | lora | freeze (train only the head / the modules the app names)
    lora: LoraSettings = field(default_factory=LoraSettings)
    learning_rate: float = 5e-5
    num_epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides num_epochs
    batch_size: int = 8
    eval_batch_size: Union[int, None] = None  # noqa: UP007
    gradient_accumulation_steps: int = 1
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    precision: str = "auto"  # auto | fp32 | fp16 | bf16
    gradient_checkpointing: bool = False
    eval_steps: Union[int, None] = None  # noqa: UP007  (None: evaluate once per epoch)
    logging_steps: int = 10
    save_steps: int = 200
    # also checkpoint at the first log step this many minutes after the last checkpoint (0: never), so a
    # kill loses at most that much work however large save_steps is
    save_minutes: float = 10.0
    save_total_limit: int = 2
    early_stopping_patience: Union[int, None] = None  # noqa: UP007
    metric_for_best_model: Union[str, None] = None  # noqa: UP007
    seed: int = 42
    dataloader_workers: int = 0
    group_by_length: bool = False  # batches of similar lengths: less padding when lengths vary widely

    CHOICES: typing.ClassVar[dict[str, tuple[str, ...]]] = {
        "finetune": ("full", "lora", "freeze"),
        "precision": ("auto", "fp32", "fp16", "bf16"),
        "lr_scheduler": ("linear", "cosine", "constant", "constant_with_warmup", "polynomial"),
    }


def recipes_in(folder: str | Path) -> list[tuple[str, Path, str]]:
    """``(name, path, description)`` of every ``*.yaml`` recipe in a plugin's folder, for ``register_recipes``."""
    import yaml

    found = []
    for path in sorted(Path(folder).glob("*.yaml")):
        head = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        found.append((path.stem, path, head.get("description", "") if isinstance(head, dict) else ""))
    return found


def load_recipe(
    recipe_class: type, path: str | Path | None = None, overrides: list[str] | dict | None = None
):
    """Read ``path`` (YAML), apply ``overrides`` (``["key=value", ...]`` or a dict) and validate."""
    import yaml

    data: dict[str, Any] = {}
    source = str(path) if path else "<defaults>"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise AppsError(f"recipe file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            raise AppsError(f"YAML syntax error: {getattr(exc, 'problem', exc)}", where=where) from None
        if not isinstance(data, dict):
            raise AppsError("a recipe must be a mapping of key: value", where=str(path))
    if isinstance(overrides, dict):
        for key, value in overrides.items():
            _set_dotted(data, key, value)
    else:
        for item in overrides or []:
            key, value = parse_override(item)
            _set_dotted(data, key, value)
    return _build(recipe_class, data, source, prefix="")


def parse_override(item: str) -> tuple[str, Any]:
    """``"lora.r=16"`` -> ``("lora.r", 16)``; the value is parsed as YAML (numbers, lists, booleans)."""
    import yaml

    if "=" not in item:
        raise AppsError(
            f"override '{item}' is not of the form key=value", hint="for example: learning_rate=1e-4"
        )
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _set_dotted(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def _build(cls: type, data: dict, source: str, prefix: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = (
                f"did you mean '{prefix}{close[0]}'?" if close else f"valid keys: {', '.join(sorted(fields))}"
            )
            raise AppsError(f"unknown recipe key '{prefix}{key}'", hint=hint, where=source)
        values[key] = _convert(hints[key], value, f"{prefix}{key}", source)
        choices = getattr(cls, "CHOICES", {}).get(key)
        if choices and values[key] not in choices:
            raise AppsError(
                f"recipe key '{prefix}{key}' is {values[key]!r}; expected one of {', '.join(choices)}",
                where=source,
            )
    return cls(**values)


def _convert(hint, value, key: str, source: str):
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, key, source)
            except AppsError:
                continue
        expected = " or ".join(_type_name(o) for o in options)
        raise AppsError(f"recipe key '{key}' has value {value!r}; expected {expected}", where=source)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise AppsError(
                f"recipe key '{key}' must be a mapping of {_type_name(hint)} settings", where=source
            )
        return _build(hint, value, source, prefix=f"{key}.")
    if origin is list:
        (item_type,) = typing.get_args(hint) or (Any,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise AppsError(f"recipe key '{key}' has value {value!r}; expected a list", where=source)
        return [_convert(item_type, v, key, source) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise AppsError(f"recipe key '{key}' has value {value!r}; expected a mapping", where=source)
        return dict(value)
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads 1e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    raise AppsError(f"recipe key '{key}' has value {value!r}; expected {_type_name(hint)}", where=source)


def _type_name(hint) -> str:
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", str(hint))


def recipe_to_dict(recipe) -> dict:
    """The resolved recipe as plain data (written to ``recipe.yaml`` in every run directory)."""
    return dataclasses.asdict(recipe)


def save_recipe(recipe, path: str | Path) -> None:
    import yaml

    Path(path).write_text(
        yaml.safe_dump(recipe_to_dict(recipe), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
