"""Built-in plugin: chatbot (terminal chat, OpenAI-compatible API, Chinese LoRA adaptation of Phi-1.5)."""

from pathlib import Path

from core import hookimpl

RECIPES = Path(__file__).parent / "recipes"


@hookimpl
def register_apps(register):
    from plugins.chat.app import ChatApp

    register(ChatApp)


@hookimpl
def register_recipes(register):
    from core.recipes import recipes_in

    for name, path, description in recipes_in(RECIPES):
        register(app="chat", name=name, path=path, description=description)


def _zh_instruct(split: str = "train", **_):
    from plugins.chat.data import load_zh_instruct

    return load_zh_instruct(split)


@hookimpl
def register_datasets(register):
    register(
        app="chat",
        name="zh-instruct",
        loader=_zh_instruct,
        description="331 hand-written Chinese instructions + 400 generated arithmetic; fixed 10% test split",
    )
