"""The arm's tasks: Meta-World MT10, each with its instruction, and the shared-start variants (light: no gymnasium).

``environments()`` is what the control plugin registers (the environments themselves are in mt10.py);
``closest_tasks(text)`` is which task a free-form sentence asks for.
"""

from __future__ import annotations

MAX_STEPS = 500
MATCH = 0.5  # the least score (rank_instructions) at which a sentence asks for a task
# task -> canonical instruction (the wording chat and asr use too: /tmp/guide.md's cross-issue contract)
INSTRUCTIONS = {
    "reach-v3": "reach to the goal",
    "push-v3": "push the puck to the goal",
    "pick-place-v3": "pick up the puck and place it at the goal",
    "door-open-v3": "open the door",
    "drawer-open-v3": "open the drawer",
    "drawer-close-v3": "close the drawer",
    "button-press-topdown-v3": "press the button from the top",
    "peg-insert-side-v3": "insert the peg from the side",
    "window-open-v3": "open the window",
    "window-close-v3": "close the window",
}
MT10 = list(INSTRUCTIONS)
# Tasks whose goal is where the object ends when done: the observation hides it, so that in a shared start
# the goal cannot tell open from close.
HIDDEN_GOAL = {"drawer-open-v3", "drawer-close-v3", "window-open-v3", "window-close-v3"}
# shared-start variant -> (the task it is, the scene both variants of the object are built in)
SHARED = {
    "drawer-open-shared-v3": ("drawer-open-v3", "drawer-open-v3"),
    "drawer-close-shared-v3": ("drawer-close-v3", "drawer-open-v3"),
    "window-open-shared-v3": ("window-open-v3", "window-open-v3"),
    "window-close-shared-v3": ("window-close-v3", "window-open-v3"),
}
SHARED_PAIRS = [
    ("drawer-open-shared-v3", "drawer-close-shared-v3"),
    ("window-open-shared-v3", "window-close-shared-v3"),
]


def task_of(env_id: str) -> str:
    """The MT10 task an environment id is (a shared-start variant is its task)."""
    return SHARED[env_id][0] if env_id in SHARED else env_id


def instruction_of(env_id: str) -> str:
    return INSTRUCTIONS[task_of(env_id)]


def environments() -> list[dict]:
    """The registrations (fields of the ``register_environments`` hook) of MT10 and the shared starts."""
    rows = [
        {
            "id": task,
            "entry_point": "plugins.control.mt10:MetaWorldEnv",
            "kwargs": {"task": task},
            "max_episode_steps": MAX_STEPS,
            "expert": "plugins.control.mt10:metaworld_expert",
            "description": f'Meta-World MT10 arm: "{instruction}"',
        }
        for task, instruction in INSTRUCTIONS.items()
    ]
    rows += [
        {
            "id": variant,
            "entry_point": "plugins.control.mt10:MetaWorldEnv",
            "kwargs": {"task": task, "scene": scene},
            "max_episode_steps": MAX_STEPS,
            "expert": "plugins.control.mt10:metaworld_expert",
            "description": f'"{INSTRUCTIONS[task]}" from a half-open start shared with its opposite',
        }
        for variant, (task, scene) in SHARED.items()
    ]
    return rows


def closest_tasks(text: str) -> list[tuple[float, str]]:
    """``(score, task)`` best first: how well ``text`` asks for each MT10 task (language.rank_instructions)."""
    from plugins.control.language import rank_instructions

    by_instruction = {instruction: task for task, instruction in INSTRUCTIONS.items()}
    return [(score, by_instruction[i]) for score, i in rank_instructions(text, list(by_instruction))]


def task_for(text: str) -> str | None:
    """The task ``text`` asks for, or None when no task matches well (a score under ``MATCH``)."""
    score, task = closest_tasks(text)[0]
    return task if score >= MATCH else None
