"""Finding, fetching and verifying data sets.

A data set is looked for, in order, in ``--data-dir`` (or ``$MINIRNN_DATA``), in the
repository's ``datasets/`` folder, and in the cache (``$XDG_CACHE_HOME/minirnn`` or
``~/.cache/minirnn``); if absent everywhere it is downloaded into the cache from its
official URL, checked against its sha256 first. Nothing touches the network at import.
"""
import hashlib
import http.client
import os
import sys
import urllib.request
from pathlib import Path

from ..files import write_atomic

SHIPPED = Path(__file__).resolve().parents[2] / "datasets"


class DataError(Exception):
    """A data set that is missing, corrupt, or malformed; the message says what to do."""


def cache_dir():
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "minirnn"


def search_dirs(data_dir=None):
    """Where to look, most specific first. A folder the user names must exist: a
    mistyped one would otherwise send the loaders quietly on to a download."""
    user = data_dir or os.environ.get("MINIRNN_DATA")
    if user and not Path(user).is_dir():
        raise DataError(f"data folder {user} (--data-dir or MINIRNN_DATA) does not exist")
    return [Path(d) for d in (user, SHIPPED, cache_dir()) if d]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_sha256(what, got, expected, advice=""):
    """DataError unless ``what`` (a file or a download) has the sha256 ``expected``."""
    if got != expected:
        raise DataError(f"{what} is corrupt or a different version: sha256 {got}, "
                        f"expected {expected}{advice}")


def verify(path, expected):
    check_sha256(path, sha256(path), expected, ". Delete it to download it again.")
    return path


def fetch(url, expected_sha256, dest):
    """Download ``url`` to ``dest`` through files.write_atomic, hashed as it arrives and
    verified before the rename: a corrupt or interrupted download leaves nothing."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    print(f"downloading {url} -> {dest}", file=sys.stderr)

    def download(f):
        h = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=60) as r:
            while block := r.read(1 << 20):
                f.write(block)
                h.update(block)
        check_sha256(url, h.hexdigest(), expected_sha256)

    try:
        write_atomic(dest, download)
    except (OSError, http.client.HTTPException) as e:      # HTTPException: a cut-off stream
        raise DataError(f"could not download {url}: {e}") from e
    return dest


def locate(names, expected_sha256, url, data_dir=None, download=True):
    """The first existing file among ``dir/name`` for the search dirs, verified.

    ``names`` lists the relative paths the file may have (e.g. its layout in the
    official archive and in ``datasets/``). Downloads to the cache when allowed.
    """
    tried = [d / n for d in search_dirs(data_dir) for n in names]
    for path in tried:
        if path.is_file():
            return verify(path, expected_sha256)
    if download:
        return fetch(url, expected_sha256, cache_dir() / names[0])
    raise DataError("data not found; looked in:\n  " + "\n  ".join(map(str, tried)) +
                    f"\nPoint --data-dir or MINIRNN_DATA at a folder holding {names[0]}, "
                    f"or allow the download from {url}")
