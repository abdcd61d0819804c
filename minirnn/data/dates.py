"""Synthetic translation data (``docs/seq2seq.rst``): dates as people write them, to ISO 8601.

    "3 May 1979", "tuesday, may 3, 79", "05/03/1979", "THU 03 MAY 1979"  ->  "1979-05-03"

Generated from a seed, so nothing is downloaded: a date is drawn uniformly from
1969-01-01 .. 2068-12-31, a format from ``FORMATS`` and a letter case. Each input
names one date: two-digit years are read as POSIX ``strptime`` reads ``%y`` (69-99 ->
19xx, 00-68 -> 20xx), which is why the range is that century; slashes always put the
month first (US), dots the day first (European). The tokens of a format mirror
``strftime``'s directives: {A} weekday, {a} its first three letters, {B} month, {b}
its first three letters, {d}/{dd} day without/with a leading zero, {m}/{mm} month
number, {Y} four-digit and {y} two-digit year.

The ``dates-long`` variant wraps each date in up to ``FILLER_MAX`` filler words on
each side ("please note the deadline 3 may 79 thanks"): longer inputs with the same
answer, to measure how a fixed-size summary copes with length.
"""
import datetime

import numpy as np

FORMATS = (
    "{d} {B} {Y}",                  # 3 May 1979
    "{A}, {B} {d}, {y}",            # Thursday, May 3, 79
    "{mm}/{dd}/{Y}",                # 05/03/1979
    "{dd}.{mm}.{Y}",                # 03.05.1979
    "{Y}-{mm}-{dd}",                # 1979-05-03
    "{b} {d}, {Y}",                 # May 3, 1979
    "{d} {b} {y}",                  # 3 May 79
    "{A} {d} {B} {Y}",              # Thursday 3 May 1979
    "{m}/{d}/{y}",                  # 5/3/79
    "{a} {dd} {b} {Y}",             # Thu 03 May 1979
    "{B} {d} {Y}",                  # May 3 1979
    "{d}.{m}.{y}",                  # 3.5.79
    "{A} the {d} of {B} {Y}",       # Thursday the 3 of May 1979
)
CASES = (str, str.lower, str.upper)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
FIRST, LAST = datetime.date(1969, 1, 1), datetime.date(2068, 12, 31)
FILLER = ("please", "note", "the", "deadline", "is", "meeting", "moved", "to", "on", "due",
          "by", "noon", "thanks", "call", "me", "before", "after", "lunch", "see", "you")
FILLER_MAX = 6

PAD = 0
INPUT_CHARS = " ,./-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
BOS, EOS = 0, 1
OUTPUT_CHARS = "0123456789-"
OUTPUT_VOCAB = ("<s>", "</s>", *OUTPUT_CHARS)
TARGET_LEN = 11                     # "YYYY-MM-DD" and </s>
_IN = {c: i + 1 for i, c in enumerate(INPUT_CHARS)}
_OUT = {c: i + 2 for i, c in enumerate(OUTPUT_CHARS)}


def render(date, fmt, case=str):
    """``date`` (datetime.date) written in format ``fmt`` of FORMATS, then ``case``."""
    weekday, month = WEEKDAYS[date.weekday()], MONTHS[date.month - 1]
    text = fmt.format(A=weekday, a=weekday[:3], B=month, b=month[:3], d=date.day,
                      dd=f"{date.day:02d}", m=date.month, mm=f"{date.month:02d}",
                      Y=date.year, y=f"{date.year % 100:02d}")
    return case(text)


def generate(n, rng, filler=0):
    """n (input, ISO date) pairs drawn with ``rng`` (np.random.Generator); ``filler``
    words at most on each side of the date."""
    days = rng.integers(0, (LAST - FIRST).days + 1, n)
    fmts, cases = rng.integers(0, len(FORMATS), n), rng.integers(0, len(CASES), n)
    pairs = []
    for day, f, c in zip(days, fmts, cases):
        date = FIRST + datetime.timedelta(days=int(day))
        words = [render(date, FORMATS[f], CASES[c])]
        if filler:
            before, after = rng.integers(0, filler + 1, 2)
            words = list(rng.choice(FILLER, before)) + words + list(rng.choice(FILLER, after))
        pairs.append((" ".join(words), date.isoformat()))
    return pairs


def encode_inputs(texts):
    """Texts -> ids (N, longest) padded with PAD, lengths (N,). An unknown character
    raises ValueError naming it."""
    lengths = np.array([len(t) for t in texts], np.int64)
    ids = np.full((len(texts), max(lengths.max(initial=0), 1)), PAD, np.int64)
    for n, text in enumerate(texts):
        for t, c in enumerate(text):
            if c not in _IN:
                raise ValueError(f"input {text!r}: character {c!r} is not in the input "
                                 f"alphabet (letters, digits, space and {' ,./-'!r})")
            ids[n, t] = _IN[c]
    return ids, lengths


def encode_targets(isos):
    """ISO dates -> ids (N, TARGET_LEN): the characters, then </s>."""
    return np.array([[_OUT[c] for c in iso] + [EOS] for iso in isos], np.int64)


def decode_target(ids):
    """Output ids -> text, up to the first </s> (<s> is never emitted)."""
    text = []
    for i in ids:
        if i == EOS:
            break
        text.append(OUTPUT_VOCAB[i] if i >= 2 else "?")
    return "".join(text)


class Split:
    """One split: input ids (N, T), lengths (N,), target ids (N, TARGET_LEN), raw texts."""

    def __init__(self, pairs):
        self.texts, self.isos = [p[0] for p in pairs], [p[1] for p in pairs]
        self.inputs, self.lengths = encode_inputs(self.texts)
        self.targets = encode_targets(self.isos)

    def __len__(self):
        return len(self.texts)


def load(train_size, val_size, test_size, seed=0, filler=0):
    """Train, validation and test splits drawn from ``seed``; inputs seen in training
    are dropped from the other two, so they are held out."""
    rng = np.random.default_rng([seed, filler])
    train = generate(train_size, rng, filler)
    seen = {text for text, _ in train}
    val, test = ([p for p in generate(size, rng, filler) if p[0] not in seen]
                 for size in (val_size, test_size))
    return Split(train), Split(val), Split(test)
