"""The control app's recipe settings (a light module: ``apps list`` imports it through app.py)."""

from __future__ import annotations

import typing
from dataclasses import dataclass

from core import Recipe


@dataclass
class ControlRecipe(Recipe):
    """Train a policy from expert demonstrations of one environment.

    ``dataset``: a folder written by ``apps collect control``; when null, ``episodes`` expert episodes are
    recorded (reset seeds ``collect_seed``...) into ``$APPS_HOME/data/control/`` on first use.
    """

    env: str = "CartPole-v1"  # or a suite of instructed tasks (mt10) for policy: instruct
    # dt: Decision Transformer | bc: causal-Transformer behaviour cloning | instruct: instruction-conditioned
    # Transformer over a suite (plugins/control/instruct.py)
    policy: str = "dt"
    episodes: int = 100
    noise: float = 0.1  # expert execution noise while recording (labels stay the expert's)
    collect_seed: int = 0
    context_length: int = 20
    hidden_size: int = 64
    n_layer: int = 2
    n_head: int = 2
    dropout: float = 0.1
    # linear | mlp (two layers) | cnn (grid observations: maze views) | planner (value iteration over a
    # maze map); Decision Transformer only
    state_encoder: str = "linear"
    dagger_rounds: int = 0  # > 0: DAgger rounds during training (the expert labels the policy's own states)
    dagger_episodes: int = 500  # episodes the policy plays per DAgger round
    eval_fraction: float = 0.05  # share of episodes held out for eval_loss
    chunk: int = 1  # instruct: actions predicted per step (the first is executed)
    vary_wording: float = 0.5  # instruct: share of examples whose instruction is reworded (WordNet synonyms)
    torch_threads: int = 0  # > 0: torch.set_num_threads (tiny policies train fastest on 1-2 threads)

    CHOICES: typing.ClassVar[dict[str, tuple[str, ...]]] = {
        **Recipe.CHOICES,
        "policy": ("dt", "bc", "instruct"),
        "state_encoder": ("linear", "mlp", "cnn", "planner"),
    }
