"""The MT10 suite as one instruction-conditioned dataset: every task's expert (and the shared starts), each
episode labelled with its instruction (``apps collect control --env mt10``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from core import AppsError, data_dir
from plugins.control.dataset import dataset_info, record_episodes, write_dataset
from plugins.control.tasks import MT10, SHARED, instruction_of

SUITES = {"mt10": MT10 + list(SHARED)}


def suite_envs(name: str) -> list[str]:
    if name not in SUITES:
        raise AppsError(f"unknown suite '{name}'", hint=f"known: {', '.join(SUITES)}")
    return SUITES[name]


def record_suite(name: str, episodes: int, seed: int = 0, noise: float = 0.0, progress: bool = False):
    """``episodes`` expert episodes of every environment of the suite (reset seeds ``seed``...), each with
    its instruction and environment in ``extra``. Returns ``(episodes, info)``."""
    recorded = []
    for env_id in suite_envs(name):
        part, _ = record_episodes(env_id, episodes, seed, noise, progress)
        recorded += _labelled(part, env_id)
    return recorded, suite_info(name, noise=noise, seed=seed)


def play_suite(name: str, model, episodes: int, seed: int):
    """DAgger's round over a suite: the policy plays ``episodes`` episodes of every environment (reset seeds
    ``seed``...), each told its task's instruction; the states it visits carry the expert's actions.
    Returns ``(episodes, info, rows)``: the labelled episodes, their dataset info, one result row each."""
    from plugins.control.rollout import run_episodes

    recorded, rows = [], []
    for env_id in suite_envs(name):
        part: list = []
        rows += run_episodes(env_id, episodes, seed, policy=model, record=part)
        recorded += _labelled(part, env_id)
    return recorded, suite_info(name, policy="dagger", seed=seed), rows


def _labelled(episodes: list, env_id: str) -> list:
    for episode in episodes:
        episode.extra.update(instruction=instruction_of(env_id), env=env_id)
    return episodes


def suite_info(name: str, **fields) -> dict:
    from plugins.control.envs import make_env

    env = make_env(suite_envs(name)[0])
    info = dataset_info(name, env, expert="scripted (metaworld.policies)", **fields)
    info["envs"] = suite_envs(name)
    env.close()
    return info


def suite_dataset_path(name: str, episodes: int, noise: float, seed: int) -> Path:
    return data_dir("control") / f"{name}-expert-{episodes}ep-noise{noise:g}-seed{seed}"


def collect_suite(name, episodes, out=None, seed=0, noise=0.0, overwrite=False) -> dict:
    """``apps collect control --env mt10``: the suite's demonstrations in one dataset folder."""
    suite_envs(name)
    if episodes < 1:
        raise AppsError("--episodes must be at least 1")
    out = Path(out) if out else suite_dataset_path(name, episodes, noise, seed)
    if out.exists() and not overwrite:
        raise AppsError(f"{out} already exists", hint="choose another --out or pass --overwrite")
    started = time.time()
    recorded, info = record_suite(name, episodes, seed, noise, progress=sys.stderr.isatty())
    write_dataset(out, recorded, info, overwrite=overwrite)
    return {
        "dataset": str(out),
        "env": name,
        "episodes": len(recorded),
        "frames": int(sum(e.length for e in recorded)),
        "success_rate": float(sum(e.success for e in recorded) / len(recorded)),
        "seconds": round(time.time() - started, 2),
    }
