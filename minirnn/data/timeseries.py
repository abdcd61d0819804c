"""Small real time series, shipped in ``datasets/timeseries/`` (see its README).

``load(name)`` returns the columns of one CSV as float arrays, keyed by the header.
"""
import csv

import numpy as np

from . import DataError, locate

_REPO = "https://raw.githubusercontent.com"
SERIES = {   # name: (file, sha256, official download location)
    "airline-passengers": ("airline-passengers.csv",
                           "8cb51be753a718d9be5d76d7e238cc224792754676adc21faa59e954b0201621",
                           f"{_REPO}/jbrownlee/Datasets/master/airline-passengers.csv"),
    "daily-min-temperatures": ("daily-min-temperatures.csv",
                               "8b9de63ed6789492bf497625e7f9beb96a63d367b4b0a21754006f749fa5e5da",
                               f"{_REPO}/jbrownlee/Datasets/master/daily-min-temperatures.csv"),
    "monthly-sunspots": ("monthly-sunspots.csv",
                         "c4ec8cc57d9f6fb6ecdb3e1f37f25b6f4badd5124c55931052b0cd2fc3bc71f3",
                         f"{_REPO}/jbrownlee/Datasets/master/monthly-sunspots.csv"),
    "faithful": ("faithful.csv",
                 "d40b983752ab7ec0b15b740089c3ca7b7b59d0c7433a029a1714d134de1e8d14",
                 f"{_REPO}/lagerratrobe/R_Data/master/faithful.csv"),
}


def load(name, data_dir=None, download=True):
    """``{column: values}`` of series ``name``; a date column stays as strings."""
    if name not in SERIES:
        raise DataError(f"unknown time series {name!r}; available: {', '.join(SERIES)}")
    file, sha, url = SERIES[name]
    path = locate([f"timeseries/{file}"], sha, url, data_dir, download)
    with open(path, newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    columns = {}
    for j, key in enumerate(header):
        values = [r[j] for r in rows]
        try:
            columns[key] = np.array(values, dtype=float)
        except ValueError:
            if j > 0:
                raise DataError(f"{path}: column {key!r} holds non-numbers") from None
            columns[key] = np.array(values)
    return columns
