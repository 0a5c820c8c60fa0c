"""Long tables (``unique_id``, ``ds``, ``y`` [+ exogenous columns]) and the shipped datasets.

A forecasting table here is what Nixtla users already hold: one row per series and timestamp. ``read_table``
takes a CSV path or a pandas DataFrame, checks it and returns a regular table: sorted, one row per
timestamp, a known frequency and no missing values. What can be fixed safely (unsorted rows, gaps, NaN) is
fixed with one warning that counts the fixes; what cannot (duplicates, non-numbers, irregular timestamps,
too-short series) raises an ``AppsError`` that says where and how to fix it.

Imports pandas lazily: ``apps list`` imports the plugin without it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from core import AppsError

ID, DS, Y = "unique_id", "ds", "y"
# frequency class -> (horizon forecasting competitions use (M4), seasonal period): what user data without
# --horizon / --season gets, and what the reserved zero-shot suite scores
COMPETITION = {
    "yearly": (6, 1),
    "quarterly": (8, 4),
    "monthly": (18, 12),
    "weekly": (13, 52),
    "daily": (14, 7),
    "hourly": (48, 24),
}


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class DatasetSpec:
    """One shipped dataset: where it comes from and how it is forecast."""

    name: str
    description: str
    freq: str
    horizon: int
    season: int  # seasonal period of the seasonal-naive baseline and of MASE (1: naive random walk)
    loader: Callable[[], Any]
    # The recipe of the dataset's own model, built by 'apps prepare' and used by default instead of the
    # zero-shot pair ("": none), and its overrides. Monthly and yearly series of a few hundred points:
    # patchtst-series (a small model trained on the series alone; the pooled 384-step context is mostly
    # padding for them). taylor: patchtst-series with a two-week context (672 half-hours): its 336-step
    # week is a season the generated corpus does not have, and the pooled 384-step context shows little
    # more than one week of it.
    own_model: str = ""
    own_settings: tuple[str, ...] = ()

    def summary(self) -> str:
        model = f", own model ({self.own_model})" if self.own_model else ""
        return f"{self.description} [freq {self.freq}, horizon {self.horizon}, season {self.season}{model}]"


# ---- shipped datasets (data inside statsmodels / pmdarima wheels, no network) -------------------------
def _frame(name: str, index, values):
    import pandas as pd

    return pd.DataFrame({ID: name, DS: pd.DatetimeIndex(index), Y: pd.to_numeric(values, errors="coerce")})


def _co2():
    import statsmodels.api as sm

    data = sm.datasets.co2.load_pandas().data
    return _frame("co2", data.index, data["co2"].to_numpy())


def _sunspots():
    import pandas as pd
    import statsmodels.api as sm

    data = sm.datasets.sunspots.load_pandas().data
    index = pd.to_datetime(data["YEAR"].astype(int).astype(str), format="%Y")
    return _frame("sunspots", index, data["SUNACTIVITY"].to_numpy())


def _elnino():
    import pandas as pd
    import statsmodels.api as sm

    data = sm.datasets.elnino.load_pandas().data
    values = data.drop(columns="YEAR").to_numpy().reshape(-1)
    index = pd.date_range(f"{int(data['YEAR'].iloc[0])}-01-01", periods=len(values), freq="MS")
    return _frame("elnino", index, values)


def _elec_equip():
    from statsmodels.datasets import elec_equip

    data = elec_equip.load().data
    return _frame("elec_equip", data.index, data.iloc[:, 0].to_numpy())


def _taylor():
    import pandas as pd
    from pmdarima.datasets import load_taylor

    values = load_taylor(as_series=True).to_numpy()
    # Taylor (2003): England and Wales demand, Monday 5 June to Sunday 27 August 2000, half-hourly.
    index = pd.date_range("2000-06-05", periods=len(values), freq="30min")
    return _frame("taylor", index, values)


def _msft():
    import pandas as pd
    from pmdarima.datasets import load_msft

    data = load_msft()
    data = data[pd.to_datetime(data["Date"]) >= "2010-01-01"]
    return _frame("msft", pd.to_datetime(data["Date"]), data["Close"].to_numpy())


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("co2", "Mauna Loa CO2, weekly 1958-2001 (statsmodels)", "W-SAT", 26, 52, _co2),
        DatasetSpec(
            "sunspots",
            "yearly sunspot activity 1700-2008 (statsmodels)",
            "YS",
            11,
            11,
            _sunspots,
            own_model="patchtst-series",
        ),
        DatasetSpec(
            "elnino",
            "El Nino sea surface temperature, monthly 1950-2010 (statsmodels)",
            "MS",
            12,
            12,
            _elnino,
            own_model="patchtst-series",
        ),
        DatasetSpec(
            "elec_equip",
            "euro-area electrical equipment orders index, monthly 1995-2016 (statsmodels)",
            "MS",
            12,
            12,
            _elec_equip,
            own_model="patchtst-series",
        ),
        DatasetSpec(
            "taylor",
            "England & Wales electricity demand, half-hourly summer 2000 (pmdarima)",
            "30min",
            48,
            336,
            _taylor,
            own_model="patchtst-series",
            own_settings=("context_length=672", "patch_length=16", "patch_stride=8", "max_steps=800"),
        ),
        DatasetSpec("msft", "Microsoft daily close 2010-2017, trading days (pmdarima)", "B", 10, 1, _msft),
    )
}


def dataset_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        from core import suggest

        raise AppsError(f"unknown dataset '{name}'", hint=suggest(name, DATASETS))
    return DATASETS[name]


def load_dataset(name: str, quiet: bool = True):
    """A shipped dataset as a regular long table. Its few gaps (co2 NaN weeks, msft market holidays) are
    filled by the same rule as user data; ``quiet`` keeps that warning for user files only."""
    spec = dataset_spec(name)
    return read_table(spec.loader(), freq=spec.freq, label=f"dataset {name}", quiet=quiet)


@dataclass(frozen=True)
class InputSource:
    """What to forecast, as ``apps run`` and ``apps eval`` both take it: ``--csv`` or ``--dataset``, the
    frequency and the CSV's column names. One group: the options are declared here once (``cli_options``),
    taken out of a verb's options (``take``) and loaded (``load``)."""

    csv: str | None = None
    dataset: str | None = None
    freq: str | None = None
    ds_col: str = DS
    y_col: str = Y
    id_col: str = ID

    @classmethod
    def cli_options(cls) -> list:
        import click

        return [
            click.Option(
                ["--csv"], type=click.Path(dir_okay=False), help="Long table: unique_id, ds, y [+exog]."
            ),
            click.Option(["--dataset"], default=None, help="A shipped dataset (see 'apps info timeseries')."),
            click.Option(
                ["--freq"],
                default=None,
                help="Frequency (pandas alias: D, h, 30min, W-SUN, MS); inferred when not given.",
            ),
            click.Option(["--ds-col"], default=DS, help="Timestamp column of the CSV."),
            click.Option(["--y-col"], default=Y, help="Value column of the CSV."),
            click.Option(["--id-col"], default=ID, help="Series id column (optional)."),
        ]

    @classmethod
    def take(cls, options: dict) -> InputSource:
        """The group's values, removed from ``options`` (a verb's keyword arguments); absent ones default."""
        names = [field.name for field in fields(cls)]
        return cls(**{name: options.pop(name) for name in names if name in options})

    def load(self, quiet: bool = False):
        """``(table, spec or None)``: ``load_input`` of this source."""
        return load_input(self.csv, self.dataset, self.freq, self.ds_col, self.y_col, self.id_col, quiet)


def load_input(csv=None, dataset=None, freq=None, ds_col="ds", y_col="y", id_col="unique_id", quiet=False):
    """``(table, spec or None)`` from ``--csv`` or ``--dataset`` (exactly one of them)."""
    if bool(csv) == bool(dataset):
        raise AppsError(
            "give exactly one of --csv FILE or --dataset NAME",
            hint=f"shipped datasets: {', '.join(DATASETS)}",
        )
    if dataset:
        spec = dataset_spec(dataset)
        return load_dataset(dataset), spec
    return read_table(csv, freq=freq, id_col=id_col, ds_col=ds_col, y_col=y_col, quiet=quiet), None


def frequency_class(freq: str) -> str:
    """yearly, quarterly, monthly, weekly, daily or hourly (anything finer than a day counts as hourly)."""
    import pandas as pd

    name = pd.tseries.frequencies.to_offset(freq).rule_code.split("-")[0].upper()
    for prefix, cls in (
        ("Y", "yearly"),
        ("A", "yearly"),
        ("Q", "quarterly"),
        ("M", "monthly"),
        ("W", "weekly"),
    ):
        if name.startswith(prefix) and name not in ("MIN",):
            return cls
    if name in ("D", "B", "C"):
        return "daily"
    return "hourly"


def default_season(freq: str) -> int:
    """A seasonal period for user data, from its frequency (1: no season, naive baseline): a day of
    sub-daily steps, a week of days (5 business days), 52 weeks, 12 months, 4 quarters."""
    import pandas as pd

    cls = frequency_class(freq)
    if cls != "hourly":
        name = pd.tseries.frequencies.to_offset(freq).rule_code.split("-")[0].upper()
        return 5 if name == "B" else COMPETITION[cls][1]
    return max(1, _steps_per_day(freq))


def default_horizon(freq: str) -> int:
    """The competition horizon of the frequency; sub-hourly data: one day of steps (at most 96)."""
    cls = frequency_class(freq)
    steps = _steps_per_day(freq) if cls == "hourly" else 0
    return min(steps, 96) if steps > 24 else COMPETITION[cls][0]


def min_length(freq: str) -> int:
    """The fewest points a forecast at this frequency starts from: two seasons or two horizons, whichever
    is less, at least 8."""
    return max(8, min(2 * default_season(freq), 2 * default_horizon(freq)))


def _steps_per_day(freq: str) -> int:
    import pandas as pd

    try:
        per_day = pd.Timedelta(days=1) / pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (ValueError, TypeError):
        return 1
    return int(round(per_day)) if per_day >= 2 and float(per_day).is_integer() else 1


# ---- user tables ------------------------------------------------------------------------------------
def read_table(
    source,
    freq: str | None = None,
    id_col: str = ID,
    ds_col: str = DS,
    y_col: str = Y,
    quiet: bool = False,
    label: str | None = None,
):
    """A CSV path or DataFrame -> a checked, regular long table with columns unique_id, ds, y [+ exog].

    Returns the table; its frequency string is in ``table.attrs["freq"]`` and the fixes made in
    ``table.attrs["fixes"]``.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        frame, where = source.copy(), label or "DataFrame"
        line_offset = 0  # row position in the frame
    else:
        path = Path(source)
        if not path.is_file():
            raise AppsError(f"CSV file {path} does not exist")
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise AppsError(f"cannot read CSV: {exc}", where=str(path)) from None
        where, line_offset = str(path), 2  # header is line 1
    if isinstance(source, str | Path) and id_col not in frame.columns:
        frame[id_col] = Path(source).stem
    elif isinstance(source, pd.DataFrame) and id_col not in frame.columns:
        frame[id_col] = "series"
    missing = [c for c in (ds_col, y_col) if c not in frame.columns]
    if missing:
        raise AppsError(
            f"column(s) {', '.join(missing)} not found; the table has: {', '.join(map(str, frame.columns))}",
            where=where,
            hint="a long table needs unique_id (optional), ds (timestamp) and y (value) columns; "
            "name yours with --ds-col / --y-col",
        )
    frame = frame.rename(columns={id_col: ID, ds_col: DS, y_col: Y})
    frame["_line"] = range(line_offset, line_offset + len(frame))
    frame[ID] = frame[ID].astype(str)

    def at(rows) -> str:
        lines = [str(int(v)) for v in rows["_line"].head(3)]
        label = "line" if line_offset else "row"
        return f"{where}:{label} {', '.join(lines)}"

    # timestamps
    parsed = _parse_timestamps(frame[DS])
    bad = parsed.isna() & frame[DS].notna()
    if bad.any() or frame[DS].isna().any():
        rows = frame[bad | frame[DS].isna()]
        raise AppsError(
            f"{len(rows)} timestamp(s) cannot be read, first: {rows[DS].iloc[0]!r}",
            where=at(rows),
            hint="use ISO dates such as 2024-01-31 or 2024-01-31 12:30",
        )
    frame[DS] = parsed

    # values: numbers or empty; text is an error, not something to guess
    numeric = pd.to_numeric(frame[Y], errors="coerce")
    text = numeric.isna() & frame[Y].notna() & (frame[Y].astype(str).str.strip() != "")
    if text.any():
        rows = frame[text]
        raise AppsError(
            f"{int(text.sum())} non-numeric value(s) in column '{y_col}', first: {rows[Y].iloc[0]!r}",
            where=at(rows),
            hint="remove units or thousands separators; leave a cell empty for a missing value",
        )
    frame[Y] = numeric.astype(float)
    exog = [c for c in frame.columns if c not in (ID, DS, Y, "_line")]
    for column in exog:
        values = pd.to_numeric(frame[column], errors="coerce")
        if (values.isna() & frame[column].notna()).any():
            rows = frame[values.isna() & frame[column].notna()]
            raise AppsError(
                f"non-numeric value {rows[column].iloc[0]!r} in exogenous column '{column}'",
                where=at(rows),
                hint="exogenous columns must be numbers",
            )
        frame[column] = values.astype(float)

    # order and duplicates
    fixes: dict[str, int] = {}
    key = frame[ID] + "\x00" + frame[DS].astype(str)
    duplicated = key.duplicated(keep=False)
    if duplicated.any():
        rows = frame[duplicated]
        raise AppsError(
            f"{int(key.duplicated().sum())} duplicated timestamp(s), first: {rows[ID].iloc[0]} at {rows[DS].iloc[0]}",
            where=at(rows),
            hint="keep one row per (unique_id, ds), e.g. aggregate duplicates before forecasting",
        )
    order = frame.sort_values([ID, DS], kind="stable").index
    unsorted = int((order != frame.index).sum())
    if unsorted:
        fixes["rows out of order (sorted)"] = unsorted
        frame = frame.loc[order]

    # frequency and gaps, per series
    parts = []
    freq_found = freq
    for uid, group in frame.groupby(ID, sort=False):
        group_freq = freq or _infer_freq(group, uid, where, at)
        if freq_found not in (None, group_freq):
            raise AppsError(
                f"series have different frequencies ({freq_found} and {group_freq} for '{uid}')",
                where=where,
                hint="forecast one frequency at a time, or resample first",
            )
        freq_found = group_freq
        parts.append(_regularize(group, group_freq, uid, where, fixes, exog, at))
    if not parts:
        raise AppsError("the table has no rows", where=where)
    table = pd.concat(parts, ignore_index=True).drop(columns="_line")
    table.attrs["freq"] = freq_found
    table.attrs["fixes"] = fixes
    table.attrs["source"] = where
    if fixes and not quiet:
        warn(f"{where}: " + "; ".join(f"{count} {what}" for what, count in fixes.items()))
    return table


def _parse_timestamps(column):
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):
        return column
    if pd.api.types.is_integer_dtype(column) and column.between(1000, 2999).all():  # a column of years
        return pd.to_datetime(column.astype(str), format="%Y")
    try:
        return pd.to_datetime(column, errors="coerce", format="mixed")
    except (TypeError, ValueError):
        return pd.to_datetime(column, errors="coerce")


def _infer_freq(group, uid: str, where: str, at) -> str:
    import warnings

    import pandas as pd

    if len(group) < 3:
        raise AppsError(f"series '{uid}' has {len(group)} row(s); cannot infer its frequency", where=where)
    index = pd.DatetimeIndex(group[DS])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces an offset return type; both are handled
        freq = pd.infer_freq(index)
    if freq:
        return freq if isinstance(freq, str) else freq.freqstr
    # Gaps defeat infer_freq: try the most common step, then check the timestamps sit on its grid.
    step = index.to_series().diff().dropna().mode().iloc[0]
    for candidate in _candidates(index, step):
        grid = pd.date_range(index[0], index[-1], freq=candidate)
        if index.isin(grid).all():
            return candidate
    off = ~index.isin(pd.date_range(index[0], index[-1], freq=step))
    first = index[off][0] if off.any() else "?"
    raise AppsError(
        f"series '{uid}' has an irregular frequency: the usual step is {step}, but {int(off.sum())} "
        f"timestamp(s) are off that grid, first {first}",
        where=at(group[off]) if off.any() else where,
        hint="resample to a regular grid first, or pass --freq (e.g. D, h, 30min, W-SUN, MS)",
    )


def _candidates(index, step) -> list:
    """Frequency strings to try for the most common step (calendar months are not a fixed Timedelta)."""
    import pandas as pd

    days = step / pd.Timedelta(days=1)
    if 28 <= days <= 31:
        return ["MS" if index[0].day == 1 else "ME"]
    if 89 <= days <= 92:
        return ["QS" if index[0].day == 1 else "QE"]
    if 365 <= days <= 366:
        return ["YS" if index[0].day == 1 else "YE"]
    if days == 1 and (index.day_of_week < 5).all():
        return ["B", "D"]
    if days == 7:
        return [f"W-{index[0].day_name()[:3].upper()}"]
    return [pd.tseries.frequencies.to_offset(step).freqstr]


def _regularize(group, freq, uid, where, fixes, exog, at):
    import pandas as pd

    index = pd.DatetimeIndex(group[DS])
    try:
        grid = pd.date_range(index[0], index[-1], freq=freq)
    except ValueError as exc:
        raise AppsError(
            f"unknown frequency '{freq}': {exc}", hint="use a pandas alias: D, h, 30min, W-SUN, MS"
        ) from None
    off = ~index.isin(grid)
    if off.any():
        rows = group[off]
        raise AppsError(
            f"series '{uid}': {int(off.sum())} timestamp(s) do not fall on the '{freq}' grid, first {rows[DS].iloc[0]}",
            where=at(rows),
            hint="check the frequency (--freq) or resample the data to a regular grid",
        )
    regular = group.set_index(DS).reindex(grid)
    gaps = len(grid) - len(group)
    if gaps:
        fixes["missing timestamps (filled)"] = fixes.get("missing timestamps (filled)", 0) + gaps
    nan = int(group[Y].isna().sum())
    if nan:
        fixes["missing values (filled)"] = fixes.get("missing values (filled)", 0) + nan
    columns = [Y, *exog]
    if regular[columns].isna().all().any():
        raise AppsError(f"series '{uid}' has no numeric values", where=where)
    # Linear interpolation inside the series; the edges repeat their nearest value.
    regular[columns] = regular[columns].interpolate(method="linear", limit_direction="both")
    regular[ID] = uid
    regular.index.name = DS
    return regular.reset_index()[[ID, DS, Y, *exog, "_line"]]


def series_arrays(table) -> dict[str, Any]:
    """``{unique_id: numpy float32 array}`` of a regular table, in table order."""
    import numpy as np

    return {uid: group[Y].to_numpy(dtype=np.float32) for uid, group in table.groupby(ID, sort=False)}


def check_length(uid: str, length: int, needed: int, what: str, freq: str | None = None) -> None:
    if length < needed:
        floor = (
            f" (a {frequency_class(freq)} series needs at least {min_length(freq)} to forecast)"
            if freq
            else ""
        )
        raise AppsError(
            f"series '{uid}' has {length} points; {what} needs at least {needed}{floor}",
            hint="give a longer series, a shorter --horizon, or fewer backtest windows (--n-windows)",
        )
