"""The date generator: every format reads back (with the standard library's strptime)
as the date it was made from; the same seed gives the same data; splits are held out."""
import datetime
import re

import numpy as np
import pytest

from minirnn.data import dates

# the generator's tokens as strptime directives ({d} and {dd} both read as %d, etc.)
STRPTIME = {"A": "%A", "a": "%a", "B": "%B", "b": "%b", "d": "%d", "dd": "%d",
            "m": "%m", "mm": "%m", "Y": "%Y", "y": "%y"}


def strptime_format(fmt):
    return re.sub(r"\{(\w+)\}", lambda m: STRPTIME[m.group(1)], fmt)


@pytest.mark.parametrize("fmt", dates.FORMATS)
def test_every_format_parses_back_to_the_same_date(rng, fmt):
    days = rng.integers(0, (dates.LAST - dates.FIRST).days + 1, 200)
    for day in [0, (dates.LAST - dates.FIRST).days, *days]:        # both ends of the range too
        date = dates.FIRST + datetime.timedelta(days=int(day))
        for case in dates.CASES:
            text = dates.render(date, fmt, case)
            assert datetime.datetime.strptime(text, strptime_format(fmt)).date() == date, text


def test_examples_from_the_docstring():
    may3 = datetime.date(1979, 5, 3)
    assert dates.render(may3, "{d} {B} {Y}") == "3 May 1979"
    assert dates.render(may3, "{A}, {B} {d}, {y}", str.lower) == "thursday, may 3, 79"
    assert dates.render(may3, "{mm}/{dd}/{Y}") == "05/03/1979"


def test_generated_pairs_agree_and_are_seeded():
    pairs = dates.generate(300, np.random.default_rng(7))
    assert pairs == dates.generate(300, np.random.default_rng(7))
    assert pairs != dates.generate(300, np.random.default_rng(8))
    for text, iso in pairs:
        date = datetime.date.fromisoformat(iso)
        assert dates.FIRST <= date <= dates.LAST
        assert any(dates.render(date, f, c) == text for f in dates.FORMATS for c in dates.CASES)


def test_filler_surrounds_the_date_with_words():
    for text, iso in dates.generate(100, np.random.default_rng(1), filler=3):
        date = datetime.date.fromisoformat(iso)
        words = text.split(" ")
        assert any(" ".join(words[i:j]) == dates.render(date, f, c)
                   for i in range(4) for j in range(len(words) - 3, len(words) + 1)
                   for f in dates.FORMATS for c in dates.CASES)


def test_splits_are_held_out_and_encoded():
    train, val, test = dates.load(500, 200, 200, seed=3)
    assert not set(train.texts) & set(test.texts) and not set(train.texts) & set(val.texts)
    assert train.targets.shape == (500, dates.TARGET_LEN) and np.all(train.targets[:, -1] == dates.EOS)
    assert [dates.decode_target(row) for row in test.targets] == test.isos
    for n in (0, 17):
        assert train.lengths[n] == len(train.texts[n]) and np.all(train.inputs[n, train.lengths[n]:] == 0)


def test_unknown_character_is_named():
    with pytest.raises(ValueError, match="character '#'"):
        dates.encode_inputs(["3 may #79"])
