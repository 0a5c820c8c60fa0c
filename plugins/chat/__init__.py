"""Built-in plugin: chatbot."""

from core import hookimpl


@hookimpl
def register_apps(register):
    from plugins.chat.app import ChatApp

    register(ChatApp)
