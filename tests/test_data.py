"""Data: the shipped copy, MINIRNN_DATA, checksums, and the errors a user sees."""
import hashlib
import http.client
import io
import os
import urllib.request
from pathlib import Path

import pytest

from minirnn import data
from minirnn.data import shakespeare

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def test_shipped_tiny_shakespeare_is_the_verified_file():
    text = shakespeare.load(download=False)
    assert len(text) == 1_115_394 and len(set(text)) == 65
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    sums = dict(reversed(line.split()) for line in open(data.SHIPPED / "SHA256SUMS"))
    assert sums["tinyshakespeare.txt"] == shakespeare.SHA256
    assert hashlib.sha256(text.encode()).hexdigest() == shakespeare.SHA256


@pytest.mark.skipif(not (SHARED / "tinyshakespeare").is_dir(), reason="no ../shared/datasets")
def test_minirnn_data_points_at_a_copy_on_disk(monkeypatch):
    monkeypatch.setenv("MINIRNN_DATA", str(SHARED))
    assert data.search_dirs()[0] == SHARED
    assert len(shakespeare.load(download=False)) == 1_115_394


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No shipped copy, an empty cache, an empty data dir."""
    monkeypatch.setattr(data, "SHIPPED", tmp_path / "shipped")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MINIRNN_DATA", raising=False)
    (tmp_path / "mine").mkdir()
    return tmp_path


def test_missing_data_says_where_it_looked_and_what_to_do(nowhere):
    with pytest.raises(data.DataError) as e:
        shakespeare.load(nowhere / "mine", download=False)
    message = str(e.value)
    assert str(nowhere / "mine" / "tinyshakespeare" / "input.txt") in message
    assert str(nowhere / "cache" / "minirnn") in message
    assert "MINIRNN_DATA" in message and shakespeare.URL in message


def test_corrupt_copy_is_refused(nowhere):
    bad = nowhere / "mine" / "tinyshakespeare" / "input.txt"
    bad.parent.mkdir()
    bad.write_text("not shakespeare")
    with pytest.raises(data.DataError, match="corrupt or a different version"):
        shakespeare.load(nowhere / "mine", download=False)


def test_fetch_verifies_before_it_renames(nowhere):
    source = nowhere / "source.txt"
    source.write_bytes(b"some data")
    good = hashlib.sha256(b"some data").hexdigest()
    dest = data.fetch(source.as_uri(), good, nowhere / "cache" / "x" / "data.txt")
    assert dest.read_bytes() == b"some data"
    with pytest.raises(data.DataError, match="corrupt"):
        data.fetch(source.as_uri(), "0" * 64, nowhere / "cache" / "y" / "data.txt")
    assert os.listdir(nowhere / "cache" / "y") == []       # no partial file left
    with pytest.raises(data.DataError, match="could not download"):
        data.fetch((nowhere / "absent").as_uri(), good, nowhere / "cache" / "z" / "d.txt")


def test_a_data_folder_that_does_not_exist_is_named(nowhere, monkeypatch):
    with pytest.raises(data.DataError, match="mistyped.*does not exist"):
        shakespeare.load(nowhere / "mistyped")
    monkeypatch.setenv("MINIRNN_DATA", str(nowhere / "mistyped"))
    with pytest.raises(data.DataError, match="MINIRNN_DATA"):
        shakespeare.load()


def test_a_download_cut_off_midway_is_a_data_error(nowhere, monkeypatch):
    class CutOff(io.BytesIO):
        def read(self, n=-1):
            raise http.client.IncompleteRead(b"partial")
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: CutOff())
    with pytest.raises(data.DataError, match="could not download"):
        data.fetch("https://example.org/d.txt", "0" * 64, nowhere / "cache" / "d.txt")
    assert os.listdir(nowhere / "cache") == []


def test_timeseries_shipped_copies_match_their_published_summaries():
    from minirnn.data import timeseries
    faithful = timeseries.load("faithful", download=False)
    # R's datasets::faithful: 272 rows, column means 3.487783 and 70.897059
    assert len(faithful["eruptions"]) == 272
    assert abs(faithful["eruptions"].mean() - 3.487783) < 1e-6
    assert abs(faithful["waiting"].mean() - 70.897059) < 1e-6
    airline = timeseries.load("airline-passengers", download=False)
    assert airline["Month"][0] == "1949-01" and airline["Month"][-1] == "1960-12"
    assert airline["Passengers"][:3].tolist() == [112, 118, 132]   # Box & Jenkins series G
    assert len(timeseries.load("monthly-sunspots", download=False)["Sunspots"]) == 2820
    assert len(timeseries.load("daily-min-temperatures", download=False)["Temp"]) == 3650


def test_timeseries_unknown_name_lists_the_choices():
    from minirnn.data import DataError, timeseries
    with pytest.raises(DataError, match="airline-passengers"):
        timeseries.load("stock-prices")
