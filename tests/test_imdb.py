"""IMDB: tokenizer, vocabulary, encoding, the cache, batching, and safe fetching."""
import hashlib
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

from minirnn import data
from minirnn.data import imdb

SAMPLE = data.SHIPPED / "imdb-sample"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A private, empty cache for every test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "minirnn" / "imdb"


def make_tree(root, reviews):
    """An aclImdb folder under ``root`` from {"train/pos": [text, ...], ...}."""
    for split in imdb.SPLITS:
        for label in imdb.LABELS:
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i, text in enumerate(reviews.get(f"{split}/{label}", ["filler"])):
                (folder / f"{i}_5.txt").write_text(text, encoding="utf-8")
    return root


def test_tokenize_lowercases_splits_and_keeps_apostrophes():
    assert imdb.tokenize("Great FILM!<br /><br />10/10") == ["great", "film", "10", "10"]
    assert imdb.tokenize("I didn't like the film's end.") == \
        ["i", "didn't", "like", "the", "film's", "end"]
    assert imdb.tokenize("well...ok, (sort-of) 'quoted'") == \
        ["well", "ok", "sort", "of", "quoted"]
    assert imdb.tokenize("Amélie<br/>x_y") == ["amélie", "x", "y"]
    assert imdb.tokenize("!!! <br />") == []


def test_vocabulary_from_train_only_by_frequency_then_alphabet(tmp_path):
    make_tree(tmp_path, {"train/pos": ["b b a c"], "train/neg": ["a d"],
                         "test/pos": ["zebra a"], "test/neg": ["d"]})
    d = imdb.load(tmp_path, vocab_size=100, max_len=4)
    assert d.vocab == ["<pad>", "<unk>", "a", "b", "c", "d"]            # a, b: 2; c, d: 1
    assert d.train.tokens.tolist() == [[2, 5, 0, 0], [3, 3, 2, 4]]      # neg, then pos
    assert d.train.labels.tolist() == [0, 1]
    assert d.test.tokens.tolist() == [[5, 0, 0, 0], [1, 2, 0, 0]]       # zebra -> <unk>
    small = imdb.load(tmp_path, vocab_size=4, max_len=4)
    assert small.vocab == ["<pad>", "<unk>", "a", "b"]
    assert small.train.tokens.tolist() == [[2, 1, 0, 0], [3, 3, 2, 1]]


def test_encode_truncates_head_or_tail_and_pads_with_zeros():
    vocab = ["<pad>", "<unk>", "a", "b", "c"]
    texts = ["a b c a b", "c", "?!", "a zzz"]
    tokens, lengths = imdb.encode(texts, vocab, max_len=3)
    assert tokens.dtype == np.int32 and tokens.shape == (4, 3)
    assert lengths.dtype == np.int64 and lengths.tolist() == [3, 1, 1, 2]
    assert tokens.tolist() == [[2, 3, 4], [4, 0, 0], [1, 0, 0], [2, 1, 0]]
    tail, tail_lengths = imdb.encode(texts, vocab, max_len=3, keep="tail")
    assert tail.tolist() == [[4, 2, 3], [4, 0, 0], [1, 0, 0], [2, 1, 0]]
    assert tail_lengths.tolist() == [3, 1, 1, 2]
    with pytest.raises(ValueError, match="keep"):
        imdb.encode(texts, vocab, keep="middle")


def test_shipped_sample_loads_and_is_the_verified_excerpt():
    for line in (SAMPLE / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert data.sha256(SAMPLE / name) == digest, name
    d = imdb.load(SAMPLE, vocab_size=1000, max_len=64)
    for split in (d.train, d.test):
        assert len(split) == 100 and split.labels.tolist() == [0] * 50 + [1] * 50
        assert split.tokens.shape == (100, 64) and split.lengths.min() >= 1
        padding = np.arange(64) >= split.lengths[:, None]
        assert (split.tokens[padding] == 0).all() and (split.tokens[~padding] > 0).all()
    assert len(d.vocab) == 1000 and d.vocab[:4] == ["<pad>", "<unk>", "the", "a"]
    first_pos = (SAMPLE / "aclImdb/train/pos/0_9.txt").read_text(encoding="utf-8")
    assert first_pos.startswith("Bromwell High is a cartoon comedy")
    assert np.array_equal(d.train.tokens[50], imdb.encode([first_pos], d.vocab, 64)[0][0])


def test_cache_hit_returns_identical_arrays_and_a_new_setting_misses(cache, capsys):
    first = imdb.load(SAMPLE, vocab_size=500, max_len=32)
    assert "reading and tokenizing 200 IMDB reviews" in capsys.readouterr().err
    again = imdb.load(SAMPLE, vocab_size=500, max_len=32)
    assert capsys.readouterr().err == ""                      # nothing read again
    assert again.vocab == first.vocab
    for split in ("train", "test"):
        for field in ("tokens", "lengths", "labels"):
            a, b = getattr(getattr(first, split), field), getattr(getattr(again, split), field)
            assert a.dtype == b.dtype and np.array_equal(a, b)
    assert len(list(cache.glob("*.npz"))) == 1
    imdb.load(SAMPLE, vocab_size=500, max_len=32, keep="tail")
    imdb.load(SAMPLE, vocab_size=400, max_len=32)
    assert len(list(cache.glob("*.npz"))) == 3
    assert not list(cache.glob("*.part"))


def test_a_changed_copy_misses_the_cache(tmp_path):
    root = make_tree(tmp_path, {"train/pos": ["good", "fine"], "train/neg": ["bad"]})
    assert imdb.load(tmp_path, vocab_size=50, max_len=4).train.labels.tolist() == [0, 1, 1]
    acl = tmp_path / "aclImdb" / "train"
    os.rename(acl / "pos" / "1_5.txt", acl / "neg" / "1_5.txt")   # same size and mtime
    assert imdb.load(root, vocab_size=50, max_len=4).train.labels.tolist() == [0, 0, 1]
    (acl / "urls_neg.txt").write_text("http://www.imdb.com/title/tt0000042/usercomments\n")
    assert imdb.load(root, vocab_size=50, max_len=4).train.movies.tolist() == [42, -1, -1]


def test_an_empty_class_folder_is_an_error_not_one_class(tmp_path):
    make_tree(tmp_path, {})
    (tmp_path / "aclImdb" / "train" / "neg" / "0_5.txt").unlink()
    with pytest.raises(data.DataError, match=r"no reviews .*/train/neg:"):
        imdb.load(tmp_path)


def test_a_review_named_otherwise_is_read_with_its_film_unknown(tmp_path):
    make_tree(tmp_path, {})
    (tmp_path / "aclImdb" / "train" / "pos" / "extra.txt").write_text("more filler")
    train = imdb.load(tmp_path, vocab_size=50, max_len=4).train
    assert train.labels.tolist() == [0, 1, 1] and train.movies.tolist() == [-1, -1, -1]


def test_a_cache_that_cannot_be_written_is_skipped(cache, monkeypatch, capsys):
    def refuse(path, write):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(imdb, "write_atomic", refuse)
    d = imdb.load(SAMPLE, vocab_size=300, max_len=16)
    assert "could not cache" in capsys.readouterr().err
    assert len(d.train) == 100 and not list(cache.glob("*.npz"))


@pytest.mark.parametrize("junk", [b"not a zip", b"PK\x03\x04 truncated"])
def test_a_corrupt_cache_file_is_rebuilt(cache, capsys, junk):
    good = imdb.load(SAMPLE, vocab_size=300, max_len=16)
    [path] = cache.glob("*.npz")
    path.write_bytes(junk)
    capsys.readouterr()
    rebuilt = imdb.load(SAMPLE, vocab_size=300, max_len=16)
    assert "ignoring unreadable cache" in capsys.readouterr().err
    assert rebuilt.vocab == good.vocab
    assert np.array_equal(rebuilt.train.tokens, good.train.tokens)
    with np.load(path) as z:                                  # written again
        assert z["train_tokens"].shape == (100, 16)


def test_validation_split_is_disjoint_covering_and_deterministic():
    unknown = np.full(1000, -1)                               # every review its own group
    train, val = imdb.validation_split(unknown, 0.2, seed=3)
    assert len(val) == 200 and len(train) == 800
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(1000))
    again = imdb.validation_split(unknown, 0.2, seed=3)
    assert np.array_equal(train, again[0]) and np.array_equal(val, again[1])
    assert not np.array_equal(val, imdb.validation_split(unknown, 0.2, seed=4)[1])
    d = imdb.load(SAMPLE, vocab_size=100, max_len=8)
    part = d.train.take(val[val < 100])
    assert np.array_equal(part.labels, d.train.labels[val[val < 100]])


@pytest.mark.parametrize("n, fraction, held", [(4, 0.1, 1), (2, 0.2, 1), (1, 0.5, 0),
                                               (4, 0.0, 0), (30, 0.1, 3)])
def test_validation_split_of_a_few_reviews_holds_out_one_at_least(n, fraction, held):
    assert len(imdb.validation_split(np.full(n, -1), fraction)[1]) == held


def test_validation_split_holds_out_whole_films(rng):
    movies = rng.integers(0, 300, 5000)                       # ~17 reviews per film
    train, val = imdb.validation_split(movies, 0.1, seed=0)
    assert not set(movies[train]) & set(movies[val])
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(5000))
    assert 500 <= len(val) < 500 + np.bincount(movies).max()  # the last film is finished


def test_bucket_batches_cover_every_index_once_with_similar_lengths(rng):
    lengths = rng.integers(10, 1000, size=10_000)
    batches = imdb.bucket_batches(lengths, 32, np.random.default_rng(7))
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(10_000))
    assert sum(len(b) < 32 for b in batches) == 1             # only the very last is short

    def ratio(batch):
        return lengths[batch].max() / lengths[batch].min()
    random_batches = np.array_split(rng.permutation(10_000), len(batches))
    assert np.median([ratio(b) for b in batches]) < 1.2
    assert np.median([ratio(b) for b in random_batches]) > 5
    again = imdb.bucket_batches(lengths, 32, np.random.default_rng(7))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    other = imdb.bucket_batches(lengths, 32, np.random.default_rng(8))
    assert not np.array_equal(batches[0], other[0])


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No shipped copy, an empty cache, an empty data dir."""
    monkeypatch.setattr(data, "SHIPPED", tmp_path / "shipped")
    monkeypatch.delenv("MINIRNN_DATA", raising=False)
    (tmp_path / "mine").mkdir()
    return tmp_path


def test_missing_data_says_where_it_looked_and_what_to_do(nowhere, cache):
    with pytest.raises(data.DataError) as e:
        imdb.load(nowhere / "mine", download=False)
    message = str(e.value)
    assert str(nowhere / "mine" / "aclImdb") in message
    assert str(nowhere / "mine" / "imdb" / "aclImdb") in message
    assert str(cache / "aclImdb") in message
    assert "MINIRNN_DATA" in message and "--data-dir" in message and imdb.URL in message


def test_data_dir_may_name_the_aclimdb_folder_itself(nowhere, cache):
    make_tree(nowhere / "mine", {})
    assert imdb.find(nowhere / "mine" / "aclImdb", download=False) == nowhere / "mine" / "aclImdb"


def test_an_incomplete_folder_names_what_is_missing(nowhere):
    (nowhere / "mine" / "aclImdb" / "train" / "pos").mkdir(parents=True)
    (nowhere / "mine" / "aclImdb" / "test" / "neg").mkdir(parents=True)
    with pytest.raises(data.DataError, match="missing train/neg, test/pos"):
        imdb.load(nowhere / "mine", download=False)


def write_tar(path, members):
    """A .tar.gz from (TarInfo fields, bytes or None) pairs."""
    with tarfile.open(path, "w:gz") as tar:
        for fields, content in members:
            info = tarfile.TarInfo()
            for key, value in fields.items():
                setattr(info, key, value)
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return path


def aclimdb_members():
    """A complete miniature aclImdb tree, two reviews per folder."""
    members = [({"name": "aclImdb/README"}, b"readme\n")]
    for split in imdb.SPLITS:
        for label in imdb.LABELS:
            for i in range(2):
                text = f"{split} {label} review {i}<br />".encode()
                members.append(({"name": f"aclImdb/{split}/{label}/{i}_5.txt"}, text))
    return members


@pytest.mark.parametrize("bad", [
    ({"name": "aclImdb/../../evil.txt"}, b"x"),
    ({"name": "/tmp/minirnn-evil.txt"}, b"x"),
    ({"name": "aclImdb/link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, None),
    ({"name": "aclImdb/hard", "type": tarfile.LNKTYPE, "linkname": "aclImdb/README"}, None),
    ({"name": "aclImdb/dev", "type": tarfile.CHRTYPE}, None),
], ids=["dotdot", "absolute", "symlink", "hardlink", "device"])
def test_unsafe_tar_members_are_refused_before_anything_is_written(tmp_path, bad):
    archive = write_tar(tmp_path / "a.tar.gz", aclimdb_members() + [bad])
    dest = tmp_path / "out" / "imdb"
    with pytest.raises(data.DataError, match="refusing unsafe member") as e:
        imdb.safe_extract(archive, dest)
    assert repr(bad[0]["name"]) in str(e.value)
    assert os.listdir(dest) == []                              # no partial tree, no temp
    assert not (tmp_path / "evil.txt").exists()


def test_a_safe_archive_unpacks_into_place(tmp_path):
    archive = write_tar(tmp_path / "a.tar.gz", aclimdb_members())
    imdb.safe_extract(archive, tmp_path / "imdb")
    assert os.listdir(tmp_path / "imdb") == ["aclImdb"]
    assert (tmp_path / "imdb/aclImdb/test/pos/1_5.txt").read_text() == \
        "test pos review 1<br />"


def test_download_checks_unpacks_and_loads(nowhere, cache, monkeypatch):
    archive = write_tar(nowhere / "aclImdb_v1.tar.gz", aclimdb_members())
    monkeypatch.setattr(imdb, "URL", archive.as_uri())
    monkeypatch.setattr(imdb, "SHA256", hashlib.sha256(archive.read_bytes()).hexdigest())
    d = imdb.load(download=True, vocab_size=50, max_len=5)
    assert (cache / "aclImdb_v1.tar.gz").is_file() and (cache / "aclImdb" / "README").is_file()
    assert d.vocab == ["<pad>", "<unk>", "review", "train", "0", "1", "neg", "pos"]
    assert d.test.tokens.tolist()[0] == [1, 6, 2, 4, 0]       # "test neg review 0"
    assert imdb.find(download=False) == cache / "aclImdb"      # found there next time
    monkeypatch.setattr(imdb, "SHA256", "0" * 64)
    with pytest.raises(data.DataError, match="corrupt"):
        imdb.download_archive(cache)


@pytest.mark.skipif(not (SHARED / "imdb" / "aclImdb").is_dir(), reason="no ../shared/datasets")
def test_the_full_shared_copy_is_found_and_complete(monkeypatch):
    # Counts by listing: tokenizing all 50,000 reviews takes about 15 s.
    monkeypatch.setenv("MINIRNN_DATA", str(SHARED))
    root = imdb.find(download=False)
    assert root == SHARED / "imdb" / "aclImdb"
    for split in imdb.SPLITS:
        labels = np.array([label for _, label in imdb.review_files(root, split)])
        assert len(labels) == 25_000 and labels.sum() == 12_500
    for line in (SAMPLE / "SHA256SUMS").read_text().splitlines():
        _, name = line.split()
        assert (SAMPLE / name).read_bytes() == (SHARED / "imdb" / name).read_bytes()
    # every review's film is known; the README promises disjoint films, and all but one
    # (tt0406816) of the 3,456 train and 3,581 test films are
    films = {split: imdb.movies(imdb.review_files(root, split)) for split in imdb.SPLITS}
    assert all((f >= 0).all() for f in films.values())
    assert len(set(films["train"])) == 3456 and len(set(films["test"])) == 3581
    assert set(films["train"]) & set(films["test"]) == {406816}
