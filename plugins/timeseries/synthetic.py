"""The offline pre-training corpus: generated series of every kind a user brings, seeded, no downloads.

Chronos and TimesFM learn to forecast unseen series mostly from generated ones (KernelSynth, TSMixup). This
module makes such a corpus from a seed, so a recipe rebuilds it identically:

- ``kernel``: KernelSynth-style Gaussian-process draws from composed kernels: a sum or product of a linear
  trend, smooth (RBF) and rough (Matern-like) components and periodic kernels of the frequency's periods.
  Each draw uses random Fourier features (a few hundred cosines), which is exact in the limit and linear
  in the length, so thousands of series take seconds. Level shifts and white noise are added.
- ``ets``: simulated exponential-smoothing state-space processes (level, damped trend, additive or
  multiplicative season, additive or multiplicative error), the family ETS itself fits.
- ``arima``: stationary ARMA(p, q) processes, integrated once or seasonally differenced at random.
- ``intermittent``: demand that is mostly zero (Bernoulli occurrences, gamma sizes, Croston's setting).
- ``regime``: Markov switching between two regimes with different level, drift and volatility.
- ``trend`` (only with ``trend > 0``): a strong trend that dominates the series, as in economic and
  demographic data: linear, exponential (multiplicative growth), damped, saturating (logistic) or piecewise
  linear, with an additive or multiplicative season (amplitude growing with the level) and AR(1) noise
  that is additive or proportional to the level. The other kinds' trends are mild; a model trained on them
  alone damps the trends that ETS extrapolates (issue #25).

Every series has a frequency (``FREQUENCIES``: hourly to yearly) that fixes its seasonal periods and a
plausible length (short yearly series, long hourly ones). ``tsmixup`` makes convex combinations of a few
(scaled) series, the generated ones and the shipped real ones, as TSMixup does.
"""

from __future__ import annotations

import numpy as np

# frequency -> (seasonal periods, shortest and longest length, weight in the corpus)
FREQUENCIES: dict[str, tuple[tuple[int, ...], int, int, float]] = {
    "hourly": ((24, 168), 300, 1500, 0.15),
    "daily": ((7, 365), 150, 1200, 0.15),
    "weekly": ((52,), 80, 700, 0.1),
    "monthly": ((12,), 36, 500, 0.25),
    "quarterly": ((4,), 20, 240, 0.15),
    "yearly": ((), 15, 150, 0.2),
}
KINDS = {"kernel": 0.35, "ets": 0.2, "arima": 0.2, "intermittent": 0.08, "regime": 0.17}


def synthetic_series(
    count: int, seed: int = 0, min_length: int = 0, max_length: int = 100_000, trend: float = 0.0
) -> list:
    """``count`` float32 series of mixed kinds and frequencies; the same list for the same seed.
    Lengths follow each frequency's range, clipped to ``[min_length, max_length]``; a ``trend`` share of
    the series are of the ``trend`` kind (0: the corpus of the first zero-shot default, draw for draw)."""
    return [values for _, values in labelled_series(count, seed, min_length, max_length, trend)]


def labelled_series(
    count: int, seed: int = 0, min_length: int = 0, max_length: int = 100_000, trend: float = 0.0
) -> list:
    """``(frequency, series)`` pairs, as ``synthetic_series`` (validation needs the frequency's horizon)."""
    rng = np.random.default_rng(seed)
    names = list(FREQUENCIES)
    weights = np.array([FREQUENCIES[n][3] for n in names])
    kinds, kind_weights = list(KINDS), np.array(list(KINDS.values()))
    out = []
    for _ in range(count):
        freq = names[rng.choice(len(names), p=weights / weights.sum())]
        periods, shortest, longest, _ = FREQUENCIES[freq]
        length = int(np.clip(np.exp(rng.uniform(np.log(shortest), np.log(longest))), min_length, max_length))
        kind = kinds[rng.choice(len(kinds), p=kind_weights / kind_weights.sum())]
        if trend > 0 and rng.random() < trend:  # drawn only when asked: trend 0 keeps the old stream
            kind = "trend"
        values = GENERATORS[kind](rng, length, [p for p in periods if 2 * p <= length])
        out.append((freq, _plausible(rng, values)))
    return out


def tsmixup(series: list, count: int, seed: int = 0, max_mix: int = 3, min_length: int = 16) -> list:
    """``count`` convex combinations of 1..``max_mix`` members of ``series`` (each divided by its mean
    absolute value first, so no member dominates), Dirichlet weights, cut to the shortest member."""
    rng = np.random.default_rng(seed)
    pool = [np.asarray(s, np.float64) for s in series if len(s) >= min_length]
    out = []
    for _ in range(count):
        k = int(rng.integers(1, max_mix + 1))
        members = [pool[i] for i in rng.choice(len(pool), size=k)]
        length = int(rng.integers(min_length, min(len(m) for m in members) + 1))
        weights = rng.dirichlet(np.full(k, 1.5))
        mixed = sum(
            w * (m[-length:] if rng.random() < 0.5 else m[:length]) / (np.mean(np.abs(m)) + 1e-8)
            for w, m in zip(weights, members, strict=True)
        )
        out.append(np.asarray(mixed, np.float32))
    return out


def _plausible(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    """Finite, shifted and scaled to a random unit (irrelevant after the model's scaling)."""
    values = np.nan_to_num(np.asarray(values, float), nan=0.0, posinf=0.0, neginf=0.0)
    return (rng.lognormal(0, 1.5) * values + rng.choice([0.0, rng.uniform(-50, 200)])).astype(np.float32)


# ---- kernels (KernelSynth) ------------------------------------------------------------------------------
def _gp_draw(rng: np.random.Generator, t: np.ndarray, kind: str, period: float = 0) -> np.ndarray:
    """One zero-mean, unit-variance GP draw by random Fourier features."""
    n_features = 200
    phases = rng.uniform(0, 2 * np.pi, n_features)
    if kind == "periodic":  # periodic kernel: harmonics of the period, weights decaying with the order
        lengthscale = rng.uniform(0.5, 2.0)
        orders = np.arange(1, 9)
        power = np.exp(-((orders / (2 * lengthscale)) ** 2)) * rng.exponential(1.0, size=len(orders))
        waves = np.cos(2 * np.pi * np.outer(t, orders) / period + rng.uniform(0, 2 * np.pi, len(orders)))
        return waves @ np.sqrt(power / power.sum())
    span = max(len(t), 2)
    lengthscale = span * np.exp(rng.uniform(np.log(0.02), np.log(0.5)))
    if kind == "rbf":
        freqs = rng.normal(0, 1 / lengthscale, n_features)
    else:  # rough: Matern-like heavy-tailed spectrum (Student-t frequencies)
        freqs = rng.standard_t(1.5, n_features) / lengthscale
    return np.sqrt(2 / n_features) * np.cos(np.outer(t, freqs) + phases).sum(axis=1)


def _kernel(rng: np.random.Generator, length: int, periods: list) -> np.ndarray:
    t = np.arange(length, dtype=float)
    parts = []
    if rng.random() < 0.6:
        parts.append(rng.normal(0, 1) * (t - t.mean()) / length * rng.uniform(1, 6))  # linear kernel
    parts.append(_gp_draw(rng, t, "rbf" if rng.random() < 0.6 else "rough") * rng.uniform(0.3, 2))
    for period in periods:
        if rng.random() < 0.75:
            seasonal = _gp_draw(rng, t, "periodic", period) * rng.uniform(0.5, 2)
            if rng.random() < 0.3:  # product kernel: the season's amplitude follows a smooth level
                seasonal *= 1 + 0.5 * _gp_draw(rng, t, "rbf")
            parts.append(seasonal)
    values = np.sum(parts, axis=0)
    if rng.random() < 0.25:  # level shifts
        for start in rng.integers(1, length, size=rng.integers(1, 3)):
            values[start:] += rng.normal(0, 1.0)
    return values + rng.normal(0, rng.uniform(0.02, 0.4), length)


# ---- state-space and ARIMA processes --------------------------------------------------------------------
def _ets(rng: np.random.Generator, length: int, periods: list) -> np.ndarray:
    """ETS(A|M, N|Ad, N|A|M) in innovations form: one error drives level, trend and season."""
    alpha, phi = rng.uniform(0.05, 0.8), rng.uniform(0.8, 1.0)
    beta = rng.uniform(0.0, 0.2) * alpha if rng.random() < 0.6 else 0.0
    gamma = rng.uniform(0.0, 0.3) * (1 - alpha)
    period = int(rng.choice(periods)) if periods and rng.random() < 0.7 else 0
    ratio_season = rng.random() < 0.4  # multiplicative season: a share of the level
    ratio_error = rng.random() < 0.4  # multiplicative error: noise grows with the level
    sigma = rng.uniform(0.01, 0.08)
    level, trend = 10.0, rng.normal(0, 0.05)
    season = rng.normal(0, 0.15, period) if period else np.zeros(1)
    season -= season.mean()
    out = np.empty(length)
    for i in range(length):
        s = season[i % period] if period else 0.0
        base = level + phi * trend
        mean = base * (1 + s) if ratio_season else base + 10 * s
        error = rng.normal(0, sigma) * (abs(mean) if ratio_error else 10)
        out[i] = mean + error
        level, trend = base + alpha * error, phi * trend + beta * error
        if period:
            season[i % period] = s + gamma * error / (abs(base) + 1e-3 if ratio_season else 10)
    return out


def _arima(rng: np.random.Generator, length: int, periods: list) -> np.ndarray:
    from scipy.signal import lfilter

    p, q = int(rng.integers(0, 4)), int(rng.integers(0, 3))
    roots = rng.uniform(1.1, 3.0, p) * rng.choice([-1, 1], p)  # stationary: roots outside the unit circle
    ar = np.poly(1 / roots) if p else np.array([1.0])
    ma = np.concatenate([[1.0], rng.uniform(-0.7, 0.7, q)])
    burn = 100
    values = lfilter(ma, ar, rng.normal(0, 1, length + burn))[burn:]
    order = rng.choice(["none", "diff", "seasonal"], p=[0.45, 0.35, 0.2])
    if order == "diff":
        values = np.cumsum(values * rng.uniform(0.1, 0.5) + rng.normal(0, 0.05))
    elif order == "seasonal" and periods:
        period = int(rng.choice(periods))
        pattern = rng.normal(0, 2, period)
        values = values * rng.uniform(0.2, 0.6) + pattern[np.arange(length) % period]
    return values


def _intermittent(rng: np.random.Generator, length: int, periods: list) -> np.ndarray:
    rate = rng.uniform(0.05, 0.6)
    occurs = rng.random(length) < rate
    sizes = rng.gamma(rng.uniform(0.5, 4), rng.uniform(1, 10), length)
    values = np.where(occurs, np.ceil(sizes), 0.0)
    return values


def _regime(rng: np.random.Generator, length: int, periods: list) -> np.ndarray:
    stay = rng.uniform(0.9, 0.995, 2)
    means, drifts = rng.normal(0, 2, 2), rng.normal(0, 0.05, 2)
    vols, phi = rng.uniform(0.1, 1.0, 2), rng.uniform(0.0, 0.9)
    state, x, out = 0, 0.0, np.empty(length)
    level = 0.0
    for i in range(length):
        if rng.random() > stay[state]:
            state = 1 - state
        level += drifts[state]
        x = phi * x + rng.normal(0, vols[state])
        out[i] = means[state] + level + x
    if periods and rng.random() < 0.5:
        period = int(rng.choice(periods))
        out += rng.uniform(0.5, 2) * np.sin(2 * np.pi * np.arange(length) / period + rng.uniform(0, 6.3))
    return out


def _trend(rng: np.random.Generator, length: int, periods: list) -> np.ndarray:
    """A dominant trend (linear, exponential, damped, logistic or piecewise linear), an optional additive or
    multiplicative season and AR(1) noise, additive or proportional to the level."""
    t = np.arange(length, dtype=float) / max(length - 1, 1)  # 0..1 over the series
    sign = 1.0 if rng.random() < 0.8 else -1.0  # mostly growth, as in sales and population data
    change = np.exp(rng.uniform(np.log(0.2), np.log(4.0)))  # total change relative to the start level
    shape = rng.choice(
        ["linear", "exponential", "damped", "logistic", "piecewise"], p=[0.25, 0.3, 0.15, 0.1, 0.2]
    )
    if shape == "linear":
        base = 1 + sign * min(change, 0.9 if sign < 0 else change) * t
    elif shape == "exponential":  # constant growth rate: the level multiplies by (1 + change) over the series
        base = np.exp(sign * np.log1p(change) * t)
    elif shape == "damped":  # the slope decays geometrically (ETS's damped trend, without noise)
        phi = 1 - np.exp(rng.uniform(np.log(0.5), np.log(8))) / length
        steps = np.arange(length)
        base = 1 + sign * min(change, 0.9) * (1 - phi**steps) / (1 - phi ** max(length - 1, 1))
    elif shape == "logistic":  # saturating growth around a random midpoint
        mid, rate = rng.uniform(0.2, 1.2), rng.uniform(4, 12)
        base = 1 + sign * min(change, 0.9) / (1 + np.exp(-rate * (t - mid)))
    else:  # piecewise linear: the slope changes at 1-3 random points
        slopes = rng.normal(sign * change, change * 0.6, 4)
        knots = np.sort(rng.uniform(0, 1, 3))
        slope = slopes[np.searchsorted(knots, t)]
        base = 1 + np.concatenate([[0.0], np.cumsum(slope[1:] * np.diff(t))])
        base = base - min(base.min(), 0.0) + 0.2  # positive level
    multiplicative = rng.random() < 0.5
    if periods and rng.random() < 0.6:
        period = int(rng.choice(periods))
        season = _gp_draw(rng, np.arange(length, dtype=float), "periodic", period)
        season *= rng.uniform(0.03, 0.25) / (np.std(season) + 1e-9)
        base = base * (1 + season) if multiplicative else base + np.mean(base) * season
    phi, sigma = rng.uniform(0.0, 0.9), np.exp(rng.uniform(np.log(0.003), np.log(0.06)))
    noise = np.zeros(length)
    shocks = rng.normal(0, sigma, length)
    for i in range(1, length):
        noise[i] = phi * noise[i - 1] + shocks[i]
    return base * (1 + noise) if multiplicative else base + np.mean(np.abs(base)) * noise


GENERATORS = {
    "kernel": _kernel,
    "ets": _ets,
    "arima": _arima,
    "intermittent": _intermittent,
    "regime": _regime,
    "trend": _trend,
}
