"""Small input-checking and datetime helpers shared by the compute modules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd


def require_columns(frame: Any, columns: Iterable[str], name: str) -> None:
    """Raise ``ValueError`` unless ``frame`` is a DataFrame holding ``columns``.

    The message names the frame and every missing column.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing required column(s): {', '.join(missing)}")


def to_utc_naive(values: pd.Series, name: str) -> pd.Series:
    """Parse ``values`` as datetimes and return them as naive UTC.

    tz-aware values are converted to UTC; naive values are taken to be UTC.
    Raises ``ValueError`` naming ``name`` when the values cannot be parsed.
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.DatetimeTZDtype):
        # already datetimes: convert, without to_datetime's parsing machinery (seconds for 3M rows)
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    try:
        parsed = pd.to_datetime(values, utc=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"column {name} cannot be read as datetimes: {exc}") from exc
    return parsed.dt.tz_localize(None)


def wall_clock(values: pd.Series, name: str) -> pd.Series:
    """Datetimes as the wall-clock time they were stored with (tz dropped)."""
    try:
        parsed = pd.to_datetime(values)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"column {name} cannot be read as datetimes: {exc}") from exc
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_localize(None)
    if parsed.dtype == object:  # mixed offsets
        return to_utc_naive(values, name)
    return parsed


def timestamp_utc_naive(value: Any, name: str) -> pd.Timestamp:
    """One datetime-like value as a naive UTC ``Timestamp``."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not a datetime: {value!r}") from exc
    if ts is pd.NaT:
        raise ValueError(f"{name} must not be NaT")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts
