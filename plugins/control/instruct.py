"""An instruction-conditioned Transformer policy for the arm (recipe ``mt10-instruct``).

Tokens: the instruction's words (embeddings learned from the task instructions; words never seen are brought
to known ones through WordNet, language.tokenize) followed by the last ``history`` states. A Transformer
encoder reads them all; the last state's output predicts a chunk of the next ``chunk`` actions (as ACT does,
L1 loss), of which the first is executed at every step. It is a ``transformers`` model
(``save_pretrained`` folders, ``forward(**batch).loss``) so the core engine trains it; what it was trained
for lives in ``config.control`` like the other control policies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

from plugins.control.language import PAD, tokenize


@dataclass
class InstructOutput(ModelOutput):
    loss: torch.Tensor | None = None
    action_preds: torch.Tensor | None = None  # (batch, chunk, act_dim) in [-1, 1]


class InstructPolicyConfig(PretrainedConfig):
    model_type = "control_instruct"

    def __init__(
        self,
        vocab=(PAD,),
        state_dim=39,
        act_dim=4,
        hidden_size=128,
        n_layer=3,
        n_head=4,
        history=3,
        chunk=4,
        max_words=12,
        dropout=0.0,
        **kwargs,
    ):
        self.vocab, self.state_dim, self.act_dim = list(vocab), state_dim, act_dim
        self.hidden_size, self.n_layer, self.n_head = hidden_size, n_layer, n_head
        self.history, self.chunk, self.max_words, self.dropout = history, chunk, max_words, dropout
        super().__init__(**kwargs)


class InstructPolicy(PreTrainedModel):
    """Words + recent states -> a chunk of actions in [-1, 1]."""

    config_class = InstructPolicyConfig
    base_model_prefix = "policy"

    def __init__(self, config: InstructPolicyConfig):
        super().__init__(config)
        width = config.hidden_size
        self.embed_word = nn.Embedding(len(config.vocab), width)
        self.embed_state = nn.Sequential(
            nn.Linear(config.state_dim, 2 * width), nn.GELU(), nn.Linear(2 * width, width)
        )
        self.position = nn.Parameter(torch.zeros(config.max_words + config.history, width))
        layer = nn.TransformerEncoderLayer(
            width,
            config.n_head,
            4 * width,
            config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, config.n_layer, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Sequential(
            nn.Linear(width, 2 * width),
            nn.GELU(),
            nn.Linear(2 * width, config.chunk * config.act_dim),
            nn.Tanh(),
        )
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(0.0, 0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.data.zero_()

    def forward(
        self, words=None, word_mask=None, states=None, state_mask=None, labels=None, label_mask=None, **_
    ):
        tokens = torch.cat([self.embed_word(words), self.embed_state(states)], dim=1)
        tokens = tokens + self.position[: tokens.shape[1]]
        keep = torch.cat([word_mask, state_mask], dim=1) > 0
        hidden = self.norm(self.encoder(tokens, src_key_padding_mask=~keep))
        preds = self.head(hidden[:, -1]).reshape(-1, self.config.chunk, self.config.act_dim)
        loss = None
        if labels is not None:
            errors = (preds - labels).abs().mean(-1)
            loss = (errors * label_mask).sum() / label_mask.sum().clamp(min=1)
        return InstructOutput(loss=loss, action_preds=preds)


def encode_words(text: str, vocab: list[str], max_words: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and mask of ``text`` (WordNet brings unknown words to known ones; the rest are <unk>)."""
    index = {word: i for i, word in enumerate(vocab)}
    tokens = tokenize(text, index)[:max_words]
    ids = np.zeros(max_words, np.int64)
    mask = np.zeros(max_words, np.float32)
    ids[: len(tokens)] = [index[t] for t in tokens]
    mask[: len(tokens)] = 1
    return ids, mask


class InstructRunner:
    """Acts for a batch of environments, each with its instruction and its recent states."""

    def __init__(self, model: InstructPolicy, batch: int, instructions: list[str]):
        self.model, self.batch = model, batch
        self.control = model.config.control
        self.mean = np.asarray(self.control["state_mean"], np.float32)
        self.std = np.asarray(self.control["state_std"], np.float32)
        self.device = next(model.parameters()).device
        self.history: list[list] = [[] for _ in range(batch)]
        self.set_instructions(instructions)

    def set_instructions(self, instructions: list[str]) -> None:
        config = self.model.config
        encoded = [encode_words(text, config.vocab, config.max_words) for text in instructions]
        self.words = np.stack([ids for ids, _ in encoded])
        self.word_mask = np.stack([mask for _, mask in encoded])

    def reset(self, index: int | None = None):
        for i in range(self.batch) if index is None else [index]:
            self.history[i] = []

    def act(self, observations, active=None, masks=None) -> list:
        active = [True] * self.batch if active is None else active
        rows = [i for i in range(self.batch) if active[i]]
        k = self.model.config.history
        states = np.zeros((len(rows), k, len(self.mean)), np.float32)
        state_mask = np.zeros((len(rows), k), np.float32)
        for row, i in enumerate(rows):
            self.history[i] = (
                self.history[i] + [(np.asarray(observations[i], np.float32) - self.mean) / self.std]
            )[-k:]
            n = len(self.history[i])
            states[row, k - n :] = self.history[i]
            state_mask[row, k - n :] = 1
        batch = {
            "words": self.words[rows],
            "word_mask": self.word_mask[rows],
            "states": states,
            "state_mask": state_mask,
        }
        with torch.no_grad():
            out = self.model(**{name: torch.from_numpy(v).to(self.device) for name, v in batch.items()})
        first = out.action_preds[:, 0].float().cpu().numpy()
        chosen: list = [None] * self.batch
        for row, i in enumerate(rows):
            chosen[i] = np.clip(first[row], -1.0, 1.0).astype(
                np.float32
            )  # Meta-World's action box is [-1, 1]
        return chosen

    def observe(self, index: int, action, reward: float):
        """Nothing to keep: the policy reads states only."""
