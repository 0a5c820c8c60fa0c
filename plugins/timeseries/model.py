"""PatchTST (transformers ``PatchTSTForPrediction``): configuration, training windows and forecasting.

Design, and why:
- Channel independence: every series is its own sample with one channel, so one model serves any number
  of series of any frequency (pooled pre-training) and any new series (zero-shot / fine-tuned).
- Per-series normalisation: the model's ``scaling="std"`` standardises each context window by its own
  observed mean and deviation and maps forecasts back (RevIN-style), so CO2 ppm and megawatts share weights.
- Short histories: a context shorter than ``context_length`` is left-padded with its first value and
  marked unobserved (``past_observed_mask``), so scaling ignores the padding.
- Intervals: a Student-t head trained by negative log-likelihood gives, per step, a location (the point
  forecast: the median) and exact quantiles from the t distribution (no sampling noise).

Which model forecasts (``model_ref``): ``--model`` goes through ``core.resolve_model``; without it, a shipped
dataset with an own model (``own_model`` in data.py: the short series and taylor) gets it when
'apps prepare' has built it, every other input the pooled default.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core import AppsError, ModelRef, default_is_built, default_model_dir, require_default, resolve_model
from plugins.timeseries.data import DATASETS, warn
from plugins.timeseries.recipe import ModelSettings  # the PatchTST shape, declared once with the recipe

APP = "timeseries"
FORECAST_FILE = "forecast.json"  # written beside the weights: what forecasting needs to know
PREPARE_TAKES = "about 20 minutes on 2 CPU cores"  # how long 'apps prepare timeseries' takes, for its hint
POOLED = ("", "default", "pooled")  # --model values that name the prepared models, not a path


# ---- which model --------------------------------------------------------------------------------------
def own_model_dir(dataset: str) -> Path:
    """The folder of a shipped dataset's own model (``own_model``), beside the pooled default."""
    return default_model_dir(APP).with_name(f"series-{dataset}")


# The zero-shot default's models for shorter horizons, beside the long one (``default``): folder -> (recipe,
# settings). The short model is trained from three seeds and forecasts as their average (``SeedEnsemble``).
HORIZON_MODELS = {
    "default-medium": ("patchtst-pretrain-medium", []),
    "default-short": ("patchtst-pretrain-short", []),
    "default-short-seed43": ("patchtst-pretrain-short", ["seed=43"]),
    "default-short-seed44": ("patchtst-pretrain-short", ["seed=44"]),
}


def horizon_models() -> dict[Path, tuple[str, list[str]]]:
    """The zero-shot default's shorter-horizon models (``HORIZON_MODELS``): folder -> (recipe, settings)."""
    return {default_model_dir(APP).with_name(name): spec for name, spec in HORIZON_MODELS.items()}


def model_ref(model: str | None, dataset: str | None = None) -> ModelRef:
    """The model that forecasts ``dataset`` (a shipped name, or None for user data).

    ``None``/``default``: the dataset's own model when it has one and it is built, else the pooled default;
    ``pooled``: always the pooled default; anything else: a run directory (or PatchTST folder).
    """
    if model is None or model in POOLED:
        spec = DATASETS.get(dataset or "")
        if spec and spec.own_model and model != "pooled":
            own = own_model_dir(spec.name)
            if default_is_built(APP, own):
                return resolve_model(str(own), APP)
            warn(
                f"'{spec.name}' has no model of its own yet ({own}); forecasting with the pooled model "
                "('apps prepare timeseries' builds it in about a minute)"
            )
        return resolve_model(str(require_default(APP, takes=PREPARE_TAKES)), APP)
    ref = resolve_model(model, APP)
    if ref.kind not in ("run", "folder") or not (
        (ref.path / "config.json").is_file() or (ref.path / "adapter_config.json").is_file()
    ):
        raise AppsError(
            f"{model} holds no PatchTST model (config.json)",
            hint="pass a run directory from 'apps train timeseries'",
        )
    return ref


def load_forecaster(model: str | None = None, device: str = "auto", dataset: str | None = None) -> Forecaster:
    """The Forecaster of ``model_ref(model, dataset)`` on ``device``."""
    return forecaster_for(model_ref(model, dataset), device)


def forecaster_for(ref: ModelRef, device: str = "auto") -> Forecaster | HorizonRouter:
    """A resolved model as a Forecaster on ``device`` (auto, cpu, cuda ...); the pooled default together
    with its shorter-horizon models that are built."""
    from core import resolve_device

    device = str(resolve_device(device))
    forecaster = Forecaster.from_run(ref.path, device=device)
    if Path(ref.path) != default_model_dir(APP):
        return forecaster
    shorter = [Forecaster.from_run(d, device=device) for d in horizon_models() if default_is_built(APP, d)]
    return horizon_router(forecaster, shorter)


def horizon_router(long: Forecaster, shorter: list[Forecaster]) -> Forecaster | HorizonRouter:
    """``long`` with its ``shorter``-horizon models; those of one prediction length forecast together as a
    ``SeedEnsemble``."""
    by_length: dict[int, list[Forecaster]] = {}
    for model in shorter:
        by_length.setdefault(model.prediction_length, []).append(model)
    models = [group[0] if len(group) == 1 else SeedEnsemble(*group) for group in by_length.values()]
    return HorizonRouter(long, *models) if models else long


def build_model(settings: ModelSettings):
    from transformers import PatchTSTConfig, PatchTSTForPrediction

    config = PatchTSTConfig(
        num_input_channels=1,
        context_length=settings.context_length,
        prediction_length=settings.prediction_length,
        patch_length=settings.patch_length,
        patch_stride=settings.patch_stride,
        d_model=settings.d_model,
        num_hidden_layers=settings.num_layers,
        num_attention_heads=settings.num_heads,
        ffn_dim=settings.ffn_dim,
        attention_dropout=settings.dropout,
        ff_dropout=settings.dropout,
        head_dropout=settings.dropout,
        scaling="std",
        loss="nll",
        distribution_output=settings.distribution,
        norm_type="batchnorm",
        channel_attention=False,
        share_embedding=True,
        pooling_type=None,
    )
    return PatchTSTForPrediction(config)


def context_window(history: np.ndarray, context_length: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``context_length`` values and their observed mask (left padding repeats the first value)."""
    history = np.asarray(history, np.float32)[-context_length:]
    pad = context_length - len(history)
    mask = np.ones(context_length, np.float32)
    if pad > 0:
        history = np.concatenate([np.full(pad, history[0], np.float32), history])
        mask[:pad] = 0.0
    return history, mask


class WindowDataset:
    """Training windows cut from whole series: context (padded when short) + ``prediction_length`` targets.

    ``origins`` lists (series index, origin); ``min_history`` is the least real context a window keeps;
    a ``truncate`` share of the windows keep only a random shorter context (log-uniform, at least 8).
    Series with few windows are repeated up to ``min_windows`` so a pool is not ruled by its longest series.
    """

    def __init__(
        self,
        series: list[np.ndarray],
        settings: ModelSettings,
        min_history: int = 32,
        stride: int = 1,
        min_windows: int = 0,
        last_only: int = 0,
        truncate: float = 0.0,
        seed: int = 0,
    ):
        self.series = [np.asarray(s, np.float32) for s in series]
        self.settings = settings
        self.truncate, self.seed = truncate, seed
        horizon = settings.prediction_length
        self.origins: list[tuple[int, int]] = []
        for index, values in enumerate(self.series):
            first = min(min_history, max(len(values) - horizon - 1, 1))
            origins = list(range(first, len(values) - horizon + 1, stride))
            if last_only:
                origins = origins[-last_only:]
            if origins and min_windows and len(origins) < min_windows:
                origins = (origins * (min_windows // len(origins) + 1))[:min_windows]
            self.origins.extend((index, origin) for origin in origins)

    def __len__(self) -> int:
        return len(self.origins)

    def __getitem__(self, item: int) -> dict:
        import torch

        index, origin = self.origins[item]
        values = self.series[index]
        history = values[:origin]
        if self.truncate:  # drawn from (seed, item): the same window every epoch and every rebuild
            rng = np.random.default_rng((self.seed, item))
            if rng.random() < self.truncate:
                history = history[
                    -int(np.exp(rng.uniform(np.log(8), np.log(self.settings.context_length)))) :
                ]
        past, mask = context_window(history, self.settings.context_length)
        future = values[origin : origin + self.settings.prediction_length]
        return {
            "past_values": torch.from_numpy(past).unsqueeze(-1),
            "past_observed_mask": torch.from_numpy(mask).unsqueeze(-1),
            "future_values": torch.from_numpy(np.ascontiguousarray(future)).unsqueeze(-1),
        }


def collate(items: list[dict]) -> dict:
    import torch

    return {key: torch.stack([item[key] for item in items]) for key in items[0]}


# ---- forecasting ------------------------------------------------------------------------------------
class Forecaster:
    """A trained PatchTST plus what it needs to forecast: point forecasts and quantiles for any history."""

    def __init__(self, model, info: dict | None = None, device: str = "cpu", path: str = ""):
        self.model = model.eval().to(device)
        self.path = str(path)
        self.device = device
        self.info = info or {}
        self.interval_scale = float(self.info.get("interval_scale", 1.0))
        self.context_length = model.config.context_length
        self.prediction_length = model.config.prediction_length

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "cpu") -> Forecaster:
        from transformers import PatchTSTForPrediction
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # keeps --json output and --follow logs clean

        run_dir = Path(run_dir)
        info_file = run_dir / FORECAST_FILE
        info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.is_file() else {}
        if (run_dir / "adapter_config.json").is_file():  # LoRA run: base + adapter, merged for inference
            from peft import PeftModel

            from core import load_run

            base = PatchTSTForPrediction.from_pretrained(load_run(run_dir)["base_model"])
            model = PeftModel.from_pretrained(base, str(run_dir)).merge_and_unload()
        else:
            model = PatchTSTForPrediction.from_pretrained(str(run_dir))
        return cls(model, info, device, path=run_dir)

    def source(self, horizon: int | None = None) -> str:
        """The folder of the model that forecasts ``horizon`` steps (said with every forecast)."""
        return self.path or "PatchTST (in memory)"

    def predict(
        self,
        histories: list[np.ndarray],
        horizon: int | None = None,
        quantiles: tuple[float, ...] = (0.1, 0.9),
        batch_size: int = 256,
    ) -> dict[str, np.ndarray]:
        """``{"point": (n, h), "q0.1": (n, h), ...}`` for each history; horizons beyond the model's
        ``prediction_length`` are reached by feeding the median back (recursive)."""
        horizon = horizon or self.prediction_length
        keys = ["point", *[f"q{q:g}" for q in quantiles]]
        out = {key: [] for key in keys}
        for start in range(0, len(histories), batch_size):
            batch = [np.asarray(h, np.float32) for h in histories[start : start + batch_size]]
            parts = {key: [] for key in keys}
            done = 0
            while done < horizon:
                step = self._predict_once(batch, quantiles)
                for key in keys:
                    parts[key].append(step[key])
                batch = [np.concatenate([h, p]) for h, p in zip(batch, step["point"], strict=False)]
                done += self.prediction_length
            for key in keys:
                out[key].append(np.concatenate(parts[key], axis=1)[:, :horizon])
        return {key: np.concatenate(value, axis=0) for key, value in out.items()}

    def _predict_once(self, histories: list[np.ndarray], quantiles) -> dict[str, np.ndarray]:
        import torch
        from scipy import stats

        windows = [context_window(h, self.context_length) for h in histories]
        past = torch.from_numpy(np.stack([w[0] for w in windows])).unsqueeze(-1).to(self.device)
        mask = torch.from_numpy(np.stack([w[1] for w in windows])).unsqueeze(-1).to(self.device)
        with torch.no_grad():
            output = self.model(past_values=past, past_observed_mask=mask)
        loc = output.loc.float().cpu().numpy()[:, :, 0]  # (n, 1)
        scale = output.scale.float().cpu().numpy()[:, :, 0]
        params = [p.float().cpu().numpy()[..., 0] for p in output.prediction_outputs]
        if self.model.config.loss == "mse":
            point = output.prediction_outputs.float().cpu().numpy()[..., 0]
            return {"point": point, **{f"q{q:g}": point for q in quantiles}}
        if self.model.config.distribution_output == "student_t":
            df, mu, sigma = params
            ppf = lambda q: stats.t.ppf(q, df)  # noqa: E731
        else:
            mu, sigma = params
            ppf = lambda q: stats.norm.ppf(q) * np.ones_like(mu)  # noqa: E731
        result = {"point": loc + scale * mu}
        for q in quantiles:
            result[f"q{q:g}"] = loc + scale * (mu + self.interval_scale * sigma * ppf(q))
        return result


def recent_half(history: np.ndarray, horizon: int) -> np.ndarray:
    """The later half of ``history``, at least two horizons and 8 points long."""
    return history[-max(len(history) // 2, 2 * horizon, 8) :]


class SeedEnsemble:
    """Models of one recipe trained from different seeds, forecasting together: the mean of their point
    forecasts and of their quantiles, each model reading both the whole history and its later half
    (``recent_half``). One model's forecast jitters from step to step by more than a smooth series moves,
    and which seed does best differs from group to group; the mean of three seeds was at or ahead of the
    seeds' average on every validation group. The later half weighs recent years more, as ETS does: real
    trending series change course (docs/timeseries.md, the fifth default)."""

    def __init__(self, *members: Forecaster):
        self.members = members
        first = members[0]
        self.info, self.device, self.model, self.path = first.info, first.device, first.model, first.path
        self.context_length, self.prediction_length = first.context_length, first.prediction_length

    def source(self, horizon: int | None = None) -> str:
        return (
            f"{self.members[0].source(horizon)} (mean of {len(self.members)} seeds, whole and recent history)"
        )

    def predict(self, histories, horizon=None, quantiles=(0.1, 0.9), batch_size=256) -> dict:
        halves = [recent_half(np.asarray(x), horizon or self.prediction_length) for x in histories]
        outs = [
            m.predict(h, horizon, quantiles, batch_size) for m in self.members for h in (histories, halves)
        ]
        return {key: np.mean([out[key] for out in outs], axis=0) for key in outs[0]}


class HorizonRouter:
    """The zero-shot default: pooled models trained on the same corpus for different horizons. A forecast
    comes from the model with the shortest prediction length that covers its horizon (short, 8 steps with a
    96-step context: yearly 6, quarterly 8; medium, 18 steps with 128: monthly 18, weekly 13, daily 14),
    else from the long one (48 steps with 384: hourly 48, and recursively beyond). A short series is thus
    seen by a model whose context it mostly fills, and no horizon of the competitions is recursive.
    (The short model is the mean of three seeds and two contexts, SeedEnsemble; averaging the long and short
    models helped less on validation and multiplies the inference time: docs.)"""

    def __init__(self, long: Forecaster, *shorter: Forecaster):
        self.long = long
        self.models = sorted([*shorter, long], key=lambda f: f.prediction_length)
        self.info, self.device, self.model = long.info, long.device, long.model
        self.context_length, self.prediction_length = long.context_length, long.prediction_length

    def pick(self, horizon: int | None) -> Forecaster:
        fits = [f for f in self.models if horizon and horizon <= f.prediction_length]
        return fits[0] if fits else self.long

    def source(self, horizon: int | None = None) -> str:
        return self.pick(horizon).source(horizon)

    def predict(self, histories, horizon=None, quantiles=(0.1, 0.9), batch_size=256) -> dict:
        return self.pick(horizon).predict(histories, horizon, quantiles, batch_size)
