"""Running agents in environments: batched evaluation of a policy beside the expert, and the checks that a
policy fits an environment."""

from __future__ import annotations

import numpy as np

from core import AppsError
from plugins.control.envs import describe_space, make_env, space_text


def check_compatible(control: dict, env_id: str, env, where: str) -> None:
    """Refuse a policy trained for other observation or action spaces than ``env``'s."""
    obs, act = describe_space(env.observation_space), describe_space(env.action_space)
    trained_obs, trained_act = control["observation_space"], control["action_space"]
    same_obs = obs["type"] == trained_obs["type"] and obs.get("shape") == trained_obs.get("shape")
    same_act = (
        act["type"] == trained_act["type"]
        and act.get("n") == trained_act.get("n")
        and act.get("shape") == trained_act.get("shape")
    )
    if not (same_obs and same_act):
        if control["env"] == env_id:  # same id, other spaces: the environment changed since training
            hint = f"the environment changed since training: train the policy again ('apps train control --recipe ... env={env_id}')"
        else:
            hint = (
                f"use --env {control['env']}, or train a policy for {env_id} "
                f"('apps train control --recipe ... env={env_id}')"
            )
        raise AppsError(
            f"the policy in {where} was trained for {control['env']} (observation {space_text(trained_obs)}, "
            f"action {space_text(trained_act)}), but {env_id} has observation {space_text(obs)} and action "
            f"{space_text(act)}",
            hint=hint,
        )


def run_episodes(
    env_id: str,
    episodes: int,
    seed: int,
    policy=None,
    batch: int = 50,
    progress: bool = False,
    record: list | None = None,
    instruction: str | None = None,
) -> list[dict]:
    """Play ``episodes`` episodes (reset seeds ``seed``, ``seed + 1`` ...) with the policy model, or with the
    expert when ``policy`` is None. Environments advance in lockstep so the policy acts for all at once.

    ``record``: a list that receives one :class:`Episode` per episode holding the states the policy visited
    labelled with the expert's action in each (DAgger's data: how the expert recovers from the policy's own
    mistakes). ``instruction``: what an instruction-conditioned policy is told (default: the task's own).

    Returns one dict per episode: return, length, success, and for mazes shortest and path_ratio.
    """
    from tqdm import tqdm

    from plugins.control.experts import expert_for
    from plugins.control.policies import runner_for

    results: list[dict] = []
    bar = tqdm(
        total=episodes,
        desc=f"{env_id} {'policy' if policy is not None else 'expert'}",
        disable=not progress,
        leave=False,
    )
    for first in range(0, episodes, batch):
        count = min(batch, episodes - first)
        envs = [make_env(env_id) for _ in range(count)]
        observations, infos = zip(
            *(env.reset(seed=seed + first + i) for i, env in enumerate(envs)), strict=True
        )
        observations, infos = list(observations), list(infos)
        runner = runner_for(policy, count, env_id, instruction) if policy is not None else None
        experts = [expert_for(env_id, env) for env in envs] if policy is None or record is not None else None
        totals, lengths, active = [0.0] * count, [0] * count, [True] * count
        finals: list[dict] = [{} for _ in range(count)]
        trace = [([], [], []) for _ in range(count)]  # observations, expert actions, rewards
        while any(active):
            labels = (
                [experts[i](observations[i]) if active[i] else None for i in range(count)]
                if experts
                else None
            )
            if runner is not None:
                actions = runner.act(observations, active, [action_mask(env) for env in envs])
            else:
                actions = labels
            for i, env in enumerate(envs):
                if not active[i]:
                    continue
                if record is not None:
                    trace[i][0].append(np.asarray(observations[i], dtype=np.float32).ravel())
                    trace[i][1].append(labels[i])
                obs, reward, terminated, truncated, info = env.step(actions[i])
                trace[i][2].append(reward)
                if runner is not None:
                    runner.observe(i, actions[i], reward)
                observations[i] = obs
                totals[i] += float(reward)
                lengths[i] += 1
                if terminated or truncated:
                    active[i] = False
                    finals[i] = {"terminated": bool(terminated), "truncated": bool(truncated), **info}
                    bar.update(1)
        for i, env in enumerate(envs):
            results.append(episode_result(env_id, totals[i], lengths[i], finals[i], infos[i]))
            if record is not None:
                discrete = describe_space(env.action_space)["type"] == "discrete"
                record.append(_labelled_episode(trace[i], results[-1], finals[i], seed + first + i, discrete))
            env.close()
    bar.close()
    return results


def _labelled_episode(trace, result: dict, final: dict, seed: int, discrete: bool):
    from plugins.control.dataset import Episode, action_array

    observations, labels, rewards = trace
    extra = {"seed": seed, **({"shortest": result["shortest"]} if "shortest" in result else {})}
    return Episode(
        np.stack(observations),
        action_array(labels, discrete),
        np.asarray(rewards, dtype=np.float32),
        bool(result["success"]),
        bool(final.get("truncated")),
        extra,
    )


def action_mask(env):
    """The environment's mask of allowed actions when it offers one (mazes: no walking into walls)."""
    method = getattr(env.unwrapped, "action_mask", None)
    return method() if callable(method) else None


def episode_result(env_id: str, total: float, length: int, final: dict, first_info: dict) -> dict:
    """One episode's row: return, length, success (the env's own flag, else the task's rule) and, for mazes,
    the shortest path and the walked path's ratio to it (``final``: the last step's info, ``first_info``:
    the reset's)."""
    row = {"return": total, "length": length}
    if "success" in final:
        row["success"] = bool(final["success"])
    elif env_id.startswith("CartPole"):
        row["success"] = length >= 500
    elif env_id.startswith("Pendulum"):
        row["success"] = None  # no goal state: judged by return
    else:
        row["success"] = bool(final.get("terminated"))
    if "shortest" in first_info:
        row["shortest"] = int(first_info["shortest"])
        row["path_ratio"] = length / max(1, row["shortest"]) if row["success"] else None
    return row


def summarize(rows: list[dict]) -> dict:
    """Mean and spread of return, success rate, and (mazes) the path length relative to the shortest."""
    returns = np.array([r["return"] for r in rows], dtype=np.float64)
    summary = {
        "episodes": len(rows),
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "min_return": float(returns.min()),
        "max_return": float(returns.max()),
        "mean_length": float(np.mean([r["length"] for r in rows])),
    }
    judged = [r["success"] for r in rows if r.get("success") is not None]
    summary["success_rate"] = float(np.mean(judged)) if judged else None
    ratios = [r["path_ratio"] for r in rows if r.get("path_ratio") is not None]
    if any("shortest" in r for r in rows):
        summary["mean_path_ratio"] = float(np.mean(ratios)) if ratios else None
        summary["max_path_ratio"] = float(np.max(ratios)) if ratios else None
    return summary
