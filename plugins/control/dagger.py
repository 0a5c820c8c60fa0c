"""DAgger rounds while a policy trains: the policy plays, the expert labels the states it visited."""

from __future__ import annotations

from pathlib import Path

from transformers import TrainerCallback

from plugins.control.dataset import read_dataset, write_dataset


class DaggerCallback(TrainerCallback):
    """DAgger (Ross et al., 2011) inside one training run: at ``dagger_rounds`` evenly spaced steps the policy
    being trained plays ``dagger_episodes`` new training episodes (a suite: of each environment); the states
    it visits, labelled with the expert's action, join the training data, so the policy learns to recover
    from its own mistakes. Tasks the policy fails get the most new states: a failed episode runs to the
    step limit.

    ``play(model, episodes, seed)`` returns ``(episodes, info, rows)``: the labelled episodes, their
    dataset info and one result row each. Each round is saved as ``dagger/step-N`` (the dataset format) in the
    run directory, and a resumed run reloads the rounds up to its checkpoint instead of losing them.
    """

    def __init__(self, recipe, dataset, play=None):
        self.recipe, self.dataset, self.steps = recipe, dataset, []
        self.play = play or play_env(recipe.env)

    def on_train_begin(self, args, state, control, **kwargs):
        every = state.max_steps // (self.recipe.dagger_rounds + 1)
        self.steps = [every * (r + 1) for r in range(self.recipe.dagger_rounds)]
        for step in self.steps:
            folder = Path(args.output_dir) / "dagger" / f"step-{step}"
            if step <= state.global_step and (folder / "meta" / "info.json").is_file():
                self.dataset.extend(read_dataset(folder).episodes)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step in self.steps:
            self.run_round(model, Path(args.output_dir), state.global_step)

    def run_round(self, model, run_dir: Path, step: int) -> None:
        from plugins.control.rollout import summarize

        recipe, round_number = self.recipe, self.steps.index(step)
        seed = recipe.collect_seed + recipe.episodes + round_number * recipe.dagger_episodes
        model.eval()
        try:
            episodes, info, rows = self.play(model, recipe.dagger_episodes, seed)
        finally:
            model.train()
        info["policy"] = f"dagger round at step {step}"
        write_dataset(run_dir / "dagger" / f"step-{step}", episodes, info, overwrite=True)
        self.dataset.extend(episodes)
        summary = summarize(rows)
        print(
            f"dagger step {step}: {len(episodes)} episodes, policy success {summary['success_rate']}, "
            f"{len(self.dataset)} training examples",
            flush=True,
        )


def play_env(env_id: str):
    """DAgger's round in one environment (see :class:`DaggerCallback`)."""

    def play(model, episodes: int, seed: int):
        from plugins.control.dataset import dataset_info
        from plugins.control.envs import make_env
        from plugins.control.rollout import run_episodes

        recorded: list = []
        rows = run_episodes(env_id, episodes, seed, policy=model, record=recorded)
        env = make_env(env_id)
        info = dataset_info(env_id, env, expert="scripted", seed=seed)
        env.close()
        return recorded, info, rows

    return play
