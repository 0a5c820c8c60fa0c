"""Transformer policies: a Decision Transformer and a causal-Transformer behaviour-cloning policy.

Both are ``transformers`` models (``save_pretrained``/``from_pretrained`` folders) whose ``forward(**batch)``
returns an output with ``.loss``, so the core engine trains them like any other model. What a policy was
trained for (environment, observation and action spaces, normalisation) lives in ``config.control``.

- ``DTPolicy`` is ``transformers.DecisionTransformerModel`` (GPT-2 over (return-to-go, state, action)
  tokens). For discrete action spaces the actions go in one-hot and ``predict_action`` (no tanh) gives
  logits trained with cross-entropy; for boxes it gives tanh actions in [-1, 1] trained with MSE.
- ``BCPolicy`` is a ``GPT2Model`` over the last K states (causal attention), predicting each step's action.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import (
    DecisionTransformerConfig,
    DecisionTransformerModel,
    GPT2Config,
    GPT2Model,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.utils import ModelOutput

from core import AppsError


@dataclass
class PolicyOutput(ModelOutput):
    loss: torch.Tensor | None = None
    action_preds: torch.Tensor | None = None


def action_loss(preds, labels, mask, discrete: bool):
    """Cross-entropy over action logits (discrete) or MSE on [-1, 1] actions (boxes), on real steps only."""
    keep = mask.reshape(-1) > 0
    if discrete:
        return nn.functional.cross_entropy(preds.reshape(-1, preds.shape[-1])[keep], labels.reshape(-1)[keep])
    return nn.functional.mse_loss(
        preds.reshape(-1, preds.shape[-1])[keep], labels.reshape(-1, preds.shape[-1])[keep]
    )


class DTPolicy(DecisionTransformerModel):
    """Decision Transformer with the action loss of its action space.

    ``config.control["state_encoder"]`` swaps the linear state embedding: ``mlp`` for a two-layer MLP,
    ``cnn`` for :class:`GridEncoder` (observations that start with a square grid, such as maze views),
    ``planner`` for :class:`PlannerEncoder` (value iteration over a maze map).
    """

    def __init__(self, config):
        super().__init__(config)
        encoder = getattr(config, "control", {}).get("state_encoder")
        if encoder == "mlp":
            width = 4 * config.hidden_size
            self.embed_state = nn.Sequential(
                nn.Linear(config.state_dim, width), nn.GELU(), nn.Linear(width, config.hidden_size)
            )
        elif encoder == "cnn":
            self.embed_state = GridEncoder(config.state_dim, config.hidden_size)
        elif encoder == "planner":
            self.embed_state = PlannerEncoder(config.control, config.hidden_size)

    def forward(
        self,
        states=None,
        actions=None,
        returns_to_go=None,
        timesteps=None,
        attention_mask=None,
        labels=None,
        **kwargs,
    ):
        out = super().forward(
            states=states,
            actions=actions,
            returns_to_go=returns_to_go,
            timesteps=timesteps,
            attention_mask=attention_mask,
            return_dict=True,
        )
        preds = out.action_preds
        loss = None
        if labels is not None:
            loss = action_loss(preds, labels, attention_mask, self.config.control["discrete"])
        return PolicyOutput(loss=loss, action_preds=preds)


def grid_split(state_dim: int) -> tuple[int, int]:
    """``(side, extra)`` of an observation made of a square grid, the largest that fits, then ``extra``
    other features (a maze view or map, then the goal's offset)."""
    side = int(np.sqrt(state_dim))
    return side, state_dim - side * side


class GridEncoder(nn.Module):
    """State embedding for observations made of a square grid followed by other features (``grid_split``):
    two 3x3 convolutions see walls and corridors the same way wherever they are in the view, which a dense
    layer must learn position by position."""

    def __init__(self, state_dim: int, hidden_size: int, channels: int = 32):
        super().__init__()
        self.side, self.extra = grid_split(state_dim)
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.GELU(),
        )
        self.project = nn.Sequential(
            nn.Linear(channels * self.side * self.side + self.extra, 2 * hidden_size),
            nn.GELU(),
            nn.Linear(2 * hidden_size, hidden_size),
        )

    def forward(self, states):
        leading = states.shape[:-1]
        flat = states.reshape(-1, states.shape[-1])
        grid = flat[:, : self.side * self.side].reshape(-1, 1, self.side, self.side)
        features = torch.cat([self.conv(grid).flatten(1), flat[:, self.side * self.side :]], dim=1)
        return self.project(features).reshape(*leading, -1)


class PlannerEncoder(nn.Module):
    """State embedding that plans: a value-iteration network (Tamar et al., 2016) over a maze map.

    The observation is a square grid centred on the agent (1 wall, 0 free, 0.5 not seen yet) followed by
    the goal's offset (rows, columns, in units of ``control["goal_scale"]`` cells) and other features. A
    small convolutional network learns what each cell costs to cross from the walls, the unseen cells and
    the goal; ``steps`` rounds of value iteration then spread the cost-to-go from the goal over the map,
    with the environment's four moves as the transition model (the known dynamics of a gridworld, where
    Tamar et al. learn a 3x3 kernel, which trains far slower: docs/control.md).
    Each move's advantage at the agent (the cost-to-go it saves) and the other features form the
    embedding. Everything that decides what to avoid and how to act on the values is learned.
    """

    def __init__(self, control: dict, hidden_size: int, channels: int = 16):
        super().__init__()
        self.side, self.extra = grid_split(control["state_dim"])
        if "goal_scale" not in control or self.extra < 2:
            raise AppsError(
                "the planner state encoder needs a maze-like observation: a square grid, then the goal offset",
                hint="use state_encoder=planner with a maze environment (Maze-map-v0) or choose mlp",
            )
        self.goal_scale = float(control["goal_scale"])
        self.steps = 2 * self.side  # enough rounds for the cost-to-go to reach across the map
        # saved with the weights: from_pretrained leaves non-persistent buffers uninitialised (transformers 5)
        self.register_buffer("mean", torch.tensor(control["state_mean"], dtype=torch.float32))
        self.register_buffer("std", torch.tensor(control["state_std"], dtype=torch.float32))
        self.cost = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, 1, 1), nn.Softplus()
        )
        self.project = nn.Sequential(
            nn.Linear(4 + self.extra, 2 * hidden_size), nn.GELU(), nn.Linear(2 * hidden_size, hidden_size)
        )

    def forward(self, states):
        leading = states.shape[:-1]
        raw = states.reshape(-1, states.shape[-1]) * self.std + self.mean  # the policy sees normalised states
        side, centre, count = self.side, self.side // 2, raw.shape[0]
        grid = raw[:, : side * side].reshape(-1, 1, side, side)
        offset = (raw[:, side * side : side * side + 2] * self.goal_scale).round().long()
        goal_cell = (offset.clamp(-centre, centre) + centre).T  # beyond a partial view: its nearest edge
        goal = torch.zeros_like(grid)
        goal[torch.arange(count), 0, goal_cell[0], goal_cell[1]] = 1.0
        cells = torch.cat([(grid > 0.75).float(), ((grid - 0.5).abs() < 0.25).float(), goal], dim=1)
        cost = self.cost(cells)
        far = float(4 * side * side)
        to_go = far * (1 - goal)
        for _ in range(self.steps):  # Bellman updates: the best neighbour's cost-to-go plus this cell's cost
            to_go = torch.minimum(to_go, self._neighbours(to_go, far).amin(dim=1, keepdim=True) + cost)
        # each move's advantage: how much nearer the goal it steps (up, right, down, left)
        advantage = to_go[:, :, centre, centre] - self._neighbours(to_go, far)[:, :, centre, centre]
        features = torch.cat([advantage, raw[:, side * side :]], dim=1)
        return self.project(features).reshape(*leading, -1)

    @staticmethod
    def _neighbours(values, fill: float):
        """For every cell, the values of its four neighbours (up, right, down, left; ``fill`` off the map)."""
        padded = nn.functional.pad(values, (1, 1, 1, 1), value=fill)
        return torch.cat(
            [
                padded[:, :, :-2, 1:-1],
                padded[:, :, 1:-1, 2:],
                padded[:, :, 2:, 1:-1],
                padded[:, :, 1:-1, :-2],
            ],
            dim=1,
        )


class BCPolicyConfig(PretrainedConfig):
    model_type = "control_bc"

    def __init__(
        self,
        state_dim=4,
        act_dim=2,
        hidden_size=64,
        n_layer=2,
        n_head=2,
        context_length=8,
        dropout=0.1,
        discrete=True,
        **kwargs,
    ):
        self.state_dim, self.act_dim, self.hidden_size = state_dim, act_dim, hidden_size
        self.n_layer, self.n_head, self.context_length = n_layer, n_head, context_length
        self.dropout, self.discrete = dropout, discrete
        super().__init__(**kwargs)


class BCPolicy(PreTrainedModel):
    """Causal Transformer (GPT-2 backbone) behaviour cloning: states s_1..s_t -> action a_t."""

    config_class = BCPolicyConfig
    base_model_prefix = "policy"

    def __init__(self, config: BCPolicyConfig):
        super().__init__(config)
        self.embed_state = nn.Linear(config.state_dim, config.hidden_size)
        self.backbone = GPT2Model(
            GPT2Config(
                vocab_size=1,
                n_positions=config.context_length,
                n_embd=config.hidden_size,
                n_layer=config.n_layer,
                n_head=config.n_head,
                resid_pdrop=config.dropout,
                embd_pdrop=config.dropout,
                attn_pdrop=config.dropout,
                bos_token_id=None,
                eos_token_id=None,
            )
        )
        head = [nn.Linear(config.hidden_size, config.act_dim)]
        self.predict_action = nn.Sequential(*(head if config.discrete else [*head, nn.Tanh()]))
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(0.0, 0.02)
            if module.bias is not None:
                module.bias.data.zero_()

    def forward(self, states=None, attention_mask=None, labels=None, **kwargs):
        hidden = self.backbone(
            inputs_embeds=self.embed_state(states), attention_mask=attention_mask
        ).last_hidden_state
        preds = self.predict_action(hidden)
        loss = None
        if labels is not None:
            loss = action_loss(preds, labels, attention_mask, self.config.discrete)
        return PolicyOutput(loss=loss, action_preds=preds)


def build_policy(
    kind: str,
    control: dict,
    hidden_size: int,
    n_layer: int,
    n_head: int,
    context_length: int,
    dropout: float,
    max_ep_len: int,
):
    """A fresh policy for the spaces described in ``control`` (see ``training.control_config``)."""
    state_dim, act_dim, discrete = control["state_dim"], control["act_dim"], control["discrete"]
    if kind == "dt":
        config = DecisionTransformerConfig(
            state_dim=state_dim,
            act_dim=act_dim,
            hidden_size=hidden_size,
            n_layer=n_layer,
            n_head=n_head,
            max_ep_len=max_ep_len,
            n_positions=3 * context_length,
            action_tanh=not discrete,
            resid_pdrop=dropout,
            embd_pdrop=dropout,
            attn_pdrop=dropout,
            bos_token_id=None,
            eos_token_id=None,
        )
        config.control = control
        return DTPolicy(config)
    if kind == "bc":
        config = BCPolicyConfig(
            state_dim=state_dim,
            act_dim=act_dim,
            hidden_size=hidden_size,
            n_layer=n_layer,
            n_head=n_head,
            context_length=context_length,
            dropout=dropout,
            discrete=discrete,
        )
        config.control = control
        return BCPolicy(config)
    raise AppsError(
        f"unknown policy kind '{kind}'", hint="use dt (Decision Transformer) or bc (causal Transformer)"
    )


def load_policy(run_dir: str | Path, device: str = "cpu"):
    """The policy in a run directory (``apps train`` output or ``apps prepare`` default)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise AppsError(
            f"{run_dir} holds no control policy (no config.json)",
            hint="pass a run directory from 'apps train control' or run 'apps prepare control'",
        )
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if "control" not in config:
        raise AppsError(
            f"{run_dir} holds a {config.get('model_type', 'unknown')} model, not a control policy",
            hint="pass a run directory from 'apps train control'",
        )
    kind = config.get("model_type")
    if kind == "control_instruct":
        from plugins.control.instruct import InstructPolicy as cls
    else:
        cls = DTPolicy if kind == "decision_transformer" else BCPolicy
    model = cls.from_pretrained(run_dir)
    return model.to(device).eval()


def runner_for(model, batch: int, env_id: str | None = None, instruction: str | None = None):
    """What acts for ``batch`` environments with ``model``: an instruction-conditioned policy reads
    ``instruction`` (default: the task's own, for an arm task ``env_id``), the others only their states."""
    if getattr(model.config, "model_type", "") == "control_instruct":
        from plugins.control.instruct import InstructRunner
        from plugins.control.tasks import instruction_of

        return InstructRunner(model, batch, [instruction or instruction_of(env_id)] * batch)
    return PolicyRunner(model, batch)


class PolicyRunner:
    """Acts for a batch of environments at once, keeping each one's recent history (the context)."""

    def __init__(self, model, batch: int):
        self.model = model
        self.control = model.config.control
        self.kind = "dt" if isinstance(model, DTPolicy) else "bc"
        self.discrete = self.control["discrete"]
        self.context = self.control["context_length"]
        self.mean = np.asarray(self.control["state_mean"], dtype=np.float32)
        self.std = np.asarray(self.control["state_std"], dtype=np.float32)
        self.device = next(model.parameters()).device
        self.batch = batch
        self.reset()

    def reset(self, index: int | None = None):
        indices = range(self.batch) if index is None else [index]
        if index is None:
            self.states = [[] for _ in range(self.batch)]
            self.actions = [[] for _ in range(self.batch)]
            self.returns = [[] for _ in range(self.batch)]
        for i in indices:
            self.states[i], self.actions[i] = [], []
            self.returns[i] = [float(self.control["target_return"]) / self.control["return_scale"]]

    def act(self, observations, active=None, masks=None) -> list:
        """One action per environment (``active[i]`` False: that slot is skipped and gets None).

        ``masks[i]`` (discrete spaces, optional): booleans of the actions allowed in environment ``i``;
        the best allowed action is taken (invalid-action masking, e.g. no walking into a seen wall).
        """
        active = [True] * self.batch if active is None else active
        rows = [i for i in range(self.batch) if active[i]]
        for i in rows:
            self.states[i].append(
                (np.asarray(observations[i], dtype=np.float32).ravel() - self.mean) / self.std
            )
        k, state_dim, act_dim = self.context, len(self.mean), self.control["act_dim"]
        states = np.zeros((len(rows), k, state_dim), np.float32)
        actions = np.zeros((len(rows), k, act_dim), np.float32)
        returns = np.zeros((len(rows), k, 1), np.float32)
        steps = np.zeros((len(rows), k), np.int64)
        mask = np.zeros((len(rows), k), np.float32)
        for row, i in enumerate(rows):
            n = min(k, len(self.states[i]))
            start = len(self.states[i]) - n
            states[row, k - n :] = self.states[i][start:]
            for j, act in enumerate(self.actions[i][start:]):
                actions[row, k - n + j] = act
            returns[row, k - n :, 0] = self.returns[i][start:]
            steps[row, k - n :] = np.minimum(np.arange(start, start + n), self.control["max_ep_len"] - 1)
            mask[row, k - n :] = 1.0
        tensors = {"states": states, "attention_mask": mask}
        if self.kind == "dt":
            tensors.update(actions=actions, returns_to_go=returns, timesteps=steps)
        with torch.no_grad():
            preds = self.model(**{name: torch.from_numpy(v).to(self.device) for name, v in tensors.items()})
        last = preds.action_preds[:, -1].float().cpu().numpy()
        chosen: list = [None] * self.batch
        for row, i in enumerate(rows):
            pred = last[row]
            if self.discrete and masks is not None and masks[i] is not None and np.any(masks[i]):
                pred = np.where(np.asarray(masks[i], dtype=bool), pred, -np.inf)
            chosen[i] = self._decode(pred)
        return chosen

    def _decode(self, pred):
        if self.discrete:
            return int(np.argmax(pred))
        low = np.asarray(self.control["action_low"], dtype=np.float32)
        high = np.asarray(self.control["action_high"], dtype=np.float32)
        return (low + (np.clip(pred, -1, 1) + 1) * (high - low) / 2).astype(np.float32)

    def observe(self, index: int, action, reward: float):
        """Record what was done and earned at the last step of environment ``index``."""
        self.actions[index].append(encode_action(action, self.control))
        self.returns[index].append(self.returns[index][-1] - float(reward) / self.control["return_scale"])


def encode_action(action, control: dict) -> np.ndarray:
    """One-hot (discrete) or scaled to [-1, 1] (box): what the models see and predict."""
    if control["discrete"]:
        vector = np.zeros(control["act_dim"], np.float32)
        vector[int(action)] = 1.0
        return vector
    low = np.asarray(control["action_low"], dtype=np.float32)
    high = np.asarray(control["action_high"], dtype=np.float32)
    return (2 * (np.asarray(action, dtype=np.float32).ravel() - low) / (high - low) - 1).astype(np.float32)
