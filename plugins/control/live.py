"""The live loop behind ``apps run control``: act, draw, obey steering commands, report each episode."""

from __future__ import annotations

import json
import sys
import threading
import time

import click
import numpy as np

from plugins.control import steering
from plugins.control.envs import make_env


def manual_action(command: str, env):
    """The action a steering word stands for in ``env`` (None: the word means nothing here)."""
    from gymnasium import spaces

    space = env.action_space
    name = type(env.unwrapped).__name__
    if name == "MazeEnv":
        return {"up": 0, "right": 1, "down": 2, "left": 3}.get(command)
    if command not in ("left", "right"):
        return None
    if isinstance(space, spaces.Discrete):
        return 0 if command == "left" else space.n - 1
    if isinstance(space, spaces.Box):
        return (space.low if command == "left" else space.high).astype(np.float32)
    return None


def task_to_say(text: str, env_id: str | None) -> str:
    """The arm task to run for ``--say text``: ``env_id`` when given (an arm task), else the task the text
    asks for; a text that asks for no task well is an error listing the closest ones."""
    from core import AppsError
    from plugins.control.tasks import INSTRUCTIONS, closest_tasks, task_for, task_of

    if env_id is not None:
        from plugins.control.envs import env_entry

        env_entry(env_id)
        if task_of(env_id) not in INSTRUCTIONS:
            raise AppsError(
                f"--say instructs the arm; {env_id} is not an arm task", hint="use --env reach-v3 ..."
            )
        return env_id
    task = task_for(text)
    if task is None:
        ranked = closest_tasks(text)
        closest = [f'{t} ("{INSTRUCTIONS[t]}")' for score, t in ranked[:3] if score > 0] or [
            f'{t} ("{INSTRUCTIONS[t]}")' for t in INSTRUCTIONS
        ]
        raise AppsError(
            f'"{text}" asks for no arm task clearly enough',
            hint=f"the closest: {'; '.join(closest)}. Say one of those, or pick the scene with --env",
        )
    click.echo(f'"{text}" -> {task} ("{INSTRUCTIONS[task]}")', err=True)
    return task


def _read_stdin():
    for line in sys.stdin:
        if steering.submit_text(line) == "stop":
            return


def run_live(
    app,
    env_id: str,
    policy,
    episodes=1,
    seed=2_000_000,
    render=None,
    fps=None,
    max_steps=None,
    steer_stdin=False,
    as_json=False,
    instruction=None,
) -> list[dict]:
    """Play ``episodes`` episodes, drawing them to ``render``; steering words and (arm tasks) instructions
    from other apps change what happens. ``instruction``: what an instructed policy is told."""
    from plugins.control.experts import expert_for
    from plugins.control.policies import runner_for
    from plugins.control.render import FrameSink, frame
    from plugins.control.rollout import action_mask, episode_result
    from plugins.control.tasks import INSTRUCTIONS

    env = make_env(env_id, render_mode="rgb_array" if render else None)
    fps = fps or float(env.metadata.get("render_fps") or 30)
    sink = FrameSink(render, fps) if render else None
    commands = steering.listen()
    if steer_stdin:
        threading.Thread(target=_read_stdin, daemon=True).start()
    who = "expert" if policy is None else "policy"
    said = f': "{instruction}"' if instruction and policy is not None else ""
    results, stopped = [], False
    try:
        for episode in range(episodes):
            obs, first_info = env.reset(seed=seed + episode)
            runner = runner_for(policy, 1, env_id, instruction) if policy is not None else None
            expert = expert_for(env_id, env) if policy is None else None
            total, steps, paused, manual_steps = 0.0, 0, False, 0
            final: dict = {}
            if sink:
                sink.write(frame(env, f"{env_id} {who}{said}"))
            while True:
                manual = None
                for command in steering.drain(commands):
                    if command == "stop":
                        stopped = True
                    elif command == "pause":
                        paused = True
                    elif command == "go":
                        paused = False
                    elif command in INSTRUCTIONS.values() and hasattr(runner, "set_instructions"):
                        runner.set_instructions([command])  # an instruction from asr or chat: do that now
                    else:
                        manual = manual_action(command, env)
                        paused = False
                if stopped:
                    break
                if paused:
                    time.sleep(0.05)
                    continue
                if manual is not None:
                    action = manual
                    manual_steps += 1
                elif runner is not None:
                    action = runner.act([obs], masks=[action_mask(env)])[0]
                else:
                    action = expert(obs)
                obs, reward, terminated, truncated, info = env.step(action)
                if runner is not None:
                    runner.observe(0, action, reward)
                total += float(reward)
                steps += 1
                if sink:
                    sink.write(frame(env, f"{env_id} {who}{said} step {steps} return {total:.1f}"))
                if terminated or truncated or (max_steps and steps >= max_steps):
                    final = {"terminated": bool(terminated), "truncated": bool(truncated), **info}
                    break
            row = {
                "env": env_id,
                "episode": episode,
                "agent": who,
                "manual_steps": manual_steps,
                **episode_result(env_id, total, steps, final, first_info),
            }
            if stopped:
                row["stopped"] = True
            results.append(row)
            app.emit(row, source=env_id)
            click.echo(
                json.dumps(row)
                if as_json
                else f"episode {episode}: return {total:.2f} in {steps} steps"
                + ("" if row.get("success") is None else f", success {row['success']}")
                + (f", {manual_steps} steered steps" if manual_steps else "")
            )
            if stopped:
                break
    finally:
        steering.unlisten(commands)
        if sink:
            sink.close()
        env.close()
    if render and render != "window":
        click.echo(f"wrote {render}", err=True)
    return results
