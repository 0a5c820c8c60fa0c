"""Deterministic synthetic series that widen the pre-training pool (KernelSynth / ForecastPFN in spirit).

The shipped pool holds a dozen real series, too few for a transformer to learn the generic moves of
forecasting: continue a seasonal shape of any period, extrapolate a trend, persist a random walk, follow a
drifting cycle. Each synthetic series sums random components, so the model meets many combinations:

- trend: none, linear, or piecewise linear with a few change points;
- seasonality: zero to two periods from common calendars (4, 7, 12, 24, 52, 48, 168, 336), smooth
  (a few harmonics) or spiky (a smoothed random profile), with a slowly drifting amplitude;
- cycle: a quasi-periodic wave whose period and amplitude drift (business or solar cycles);
- noise: AR(1), sometimes integrated into a random walk; level shifts and rare outliers;
- sometimes exponentiated (multiplicative: the season grows with the level) and always shifted/scaled
  (irrelevant after the model's per-window scaling, but keeps the values plausible).

A seed fixes every draw, so a recipe rebuilds the same pool.
"""

from __future__ import annotations

import numpy as np

PERIODS = (4, 7, 12, 24, 52, 48, 168, 336)


def synthetic_series(count: int, seed: int = 0, min_length: int = 160, max_length: int = 1200) -> list:
    """``count`` float32 series, lengths uniform in ``[min_length, max_length]``; the same for the same seed."""
    rng = np.random.default_rng(seed)
    return [_one_series(rng, int(rng.integers(min_length, max_length + 1))) for _ in range(count)]


def _one_series(rng: np.random.Generator, length: int) -> np.ndarray:
    t = np.arange(length, dtype=float)
    values = _trend(rng, t) + _seasonality(rng, t) + _noise(rng, length)
    if rng.random() < 0.25:
        values += _cycle(rng, t)
    if rng.random() < 0.2:  # level shifts
        for start in rng.integers(1, length, size=rng.integers(1, 4)):
            values[start:] += rng.normal(0, 1.5)
    if rng.random() < 0.1:  # rare outliers
        spots = rng.integers(0, length, size=max(1, length // 200))
        values[spots] += rng.normal(0, 4, size=len(spots))
    if rng.random() < 0.25:  # multiplicative: exp of a standardised sum
        values = np.exp(0.4 * (values - values.mean()) / (values.std() + 1e-8))
    return (rng.uniform(-10, 100) + rng.lognormal(0, 1) * values).astype(np.float32)


def _trend(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    kind = rng.choice(["none", "linear", "piecewise"], p=[0.35, 0.35, 0.3])
    if kind == "none":
        return np.zeros_like(t)
    slope = rng.normal(0, 3) / len(t)
    trend = slope * t
    if kind == "piecewise":
        for knot in rng.integers(1, len(t), size=rng.integers(1, 4)):
            trend += rng.normal(0, 3) / len(t) * np.maximum(t - knot, 0)
    return trend * rng.uniform(1, 4)


def _seasonality(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    total = np.zeros_like(t)
    fitting = [p for p in PERIODS if 3 * p <= len(t)]
    n_seasons = rng.choice([0, 1, 2], p=[0.2, 0.55, 0.25]) if fitting else 0
    for period in rng.choice(fitting, size=min(n_seasons, len(fitting)), replace=False):
        if rng.random() < 0.6:  # smooth: a few harmonics with decaying amplitude
            shape = np.zeros_like(t)
            for k in range(1, int(rng.integers(1, 5)) + 1):
                shape += rng.normal(0, 1 / k) * np.sin(2 * np.pi * k * t / period + rng.uniform(0, 2 * np.pi))
        else:  # spiky: a random profile, lightly smoothed around the circle
            profile = rng.normal(0, 1, size=period)
            kernel = np.ones(max(1, period // 8)) / max(1, period // 8)
            profile = np.convolve(np.tile(profile, 3), kernel, "same")[period : 2 * period]
            shape = profile[t.astype(int) % period]
        drift = 1 + rng.normal(0, 0.3) * t / len(t)
        total += rng.uniform(0.5, 2) * shape / (shape.std() + 1e-8) * drift
    return total


def _cycle(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    period = rng.uniform(8, max(9, len(t) / 4))
    wobble = np.cumsum(rng.normal(0, 0.02, size=len(t)))  # the period drifts
    phase = 2 * np.pi * np.cumsum(1 / (period * np.exp(np.clip(wobble, -0.4, 0.4))))
    amplitude = np.exp(np.cumsum(rng.normal(0, 0.05, size=len(t))).clip(-1, 1))
    wave = np.sin(phase + rng.uniform(0, 2 * np.pi))
    if rng.random() < 0.5:  # sharp peaks, flat troughs (sunspot-like)
        wave = np.abs(wave) ** rng.uniform(1, 2)
    return rng.uniform(1, 3) * amplitude * wave


def _noise(rng: np.random.Generator, length: int) -> np.ndarray:
    from scipy.signal import lfilter

    phi = rng.uniform(-0.3, 0.95)
    noise = lfilter([1.0], [1.0, -phi], rng.normal(0, rng.uniform(0.05, 0.6), size=length))
    if rng.random() < 0.2:  # random walk (with an occasional drift)
        noise = np.cumsum(noise * rng.uniform(0.2, 1) + rng.normal(0, 0.02))
    return noise
