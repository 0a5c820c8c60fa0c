"""'apps export chat --model RUN_DIR --merge': a standalone folder (safetensors, tokenizer with its chat
template) that plain transformers loads with AutoModelForCausalLM / AutoTokenizer."""

from __future__ import annotations

from pathlib import Path

from core import AppsError
from plugins.chat.model import load_chat_model
from plugins.chat.templates import save_template


def export(run_dir: str, merge: bool = False, output: str | None = None) -> Path:
    if not Path(run_dir).is_dir():
        raise AppsError(
            f"{run_dir} is not a folder", hint="pass a run directory written by 'apps train chat'"
        )
    chat = load_chat_model(run_dir, device="cpu", precision="fp32")
    model = chat.model
    if hasattr(model, "merge_and_unload"):
        if not merge:
            raise AppsError(
                f"{run_dir} holds a LoRA adapter", hint="add --merge to fold it into a standalone model"
            )
        model = model.merge_and_unload()
    out = Path(output or f"{str(run_dir).rstrip('/')}-merged")
    if out.exists() and any(out.iterdir()):
        raise AppsError(f"{out} already exists and is not empty", hint="choose another --output")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    chat.tokenizer.chat_template = chat.template.jinja()
    chat.tokenizer.save_pretrained(str(out))
    save_template(chat.template, out)
    return out
