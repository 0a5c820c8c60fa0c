"""The chat app. Module level stays light (no torch): 'apps list' imports it."""

from core import App


class ChatApp(App):
    name = "chat"
    description = "Chatbot with streamed answers; Phi-1.5 adapted to Chinese with LoRA"
