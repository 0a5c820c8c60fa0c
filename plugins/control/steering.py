"""Steering a running control app with words from other apps (asr transcripts, chat answers, keys).

A running ``apps run control`` calls :func:`listen` to get a queue; the plugin's ``on_result`` hook hands
every other app's result to :func:`submit_result`, which turns recognised words into commands:

    left / right / up / down   one manual move (maze), push (CartPole) or torque (Pendulum, Acrobot)
    pause / go                 hold the agent still / hand control back to the policy
    stop                       end the run
    an arm task's instruction  what the arm does next ("pull the drawer open" -> "open the drawer")
"""

from __future__ import annotations

import queue
import re
import threading

WORDS = {
    "left": "left",
    "west": "left",
    "right": "right",
    "east": "right",
    "up": "up",
    "north": "up",
    "forward": "up",
    "forwards": "up",
    "down": "down",
    "south": "down",
    "back": "down",
    "backward": "down",
    "backwards": "down",
    "stop": "stop",
    "quit": "stop",
    "exit": "stop",
    "pause": "pause",
    "wait": "pause",
    "hold": "pause",
    "halt": "pause",
    "go": "go",
    "resume": "go",
    "continue": "go",
    "start": "go",
    "auto": "go",
}
COMMANDS = sorted(set(WORDS.values()))

_lock = threading.Lock()
_listeners: list[queue.Queue] = []


def parse_command(text: str) -> str | None:
    """The canonical instruction of the arm task ``text`` asks for, else the last command word in ``text``
    ("please turn left" -> "left"), else None."""
    from plugins.control.tasks import INSTRUCTIONS, task_for

    task = task_for(text)
    if task is not None:
        return INSTRUCTIONS[task]
    found = None
    for word in re.findall(r"[a-z]+", str(text).lower()):
        found = WORDS.get(word, found)
    return found


def listen() -> queue.Queue:
    """A new queue that receives every command from now on (call :func:`unlisten` when done)."""
    commands: queue.Queue = queue.Queue()
    with _lock:
        _listeners.append(commands)
    return commands


def unlisten(commands: queue.Queue) -> None:
    with _lock:
        if commands in _listeners:
            _listeners.remove(commands)


def listening() -> bool:
    with _lock:
        return bool(_listeners)


def submit_text(text: str) -> str | None:
    """Queue the command in ``text`` for every running control app; returns the command (or None)."""
    command = parse_command(text)
    if command is not None:
        with _lock:
            for commands in _listeners:
                commands.put(command)
    return command


def submit_result(result, source: str = "") -> str | None:
    """An ``on_result`` payload -> command: reads ``text`` (asr, chat), ``command`` or ``label``."""
    if not isinstance(result, dict):
        return None
    for key in ("command", "text", "label"):
        value = result.get(key)
        if isinstance(value, str) and value.strip():
            return submit_text(value)
    return None


def drain(commands: queue.Queue) -> list[str]:
    items = []
    while True:
        try:
            items.append(commands.get_nowait())
        except queue.Empty:
            return items
