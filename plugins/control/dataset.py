"""Episode datasets on disk: Parquet files plus JSON metadata, in the spirit of LeRobot's layout.

    DIR/meta/info.json          format, env, spaces, features, counts, and every data file with its
                                row count and SHA-256 (so a truncated or altered file is caught on read)
    DIR/meta/episodes.jsonl     one line per episode: episode_index, length, return, success, seed, ...
    DIR/meta/stats.json         mean/std/min/max of observation.state and action
    DIR/meta/tasks.jsonl        (instruction-conditioned datasets) one line per task: task_index, task (the
                                instruction), env
    DIR/data/chunk-000/file-000.parquet   one row per step, up to 1000 episodes per file:
        index (int64), episode_index (int64), frame_index (int64), timestamp (float32, seconds),
        observation.state (list<float32>), action (int64 for discrete spaces, list<float32> for boxes;
        the expert's action), next.reward (float32), next.done (bool: the episode ended after this step),
        next.success (bool: it ended by reaching the goal), and task_index (int64: the instruction, in
        datasets whose episodes carry one, as LeRobot's multi-task datasets do)

Any Parquet reader opens the data (``pandas.read_parquet(DIR + "/data")``). ``write_dataset`` builds the
folder under a temporary name beside ``DIR`` and renames it into place, so an interrupted ``collect``
leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import AppsError, data_dir

FORMAT = "transformer-apps/control-episodes"
VERSION = 1
EPISODES_PER_FILE = 1000


@dataclass
class Episode:
    observations: np.ndarray  # (T, obs_dim) float32
    actions: np.ndarray  # (T,) int64 or (T, act_dim) float32
    rewards: np.ndarray  # (T,) float32
    success: bool
    truncated: bool
    extra: dict  # seed, shortest path (mazes), ...

    @property
    def length(self) -> int:
        return len(self.rewards)

    @property
    def total_return(self) -> float:
        return float(np.sum(self.rewards))


@dataclass
class EpisodeDataset:
    path: Path
    info: dict
    episodes: list[Episode]

    @property
    def env(self) -> str:
        return self.info["env"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _task_indices(episodes: list[Episode]) -> dict[str, int]:
    """Instruction -> task_index, in order of first appearance (empty when episodes carry no instruction)."""
    return {
        i: n
        for n, i in enumerate(
            dict.fromkeys(e.extra["instruction"] for e in episodes if "instruction" in e.extra)
        )
    }


def _table(
    episodes: list[Episode], first_episode: int, first_index: int, fps: float, discrete: bool, tasks: dict
):
    import pyarrow as pa

    columns = {
        name: []
        for name in (
            "index",
            "episode_index",
            "frame_index",
            "timestamp",
            "observation.state",
            "action",
            "next.reward",
            "next.done",
            "next.success",
        )
    }
    index = first_index
    for offset, episode in enumerate(episodes):
        steps = episode.length
        columns["index"].append(np.arange(index, index + steps, dtype=np.int64))
        columns["episode_index"].append(np.full(steps, first_episode + offset, dtype=np.int64))
        columns["frame_index"].append(np.arange(steps, dtype=np.int64))
        columns["timestamp"].append((np.arange(steps) / fps).astype(np.float32))
        columns["observation.state"].append(episode.observations.astype(np.float32))
        columns["action"].append(episode.actions)
        columns["next.reward"].append(episode.rewards.astype(np.float32))
        done = np.zeros(steps, dtype=bool)
        done[-1] = True
        columns["next.done"].append(done)
        columns["next.success"].append(done & bool(episode.success))
        if tasks:
            columns.setdefault("task_index", []).append(np.full(steps, tasks[episode.extra["instruction"]]))
        index += steps
    arrays = {}
    for name, parts in columns.items():
        values = np.concatenate(parts)
        if values.ndim == 2:
            flat = pa.array(values.ravel())
            arrays[name] = pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
        else:
            arrays[name] = pa.array(values)
    if discrete:
        arrays["action"] = pa.array(np.concatenate(columns["action"]).astype(np.int64))
    return pa.table(arrays), index


def write_dataset(out: str | Path, episodes: list[Episode], info: dict, overwrite: bool = False) -> Path:
    """Write ``episodes`` to ``out`` atomically (temporary folder, then rename). Returns ``out``."""
    import pyarrow.parquet as pq

    out = Path(out)
    if out.exists() and not overwrite:
        raise AppsError(f"{out} already exists", hint="choose another --out or pass --overwrite")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        discrete = info["action_space"]["type"] == "discrete"
        fps = float(info.get("fps") or 30)
        files, index = {}, 0
        tasks = _task_indices(episodes)
        for chunk_start in range(0, len(episodes), EPISODES_PER_FILE):
            number = chunk_start // EPISODES_PER_FILE
            relative = f"data/chunk-{number // 1000:03d}/file-{number % 1000:03d}.parquet"
            table, index = _table(
                episodes[chunk_start : chunk_start + EPISODES_PER_FILE],
                chunk_start,
                index,
                fps,
                discrete,
                tasks,
            )
            (tmp / relative).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, tmp / relative)
            files[relative] = {"rows": table.num_rows, "sha256": _sha256(tmp / relative)}
        meta = tmp / "meta"
        meta.mkdir()
        with open(meta / "episodes.jsonl", "w", encoding="utf-8") as handle:
            for number, episode in enumerate(episodes):
                row = {
                    "episode_index": number,
                    "length": episode.length,
                    "return": episode.total_return,
                    "success": bool(episode.success),
                    "truncated": bool(episode.truncated),
                    **episode.extra,
                }
                handle.write(json.dumps(row) + "\n")
        (meta / "stats.json").write_text(json.dumps(_stats(episodes, discrete), indent=2))
        if tasks:
            envs: dict = {}  # instruction -> the first environment recorded with it
            for episode in episodes:
                envs.setdefault(episode.extra.get("instruction"), episode.extra.get("env"))
            lines = [json.dumps({"task_index": n, "task": t, "env": envs[t]}) for t, n in tasks.items()]
            (meta / "tasks.jsonl").write_text("\n".join(lines) + "\n")
        full_info = {
            "format": FORMAT,
            "version": VERSION,
            **info,
            "total_episodes": len(episodes),
            "total_frames": index,
            "files": files,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (meta / "info.json").write_text(json.dumps(full_info, indent=2))
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _stats(episodes: list[Episode], discrete: bool) -> dict:
    obs = np.concatenate([e.observations for e in episodes]).astype(np.float64)
    actions = np.concatenate([e.actions for e in episodes]).astype(np.float64)
    stats = {
        "observation.state": {
            "mean": obs.mean(0).tolist(),
            "std": obs.std(0).tolist(),
            "min": obs.min(0).tolist(),
            "max": obs.max(0).tolist(),
        }
    }
    if discrete:
        counts = np.bincount(actions.astype(np.int64))
        stats["action"] = {"counts": counts.tolist()}
    else:
        stats["action"] = {"mean": actions.mean(0).tolist(), "std": actions.std(0).tolist()}
    returns = np.array([e.total_return for e in episodes])
    stats["return"] = {
        "mean": float(returns.mean()),
        "std": float(returns.std()),
        "min": float(returns.min()),
        "max": float(returns.max()),
    }
    return stats


def _corrupt(path: Path, problem: str) -> AppsError:
    return AppsError(
        f"dataset file {path} is {problem}",
        where=str(path),
        hint="the dataset is damaged; delete it and record it again with 'apps collect control'",
    )


def read_dataset(path: str | Path) -> EpisodeDataset:
    """Read and verify a dataset folder written by :func:`write_dataset`."""
    import pyarrow.parquet as pq

    path = Path(path)
    info_path = path / "meta" / "info.json"
    if not info_path.is_file():
        raise AppsError(
            f"{path} is not a control dataset (no meta/info.json)",
            hint="record one with 'apps collect control --env ENV --episodes N --out DIR'",
        )
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _corrupt(info_path, f"not valid JSON ({exc})") from None
    if info.get("format") != FORMAT:
        raise AppsError(
            f"{info_path} has format {info.get('format')!r}, expected {FORMAT!r}", where=str(info_path)
        )
    discrete = info["action_space"]["type"] == "discrete"
    tables = []
    for relative, facts in sorted(info.get("files", {}).items()):
        file = path / relative
        if not file.is_file():
            raise _corrupt(file, "missing")
        if _sha256(file) != facts["sha256"]:
            raise _corrupt(file, "truncated or altered (its SHA-256 does not match meta/info.json)")
        try:
            table = pq.read_table(file)
        except Exception as exc:  # pyarrow raises ArrowInvalid / OSError on damaged files
            raise _corrupt(file, f"not readable Parquet ({exc})") from None
        if table.num_rows != facts["rows"]:
            raise _corrupt(file, f"holding {table.num_rows} rows, {facts['rows']} expected")
        tables.append(table)
    if not tables:
        raise _corrupt(info_path, "listing no data files")
    meta_rows = _episode_rows(path / "meta" / "episodes.jsonl")
    episodes = []
    for table in tables:
        episodes.extend(_split(table, discrete, meta_rows))
    if len(episodes) != info["total_episodes"]:
        raise _corrupt(path / "data", f"holding {len(episodes)} episodes, {info['total_episodes']} expected")
    return EpisodeDataset(path=path, info=info, episodes=episodes)


def _episode_rows(path: Path) -> dict[int, dict]:
    rows = {}
    if not path.is_file():
        return rows
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise AppsError(
                f"{path}:{number}: not valid JSON",
                where=f"{path}:{number}",
                hint="record the dataset again with 'apps collect control'",
            ) from None
        rows[int(row["episode_index"])] = row
    return rows


def _split(table, discrete: bool, meta_rows: dict) -> list[Episode]:
    episode_index = table.column("episode_index").to_numpy()
    obs_column = table.column("observation.state").combine_chunks()
    obs = obs_column.flatten().to_numpy().reshape(len(episode_index), -1).astype(np.float32)
    if discrete:
        actions = table.column("action").to_numpy().astype(np.int64)
    else:
        actions = table.column("action").combine_chunks().flatten().to_numpy().reshape(len(episode_index), -1)
        actions = actions.astype(np.float32)
    rewards = table.column("next.reward").to_numpy().astype(np.float32)
    success = table.column("next.success").to_numpy()
    bounds = np.flatnonzero(np.diff(episode_index)) + 1
    episodes = []
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(episode_index)], strict=True):
        number = int(episode_index[start])
        extra = {
            k: v
            for k, v in meta_rows.get(number, {}).items()
            if k not in ("episode_index", "length", "return", "success", "truncated")
        }
        episodes.append(
            Episode(
                obs[start:stop],
                actions[start:stop],
                rewards[start:stop],
                success=bool(success[stop - 1]),
                truncated=bool(meta_rows.get(number, {}).get("truncated", False)),
                extra=extra,
            )
        )
    return episodes


# ---- recording ------------------------------------------------------------------------------------


def collect(
    env_id: str, episodes: int = 100, out=None, seed: int = 0, noise: float = 0.0, overwrite: bool = False
) -> dict:
    """``apps collect control``: record the expert into a dataset folder (default: under
    ``$APPS_HOME/data/control/``); returns a summary (path, episodes, frames, mean return, success rate)."""
    from plugins.control.envs import env_entry

    env_entry(env_id)  # unknown ids fail before anything is written
    if episodes < 1:
        raise AppsError("--episodes must be at least 1")
    if out is None:
        out = data_dir("control") / f"{env_id}-expert-{episodes}ep-noise{noise:g}-seed{seed}"
    if Path(out).exists() and not overwrite:
        raise AppsError(f"{out} already exists", hint="choose another --out or pass --overwrite")
    started = time.time()
    recorded, info = record_episodes(env_id, episodes, seed, noise, progress=sys.stderr.isatty())
    path = write_dataset(out, recorded, info, overwrite=overwrite)
    returns = [e.total_return for e in recorded]
    return {
        "dataset": str(path),
        "env": env_id,
        "episodes": len(recorded),
        "frames": int(sum(e.length for e in recorded)),
        "mean_return": float(sum(returns) / len(returns)),
        "success_rate": float(sum(e.success for e in recorded) / len(recorded)),
        "seconds": round(time.time() - started, 2),
    }


def record_episodes(env_id: str, episodes: int, seed: int = 0, noise: float = 0.0, progress: bool = False):
    """Run the expert of ``env_id`` for ``episodes`` episodes (reset seeds ``seed``, ``seed + 1`` ...).

    ``noise`` perturbs what is executed, never what is recorded: with that probability a discrete step
    takes a random action, and box actions get Gaussian noise of that fraction of the action range. The
    recorded action is always the expert's, so the data shows how the expert recovers (DART-style).
    Returns ``(episodes, info)``.
    """
    from plugins.control.envs import describe_space, make_env
    from plugins.control.experts import expert_for

    env = make_env(env_id)
    expert = expert_for(env_id, env)
    act_space = describe_space(env.action_space)
    rng = np.random.default_rng(seed + 7919)
    recorded = []
    bar = _progress(episodes, f"collect {env_id}", progress)
    for number in range(episodes):
        obs, info = env.reset(seed=seed + number)
        observations, actions, rewards = [], [], []
        while True:
            action = expert(obs)
            executed = _perturb(action, env.action_space, act_space, noise, rng)
            observations.append(np.asarray(obs, dtype=np.float32).ravel())
            actions.append(action)
            obs, reward, terminated, truncated, info = env.step(executed)
            rewards.append(reward)
            if terminated or truncated:
                break
        extra = {"seed": seed + number}
        if "shortest" in info:
            extra["shortest"] = int(info["shortest"])
        success = bool(info.get("success", terminated and not truncated))
        if env_id.startswith(("CartPole", "Pendulum")):  # tasks that "succeed" by lasting the episode
            success = bool(info.get("success", truncated and not terminated))
        recorded.append(
            Episode(
                np.stack(observations),
                action_array(actions, act_space["type"] == "discrete"),
                np.asarray(rewards, dtype=np.float32),
                success,
                bool(truncated),
                extra,
            )
        )
        bar.update(1)
    bar.close()
    info = dataset_info(env_id, env, expert="scripted", noise=noise, seed=seed)
    env.close()
    return recorded, info


def action_array(actions: list, discrete: bool) -> np.ndarray:
    """Actions as episodes hold them: int64 ``(T,)`` in a discrete space, float32 ``(T, act_dim)`` in a box."""
    if discrete:
        return np.asarray(actions, dtype=np.int64).reshape(-1)
    return np.asarray(actions, dtype=np.float32).reshape(len(actions), -1)


def dataset_info(env_id: str, env, **fields) -> dict:
    """The ``meta/info.json`` fields of a recording in ``env`` (its spaces, features and frame rate)."""
    from plugins.control.envs import describe_space

    obs_space, act_space = describe_space(env.observation_space), describe_space(env.action_space)
    return {
        "env": env_id,
        **fields,
        "fps": float(env.metadata.get("render_fps") or 30),
        "observation_space": obs_space,
        "action_space": act_space,
        "features": {
            "observation.state": {"dtype": "float32", "shape": obs_space["shape"]},
            "action": {"dtype": "int64", "shape": []}
            if act_space["type"] == "discrete"
            else {"dtype": "float32", "shape": act_space["shape"]},
        },
    }


def _perturb(action, space, desc, noise, rng):
    if noise <= 0:
        return action
    if desc["type"] == "discrete":
        return int(rng.integers(desc["n"])) if rng.random() < noise else action
    low, high = np.asarray(space.low, dtype=np.float32), np.asarray(space.high, dtype=np.float32)
    noisy = np.asarray(action, dtype=np.float32) + rng.normal(0, noise * (high - low) / 2, size=low.shape)
    return np.clip(noisy, low, high).astype(np.float32)


def _progress(total: int, description: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=description, disable=not enabled, leave=False)
