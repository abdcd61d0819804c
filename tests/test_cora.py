"""Cora: the restricted unpickler, the Planetoid split, the LINQS files, and that the two
formats describe the same graph."""
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from minirnn.data import DataError, cora

SHARED = Path(os.environ.get("MINIRNN_DATA") or Path(__file__).resolve().parents[2] / "shared" / "datasets")
needs_cora = pytest.mark.skipif(not (SHARED / "cora").is_dir(), reason="no Cora under MINIRNN_DATA")

# Planetoid class index -> LINQS label, as published with the split (Yang et al. 2016)
PLANETOID_CLASSES = ["Theory", "Reinforcement_Learning", "Genetic_Algorithms", "Neural_Networks",
                     "Probabilistic_Methods", "Case_Based", "Rule_Learning"]


class RunsCode:
    """Unpickling this calls os.system, as a crafted data file would."""

    def __reduce__(self):
        return os.system, ("echo unpickled-code-ran",)


def test_malicious_pickle_is_refused_without_running_code(tmp_path, monkeypatch):
    path = tmp_path / "ind.cora.graph"
    path.write_bytes(pickle.dumps({"graph": RunsCode()}, protocol=2))
    called = []
    monkeypatch.setattr(os, "system", lambda *args: called.append(args))
    with pytest.raises(DataError, match=r"refusing to unpickle posix.system.*may be malicious"):
        cora.safe_unpickle(path)
    assert called == []


def test_only_the_listed_globals_are_admitted(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(pickle.dumps([np.arange(3), np.float32(1.0)], protocol=4))
    with pytest.raises(DataError, match=r"refusing to unpickle numpy.*scalar"):
        cora.safe_unpickle(path)
    path.write_bytes(pickle.dumps([np.arange(3.0)], protocol=4))
    assert np.array_equal(cora.safe_unpickle(path)[0], [0.0, 1.0, 2.0])


def test_truncated_pickle_is_a_data_error(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(pickle.dumps([np.arange(3.0)], protocol=2)[:20])
    with pytest.raises(DataError, match="not a readable pickle"):
        cora.safe_unpickle(path)


@pytest.fixture(scope="module")
def planetoid():
    return cora.load_planetoid(SHARED, download=False)


@pytest.fixture(scope="module")
def linqs():
    return cora.load_linqs(SHARED, download=False)


@needs_cora
def test_planetoid_split_is_kipfs(planetoid):
    g = planetoid
    assert g.features.shape == (2708, 1433) and g.labels.shape == (2708,)
    assert len(g.classes) == 7 and set(np.unique(g.features)) == {0.0, 1.0}
    assert (len(g.train), len(g.val), len(g.test)) == (140, 500, 1000)
    assert np.array_equal(np.bincount(g.labels[g.train]), [20] * 7)
    assert np.array_equal(np.bincount(g.labels), [351, 217, 418, 818, 426, 298, 180])
    assert g.test.min() == 1708 and g.test.max() == 2707
    assert not set(g.train) & set(g.val) and not (set(g.train) | set(g.val)) & set(g.test)
    assert len(g.edges) == 5278 and (g.edges[:, 0] < g.edges[:, 1]).all()


@needs_cora
def test_linqs_files_read(linqs):
    g = linqs
    assert g.features.shape == (2708, 1433) and len(g.edges) == 5278
    counts = dict(zip(g.classes, np.bincount(g.labels)))
    assert counts == {"Case_Based": 298, "Genetic_Algorithms": 418, "Neural_Networks": 818,
                      "Probabilistic_Methods": 426, "Reinforcement_Learning": 217,
                      "Rule_Learning": 180, "Theory": 351}
    assert g.train is None


def edge_signatures(g, class_names):
    """The multiset of edges, each end named by what identifies a node in both files
    (its words, its class name, its degree) instead of by its position."""
    degree = np.bincount(g.edges.ravel(), minlength=g.num_nodes)
    name = [(g.features[v].tobytes(), class_names[g.labels[v]], degree[v])
            for v in range(g.num_nodes)]
    return sorted(tuple(sorted((name[i], name[j]))) for i, j in g.edges)


@needs_cora
def test_both_formats_describe_the_same_graph(planetoid, linqs):
    assert np.array_equal(np.sort(np.bincount(planetoid.edges.ravel())),
                          np.sort(np.bincount(linqs.edges.ravel())))
    assert edge_signatures(planetoid, PLANETOID_CLASSES) == edge_signatures(linqs, linqs.classes)


@needs_cora
def test_corrupt_file_is_refused(tmp_path):
    shutil.copytree(SHARED / "cora" / "linqs", tmp_path / "cora" / "linqs")
    cites = tmp_path / "cora" / "linqs" / "cora.cites"
    cites.chmod(0o644)
    cites.write_text(cites.read_text()[:-20])
    with pytest.raises(DataError, match="cora.cites is corrupt or a different version"):
        cora.load_linqs(tmp_path, download=False)


def test_missing_data_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIRNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"(?s)cora/planetoid/ind.cora.x.*MINIRNN_DATA.*kimiyoung"):
        cora.load_planetoid(tmp_path, download=False)
    with pytest.raises(DataError, match="unknown Cora format 'citeseer'"):
        cora.load("citeseer")
