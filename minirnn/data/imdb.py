"""IMDB Large Movie Review Dataset (Maas et al., 2011): 25,000 train and 25,000 test
reviews, half positive and half negative, as padded arrays of word ids.

The ``aclImdb`` folder is looked for as ``DIR/aclImdb`` or ``DIR/imdb/aclImdb`` for each
search dir (``--data-dir`` or ``$MINIRNN_DATA``, ``datasets/``, the cache), else the
official archive is downloaded into ``CACHE/imdb`` and unpacked there. Reading 50,000
small files and tokenizing them takes seconds, so the encoded arrays are cached as an
``.npz`` keyed by the source folder and the settings; later loads read only that.
"""
import hashlib
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ..files import write_atomic
from . import DataError, cache_dir, fetch, search_dirs, verify

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
NAMES = [".", "aclImdb", "imdb/aclImdb"]    # "." : a folder named aclImdb itself
SPLITS = ("train", "test")
LABELS = ("neg", "pos")                 # label = index: 0 negative, 1 positive
PAD, UNK = "<pad>", "<unk>"
TOKENIZER_VERSION = 2                   # bump when tokenize() or Split changes: old caches then miss

BREAK = re.compile(r"<br\s*/?>")
MOVIE = re.compile(r"/title/tt(\d+)/")
REVIEW = re.compile(r"(\d+)_\d+\.txt")         # ID_RATING.txt; other names: film unknown
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


@dataclass
class Split:
    """One split: ``tokens`` (N, max_len) int32 ids, left-aligned and 0-padded,
    ``lengths`` (N,) int64 in 1..max_len, ``labels`` (N,) int64 (1 positive, 0 negative),
    ``movies`` (N,) int64: the IMDb title number of the film reviewed, -1 if unknown."""
    tokens: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    movies: np.ndarray

    def __len__(self):
        return len(self.labels)

    def take(self, idx):
        """The reviews at ``idx`` (e.g. from :func:`validation_split`) as a new Split."""
        return Split(self.tokens[idx], self.lengths[idx], self.labels[idx], self.movies[idx])


@dataclass
class Imdb:
    """``vocab[i]`` is the word with id ``i`` (0 ``<pad>``, 1 ``<unk>``)."""
    vocab: list
    train: Split
    test: Split


def load(data_dir=None, vocab_size=20000, max_len=256, keep="head", download=True):
    """Both splits encoded with a vocabulary of ``vocab_size`` entries built from train.

    ``keep`` chooses which ``max_len`` tokens of a longer review are kept: ``"head"``
    (the first) or ``"tail"`` (the last). See :func:`build_vocab` and :func:`encode`.
    """
    check_keep(keep)
    root = find(data_dir, download)
    files = {split: review_files(root, split) for split in SPLITS}
    settings = [str(root.resolve()), signature(root, files), vocab_size, max_len, keep,
                TOKENIZER_VERSION]
    key = hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:20]
    path = cache_dir() / "imdb" / f"encoded-{key}.npz"
    cached = read_cache(path)
    if cached is not None:
        return cached
    return save_cache(path, encode_files(files, vocab_size, max_len, keep))


# --- finding and fetching the aclImdb folder ---------------------------------------------

def find(data_dir=None, download=True):
    """The first ``aclImdb`` folder found, or the one downloaded into the cache."""
    tried = [d / n for d in search_dirs(data_dir) for n in NAMES if (d / n).name == "aclImdb"]
    for path in tried:
        if path.is_dir():
            return check_layout(path)
    if download:
        print("no aclImdb folder at " + ", ".join(map(str, tried)), file=sys.stderr)
        return check_layout(download_archive(cache_dir() / "imdb"))
    raise DataError("IMDB not found; looked for an aclImdb folder at:\n  " +
                    "\n  ".join(map(str, tried)) +
                    "\nPoint --data-dir or MINIRNN_DATA at an aclImdb folder, a folder holding "
                    f"aclImdb/ or imdb/aclImdb/, or allow the download from {URL}")


def check_layout(root):
    missing = [f"{s}/{c}" for s in SPLITS for c in LABELS if not (root / s / c).is_dir()]
    if missing:
        raise DataError(f"{root} is not a complete aclImdb folder: missing "
                        f"{', '.join(missing)}. Unpack {URL} there again, or point "
                        "--data-dir / MINIRNN_DATA at a complete copy.")
    return root


def download_archive(dest):
    """Fetch the archive into ``dest`` (once) and unpack it there; returns the tree."""
    archive = dest / Path(URL).name
    if archive.is_file():
        verify(archive, SHA256)
    else:
        fetch(URL, SHA256, archive)
    print(f"unpacking {archive}", file=sys.stderr)
    safe_extract(archive, dest)
    return dest / "aclImdb"


def safe_extract(archive, dest):
    """Unpack a tar archive into ``dest``, refusing members that could write elsewhere.

    Every member is checked before anything is written. Members are unpacked into a
    temporary folder inside ``dest`` and renamed into place at the end, so an
    interrupted extraction leaves no half-written tree where a loader would find it.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest, prefix=".unpacking-"))
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                check_member(member, tmp, archive)
            tar.extractall(tmp, members=members, **extract_filter())
        for name in os.listdir(tmp):
            os.rename(tmp / name, dest / name)
    except tarfile.TarError as e:
        raise DataError(f"{archive} is not a readable tar archive: {e}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_member(member, root, archive):
    """Raise DataError unless ``member`` is a plain file or folder inside ``root``."""
    name = member.name
    if os.path.isabs(name):
        why = "absolute path"
    elif ".." in Path(name).parts:
        why = "'..' in its path"
    elif not (member.isfile() or member.isdir()):
        why = "not a plain file or folder (link or device)"
    elif not (root / name).resolve().is_relative_to(root.resolve()):   # the backstop
        why = "resolves outside the target folder"
    else:
        return
    raise DataError(f"{archive}: refusing unsafe member {name!r}: {why}")


def extract_filter():
    # tarfile's own "data" filter (3.12+, and 3.8-3.11 security releases): a second guard
    return {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


# --- reading and encoding ----------------------------------------------------------------

def review_files(root, split):
    """``[(path, label)]`` of a split: negatives then positives, each sorted by name.
    An empty class folder (an interrupted copy) is an error, not a one-class split."""
    files = []
    for label, cls in enumerate(LABELS):
        folder = root / split / cls
        found = [(entry.path, label) for entry in sorted(os.scandir(folder), key=lambda e: e.name)
                 if entry.name.endswith(".txt")]
        if not found:
            raise DataError(f"no reviews (*.txt) in {folder}: unpack {URL} there again, "
                            "or point --data-dir / MINIRNN_DATA at a complete copy")
        files += found
    return files


def signature(root, files):
    """Count, total bytes and newest mtime of each split's reviews of each class, and
    of the film listings (urls_*.txt, see :func:`movies`): changes when the copy
    changes, a review moved from one class to the other included."""
    def stats(paths):
        found = [os.stat(path) for path in paths]
        return [len(found), sum(s.st_size for s in found),
                max((s.st_mtime_ns for s in found), default=0)]

    reviews = {f"{split}/{cls}": stats(path for path, l in items if l == label)
               for split, items in files.items() for label, cls in enumerate(LABELS)}
    listings = {path.relative_to(root).as_posix(): stats([path])
                for path in sorted(root.glob("*/urls_*.txt"))}
    return [reviews, listings]


def encode_files(files, vocab_size, max_len, keep):
    """Read and encode both splits; the vocabulary comes from train only."""
    n = sum(map(len, files.values()))
    print(f"reading and tokenizing {n:,} IMDB reviews (cached for next time)",
          file=sys.stderr)
    texts = {split: [read(path) for path, _ in items] for split, items in files.items()}
    vocab = build_vocab(texts["train"], vocab_size)
    splits = {}
    for split, items in files.items():
        labels = np.array([label for _, label in items], np.int64)
        splits[split] = Split(*encode(texts[split], vocab, max_len, keep), labels,
                              movies(items))
    return Imdb(vocab, splits["train"], splits["test"])


def movies(items):
    """The IMDb title number of each review ``[(path, label)]``, -1 where unknown.

    ``SPLIT/urls_{neg,pos}.txt`` line ``i`` holds the film page of review ``i_RATING.txt``;
    several reviews share a film, and train and test films are disjoint. A copy without
    those files gives -1 throughout.
    """
    urls = {}
    out = np.full(len(items), -1, np.int64)
    for k, (path, label) in enumerate(items):
        path = Path(path)
        listing = path.parent.parent / f"urls_{LABELS[label]}.txt"
        if listing not in urls:
            urls[listing] = listing.read_text(encoding="utf-8").split() if listing.is_file() else []
        line = int(review[1]) if (review := REVIEW.fullmatch(path.name)) else -1
        if 0 <= line < len(urls[listing]) and (m := MOVIE.search(urls[listing][line])):
            out[k] = int(m.group(1))
    return out


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise DataError(f"{path} is not UTF-8 text: {e}") from e


def tokenize(text):
    """The words of ``text`` as a list of str.

    Lowercase; ``<br />`` line breaks become spaces; a token is a run of letters or
    digits (any script), optionally followed by one apostrophe and more letters or
    digits, so ``"Don't"`` gives ``"don't"`` and ``"film's"`` stays one token. Other
    punctuation separates tokens and is dropped: ``"Great!<br />10/10"`` gives
    ``["great", "10", "10"]``.
    """
    return WORD.findall(BREAK.sub(" ", text.lower()))


def build_vocab(texts, vocab_size):
    """``<pad>``, ``<unk>``, then the ``vocab_size - 2`` most frequent tokens of
    ``texts``, most frequent first, ties in alphabetical order.

    ``len(vocab) == vocab_size`` (fewer if the texts have fewer distinct words), so ids
    index an embedding table with ``vocab_size`` rows.
    """
    if vocab_size < 3:
        raise ValueError(f"vocab_size must be at least 3 (pad, unk, a word), got {vocab_size}")
    counts = Counter()
    for text in texts:
        counts.update(tokenize(text))
    ranked = sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))
    return [PAD, UNK] + [word for word, _ in ranked[:vocab_size - 2]]


def encode(texts, vocab, max_len=256, keep="head"):
    """Texts (reviews, or new text for ``minirnn predict``) as ``(tokens, lengths)``.

    ``tokens`` (N, max_len) int32: row i holds the ids of the first (``keep="head"``)
    or last (``keep="tail"``) ``max_len`` tokens of text i in ``[:lengths[i]]`` and 0
    (``<pad>``) after. Words not in ``vocab`` get 1 (``<unk>``). A text without any
    token becomes a single ``<unk>``, so every length (N,) int64 is at least 1.
    """
    check_keep(keep)
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    index = {word: i for i, word in enumerate(vocab)}
    unk = index[UNK]
    tokens = np.zeros((len(texts), max_len), np.int32)
    lengths = np.empty(len(texts), np.int64)
    for i, text in enumerate(texts):
        words = tokenize(text)
        words = (words[:max_len] if keep == "head" else words[-max_len:]) or [UNK]
        tokens[i, :len(words)] = [index.get(word, unk) for word in words]
        lengths[i] = len(words)
    return tokens, lengths


def check_keep(keep):
    if keep not in ("head", "tail"):
        raise ValueError(f"keep must be 'head' or 'tail', got {keep!r}")


# --- the cache of encoded arrays ---------------------------------------------------------

def save_cache(path, imdb):
    """Write ``imdb`` to ``path`` atomically; returns ``imdb``."""
    arrays = {"vocab": np.array(imdb.vocab, dtype=str)}
    for split in SPLITS:
        for field in fields(Split):
            arrays[f"{split}_{field.name}"] = getattr(getattr(imdb, split), field.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda f: np.savez(f, **arrays))
    except OSError as e:                    # e.g. a read-only home in a grader's container
        print(f"could not cache the encoded reviews at {path} ({e}); going on without",
              file=sys.stderr)
    return imdb


def read_cache(path):
    """The Imdb stored at ``path``, or None when absent or unreadable (then rebuilt)."""
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            splits = {s: Split(*(z[f"{s}_{f.name}"] for f in fields(Split)))
                      for s in SPLITS}
            return Imdb(z["vocab"].tolist(), splits["train"], splits["test"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        print(f"ignoring unreadable cache {path} ({e}); rebuilding it", file=sys.stderr)
        return None


# --- batching ----------------------------------------------------------------------------

def validation_split(movies, fraction=0.1, seed=0):
    """``(train_idx, val_idx)``: about a ``fraction`` of the reviews held out, whole films
    at a time, the rest kept; both sorted int64 arrays, the same for the same ``seed``.

    ``movies`` (N,) says which film each review is about (-1: unknown, a group of its
    own). Holding out whole films makes validation like the official test set, whose
    films are all unseen: a random split of reviews scores 2-3 points higher than test.
    A positive ``fraction`` of two reviews or more holds out at least one (an empty
    validation set has no accuracy).
    """
    movies = np.asarray(movies)
    groups = np.where(movies >= 0, movies, -1 - np.arange(len(movies)))
    _, group = np.unique(groups, return_inverse=True)
    order = np.random.default_rng(seed).permutation(group.max() + 1 if len(group) else 0)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    by_rank = np.argsort(rank[group], kind="stable")       # reviews, film after film
    k = int(round(len(movies) * fraction))
    if fraction > 0 and len(movies) > 1:
        k = max(k, 1)
    held = np.zeros(len(movies), bool)
    if k:
        held = rank[group] <= rank[group[by_rank[k - 1]]]   # up to the k-th review's film
    return np.flatnonzero(~held), np.flatnonzero(held)


def bucket_batches(lengths, batch_size, rng, chunk=50):
    """Minibatches of indices whose reviews have similar lengths, in random order.

    The indices are shuffled, cut into chunks of ``chunk * batch_size``, each chunk is
    sorted by length and cut into batches, and the batch order is shuffled. Padding
    per batch shrinks while batches stay random. Every index in ``range(len(lengths))``
    appears exactly once; the result depends only on the state of ``rng``
    (a ``numpy.random.Generator``).
    """
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    batches = []
    for start in range(0, len(order), chunk * batch_size):
        part = order[start:start + chunk * batch_size]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
