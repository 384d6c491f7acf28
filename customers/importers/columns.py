"""Columns held as distinct values plus one integer code per row.

String work (strip, lower-case, parse) then runs once per distinct value and grouping runs
on integers: an Online Retail column of 536,641 cells has a few thousand distinct values.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


class Col:
    """A column as `uniques` (distinct str values, no repeats) and `codes` (one index per row)."""

    __slots__ = ("codes", "uniques")

    def __init__(self, codes: np.ndarray, uniques: np.ndarray) -> None:
        self.codes = codes
        self.uniques = uniques

    @classmethod
    def of(cls, values: np.ndarray | pd.Series) -> Col:
        codes, uniques = pd.factorize(np.asarray(values, dtype=object), sort=False, use_na_sentinel=False)
        return cls(codes, np.asarray(uniques, dtype=object))

    @classmethod
    def constant(cls, value: str, length: int) -> Col:
        return cls(np.zeros(length, dtype=np.intp), np.array([value], dtype=object))

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, index: np.ndarray) -> Col:
        return Col(self.codes[index], self.uniques)

    def map(self, transform: Callable[[pd.Series], pd.Series]) -> Col:
        """`transform` (on a Series of the distinct values) applied once per distinct value."""
        mapped = np.asarray(transform(pd.Series(self.uniques, dtype=object)), dtype=object)
        codes, uniques = pd.factorize(mapped, sort=False, use_na_sentinel=False)
        return Col(codes[self.codes], np.asarray(uniques, dtype=object))

    def mask(self, predicate: Callable[[pd.Series], pd.Series]) -> np.ndarray:
        """Boolean per row from `predicate` evaluated once per distinct value."""
        return np.asarray(predicate(pd.Series(self.uniques, dtype=object)), dtype=bool)[self.codes]

    def code_of(self, value: str) -> int:
        found = np.flatnonzero(self.uniques == value)
        return int(found[0]) if len(found) else -1

    def empty(self) -> np.ndarray:
        return self.codes == self.code_of("")

    def values(self) -> np.ndarray:
        return self.uniques[self.codes]

    def value(self, position: int) -> str:
        return self.uniques[self.codes[position]]

    def coalesce(self, other: Col) -> Col:
        """This column where it is not empty, else `other`."""
        use_other = self.empty()
        if not use_other.any():
            return self
        return Col.of(np.where(use_other, other.values(), self.values()))


def groups_of(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group per row 0..G-1 in order of first appearance, the code of each group)."""
    groups, uniques = pd.factorize(codes, sort=False)
    return groups, np.asarray(uniques)


def first_per_group(
    groups: np.ndarray, n_groups: int, codes: np.ndarray, skip_code: int, *, last: bool = False
) -> np.ndarray:
    """Per group, the code on its first (or last) row whose code is not `skip_code`; -1 if none."""
    rows = np.flatnonzero(codes != skip_code)
    result = np.full(n_groups, -1, dtype=np.int64)
    if not len(rows):
        return result
    if last:
        rows = rows[::-1]
    present, first = np.unique(groups[rows], return_index=True)
    result[present] = codes[rows[first]]
    return result


def decode(col: Col, codes: np.ndarray) -> np.ndarray:
    """The strings for per-group codes from _first_per_group ("" for -1)."""
    padded = np.append(col.uniques, "")
    return padded[np.where(codes >= 0, codes, len(col.uniques))]
