"""Cora citation graph: 2708 papers, 1433 binary word features, 7 topics, in two formats.

* ``load_planetoid``: the split of Yang, Cohen & Salakhutdinov (2016) that Kipf & Welling
  (2017) use, files ``cora/planetoid/ind.cora.*``: 140 training nodes (20 per class),
  500 validation, 1000 test. The files are Python 2 pickles. Unpickling runs whatever
  the file names, so they are read by ``RestrictedUnpickler``, which admits only the
  few numpy types they hold and decodes the scipy sparse matrices itself (scipy is not
  needed).
* ``load_linqs``: the original LINQS release, ``cora/linqs/cora.content`` (paper id,
  features, label) and ``cora.cites`` (cited id, citing id); no split.

Both give a ``Graph``: dense features (N, F) float32, integer labels (N,), the
undirected edges (E, 2) with i < j, each once, sorted. Files are looked for as
``minirnn.data.locate`` does (``--data-dir``, ``$MINIRNN_DATA``, ...) and checked
against their sha256.
"""
import collections
import pickle
from dataclasses import dataclass

import numpy as np

from . import DataError, locate

PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data/"
PLANETOID = {   # file: sha256 (kimiyoung/planetoid data/, identical in tkipf/gcn gcn/data/)
    "x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
    "y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
    "tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
    "ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
    "allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
    "ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
    "graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
    "test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
}
# The LINQS archive (https://linqs-data.soe.ucsc.edu/public/lbc/cora.tgz) unpacked; its
# files are fetched one by one from the copy in Kipf's pygcn repository.
LINQS_URL = "https://raw.githubusercontent.com/tkipf/pygcn/master/data/cora/"
LINQS = {
    "cora.content": "b8ebed0fd45e53995abafd1b70cf6a9fcc8f86abc5826d69b97fe6ca46e9c8ee",
    "cora.cites": "ec1a372391b7f0f60a6aff0084e8abd8f19f0faa7e1f2441a41c492042d5945e",
}
VALIDATION = 500     # Planetoid: the 500 nodes after the training nodes validate


@dataclass
class Graph:
    """A node-classification data set; ``train``/``val``/``test`` are node ids (or
    None where the format has no split), ``classes`` the label names."""
    features: np.ndarray
    labels: np.ndarray
    edges: np.ndarray
    classes: list
    train: np.ndarray = None
    val: np.ndarray = None
    test: np.ndarray = None

    @property
    def num_nodes(self):
        return self.features.shape[0]


# -------------------------------------------------------------- safe unpickling

class PickledSparse:
    """Stands in for the scipy.sparse matrix classes while unpickling: keeps the
    pickled attributes (data, indices, indptr, _shape) and turns them into an array."""

    def __setstate__(self, state):
        self.state = state

    def todense(self):
        s = self.state
        if s.get("format") != "csr":
            raise DataError(f"expected a CSR matrix in the pickle, got format {s.get('format')!r}")
        dense = np.zeros(s["_shape"], s["data"].dtype)
        rows = np.repeat(np.arange(s["_shape"][0]), np.diff(s["indptr"]))
        dense[rows, s["indices"]] = s["data"]
        return dense


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct     # NumPy >= 2
    except ImportError:                                     # NumPy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only numpy arrays and dtypes, lists, defaultdicts and
    (as ``PickledSparse``) scipy CSR matrices. Any other global, such as os.system, is
    refused before it is looked up, so a crafted file cannot run code."""

    ALLOWED = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
        ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
        ("collections", "defaultdict"): collections.defaultdict,
        ("__builtin__", "list"): list,
        ("builtins", "list"): list,
        ("scipy.sparse.csr", "csr_matrix"): PickledSparse,
        ("scipy.sparse._csr", "csr_matrix"): PickledSparse,
    }

    def find_class(self, module, name):
        try:
            return self.ALLOWED[module, name]
        except KeyError:
            raise DataError(f"refusing to unpickle {module}.{name}: this pickle asks for "
                            "more than the numpy arrays, lists and sparse matrices a "
                            "Planetoid file holds; it may be malicious or not a Planetoid "
                            "file. Delete it and use the official copy.") from None


def safe_unpickle(path):
    """The object pickled in ``path`` (Python 2 pickles: latin-1 strings), through
    ``RestrictedUnpickler``."""
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
            raise DataError(f"{path}: not a readable pickle ({e}); delete it to "
                            "download it again") from None


# -------------------------------------------------------------------- Planetoid

def _planetoid_file(name, data_dir, download):
    file = f"ind.cora.{name}"
    return locate([f"cora/planetoid/{file}"], PLANETOID[name], PLANETOID_URL + file,
                  data_dir, download)


def _dense(obj):
    return obj.todense() if isinstance(obj, PickledSparse) else np.asarray(obj)


def _undirected(pairs):
    """Each unordered pair of distinct nodes once, as (i < j) rows, sorted."""
    pairs = np.sort(np.asarray(pairs, np.int64).reshape(-1, 2), axis=1)
    return np.unique(pairs[pairs[:, 0] != pairs[:, 1]], axis=0)


def load_planetoid(data_dir=None, download=True):
    """Cora with the Planetoid split, assembled as in Kipf's ``utils.load_data``: the
    test rows (``tx``, ``ty``) belong to the nodes listed in ``test.index``, after the
    ``allx`` rows; training nodes are 0..139, validation 140..639."""
    part = {name: safe_unpickle(_planetoid_file(name, data_dir, download))
            for name in ("x", "y", "allx", "ally", "tx", "ty", "graph")}
    test_index = np.loadtxt(_planetoid_file("test.index", data_dir, download), dtype=np.int64)
    features = np.vstack([_dense(part["allx"]), _dense(part["tx"])]).astype(np.float32)
    onehot = np.vstack([_dense(part["ally"]), _dense(part["ty"])])
    test = np.sort(test_index)
    features[test_index], onehot[test_index] = features[test], onehot[test]   # Kipf's reorder
    if not (onehot.sum(axis=1) == 1).all():
        raise DataError("Planetoid labels: expected one class per node")
    graph = part["graph"]
    edges = _undirected([(u, v) for u, vs in graph.items() for v in vs])
    n_train = _dense(part["y"]).shape[0]
    return Graph(features, onehot.argmax(axis=1), edges, [str(c) for c in range(onehot.shape[1])],
                 train=np.arange(n_train), val=np.arange(n_train, n_train + VALIDATION),
                 test=test)


# ------------------------------------------------------------------------ LINQS

def _binary_words(rows, path):
    """The 0/1 word columns of ``cora.content`` (N, F) from each row's middle part
    "0\t1\t0...": one pass over the bytes instead of N * F string conversions."""
    F = rows[0].count(b"\t") + 1
    cells = np.frombuffer(b"\t".join(rows), np.uint8)
    digits, tabs = cells[::2], cells[1::2]
    if cells.size != len(rows) * 2 * F - 1 or (tabs != ord("\t")).any() or (digits > ord("1")).any() \
            or (digits < ord("0")).any():
        raise DataError(f"{path}: expected {F} tab-separated 0/1 words on every line")
    return (digits - ord("0")).reshape(len(rows), F).astype(np.float32)


def load_linqs(data_dir=None, download=True):
    """Cora as LINQS released it: nodes in the order of ``cora.content``, classes named
    and sorted alphabetically, each citation an undirected edge."""
    paths = {f: locate([f"cora/linqs/{f}"], sha, LINQS_URL + f, data_dir, download)
             for f, sha in LINQS.items()}
    papers = [line.split(b"\t", 1) for line in paths["cora.content"].read_bytes().splitlines()]
    words, names = zip(*(rest.rsplit(b"\t", 1) for _, rest in papers))
    ids = {paper.decode(): n for n, (paper, _) in enumerate(papers)}
    classes = sorted({name.decode() for name in names})
    labels = np.array([classes.index(name.decode()) for name in names])
    try:
        cites = [[ids[p] for p in line.split()]
                 for line in paths["cora.cites"].read_text().splitlines()]
    except KeyError as e:
        raise DataError(f"{paths['cora.cites']}: cites paper {e} absent from cora.content") from None
    return Graph(_binary_words(words, paths["cora.content"]), labels, _undirected(cites), classes)


LOADERS = {"planetoid": load_planetoid, "linqs": load_linqs}


def load(split="planetoid", data_dir=None, download=True):
    """Cora in the given format: "planetoid" (with Kipf's split) or "linqs"."""
    if split not in LOADERS:
        raise DataError(f"unknown Cora format {split!r}; expected one of {', '.join(LOADERS)}")
    return LOADERS[split](data_dir, download)
