"""The forecast figure of 'apps run --plot' and the demo: recent history, the forecast with its interval,
and the baselines, one panel per series, written atomically as a PNG."""

from __future__ import annotations

from pathlib import Path

from plugins.timeseries import data as tsdata


def plot_forecast(table, results: list[dict], path, title: str = "", season: int = 1) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from core import atomic_save

    figure, axes = plt.subplots(len(results), 1, figsize=(10, 3.6 * len(results)), dpi=100, squeeze=False)
    for axis, result in zip(axes[:, 0], results, strict=False):
        history = table[table[tsdata.ID] == result["unique_id"]]
        shown = history.tail(max(4 * len(result["forecast"]), 3 * season + 1, 100))
        future = pd.to_datetime(result["ds"])
        values = shown[tsdata.Y].to_numpy()
        axis.plot(shown[tsdata.DS], values, color="black", linewidth=1, label="history")
        axis.fill_between(
            future,
            result["lo"],
            result["hi"],
            color="tab:blue",
            alpha=0.25,
            label=f"{result['level']:g}% interval",
        )
        axis.plot(future, result["forecast"], color="tab:blue", linewidth=1.8, label="PatchTST")
        axis.plot(
            future, result["seasonal_naive"], "--", color="tab:orange", linewidth=1, label="seasonal naive"
        )
        if "ets" in result:
            axis.plot(future, result["ets"], ":", color="tab:green", linewidth=1.2, label="ETS")
        name = result["unique_id"]
        axis.set_title(title if title.endswith(name) else f"{title} {name}".strip())
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    path = Path(path)
    atomic_save(path, lambda tmp: figure.savefig(tmp, format="png"))
    plt.close(figure)
    return path
