"""Built-in plugin: chatbot (terminal chat, OpenAI-compatible API, Chinese LoRA adaptation of Phi-1.5).

Hook implementations only; what they register is imported when the hook runs."""

from core import hookimpl


@hookimpl
def register_apps(register):
    from plugins.chat.app import ChatApp

    register(ChatApp)


@hookimpl
def register_recipes(register):
    from core import recipes_in
    from plugins.chat.recipe import RECIPES_DIR

    for name, path, description in recipes_in(RECIPES_DIR):
        register(app="chat", name=name, path=path, description=description)


@hookimpl
def register_datasets(register):
    from plugins.chat.data import zh_instruct_dataset

    register(
        app="chat",
        name="zh-instruct",
        loader=zh_instruct_dataset,
        description="331 hand-written Chinese instructions (fixed 10% test split) + generated arithmetic, "
        "commands and project questions (held-out pairs and phrasings)",
    )
