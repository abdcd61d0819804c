"""Runnable tasks: which (model, data set) pairs ``minirnn run`` knows and how to build them.

A task module holds a ``Settings`` dataclass and ``build(settings, data_dir)``. What
``build`` returns is either a gradient-trained task for ``minirnn.train`` (see its
docstring) or, for models fitted by EM or in closed form, an object with
``fit(seed, out, log) -> metrics``.
"""
from dataclasses import fields

from . import charlm, forecast, gcn, hmm_tasks, sentiment, seq2seq, tracking

MODELS = {"hmm": "hidden Markov model, fitted by Baum-Welch (minirnn.hmm)",
          "lds": "linear dynamical system, Kalman filter and smoother (minirnn.lds)",
          "elman": "Elman RNN (minirnn.elman)",
          "lstm": "long short-term memory (minirnn.lstm)",
          "gru": "gated recurrent unit (minirnn.gru)",
          "esn": "echo state network (minirnn.esn)",
          "ar": "linear autoregressive model AR(p) (minirnn.ar)",
          "seq2seq": "BiGRU encoder, GRU decoder with attention (minirnn.attention)",
          "gcn": "graph convolutional network (minirnn.gcn)",
          }
DATASETS = {"casino": "the dishonest casino: die rolls generated from the seed (HMM)",
            "faithful": "Old Faithful, 272 eruption durations (Gaussian HMM)",
            "tracking": "a 2-D constant-velocity target drawn from the seed (Kalman filter)",
            **{name: what for name, (what, *_) in forecast.SERIES.items()},
            "shakespeare": "Tiny Shakespeare, 1.1M characters (character language model)",
            "imdb": "IMDB movie reviews, 25k train / 25k test (sentiment)",
            "dates": "written dates -> ISO 8601, generated from a seed (translation)",
            "dates-long": "the same dates among filler words, inputs up to ~100 characters",
            "cora": "Cora citation graph, 2708 papers, Planetoid split (node classification)",
            }
TASKS = {("hmm", "casino"): hmm_tasks,
         ("hmm", "faithful"): hmm_tasks,
         ("lds", "tracking"): tracking,
         **{(model, data): forecast for model in ("esn", "ar") for data in forecast.SERIES},
         ("elman", "shakespeare"): charlm,
         ("lstm", "imdb"): sentiment,
         ("gru", "imdb"): sentiment,
         ("elman", "imdb"): sentiment,
         ("seq2seq", "dates"): seq2seq,
         ("seq2seq", "dates-long"): seq2seq,
         ("gcn", "cora"): gcn,
         }
TRAINED = (charlm, sentiment, seq2seq)  # by minirnn.train's loop; the rest are fitted (EM, ...)
SAMPLED = (charlm,)                     # draw text from the trained model (--sample-length)


def _settings(module, given, task):
    """The task's Settings from the options given; an option it has no use for is an error."""
    names = {f.name for f in fields(module.Settings)}
    unused = sorted(k for k in given if k not in names)
    if unused:
        raise KeyError(f"option(s) {', '.join('--' + k.replace('_', '-') for k in unused)} "
                       f"do not apply to {task}")
    return module.Settings(**given)


def lookup(model, data):
    """The task module of ``minirnn run MODEL --data DATA``; KeyError lists the pairs."""
    if (model, data) not in TASKS:
        pairs = ", ".join(f"{m} --data {d}" for m, d in TASKS)
        raise KeyError(f"no task for model {model!r} with data {data!r}; available: {pairs}")
    return TASKS[model, data]


def build(model, data, given, data_dir=None):
    """The task object for ``minirnn run MODEL --data DATA`` with options ``given``."""
    module = lookup(model, data)
    names = {f.name for f in fields(module.Settings)}
    given = {**given, **{k: v for k, v in (("model", model), ("data", data)) if k in names}}
    return module.build(_settings(module, given, f"{model} --data {data}"), data_dir)


def module_of(meta):
    """The task module whose task wrote a checkpoint's meta."""
    module = {m.__name__.rpartition(".")[2]: m for m in TRAINED}.get(meta.get("task"))
    if module is None:
        raise ValueError(f"checkpoint of unknown task {meta.get('task')!r}")
    return module


def saved_options(meta):
    """The options a checkpoint's task was built with (its Settings), from its meta; a
    setting newer than the checkpoint is left out, to take its default."""
    return {f.name: meta[f.name] for f in fields(module_of(meta).Settings) if f.name in meta}


def from_meta(meta):
    """Rebuild a task (without its data) from a checkpoint's meta, to sample or predict."""
    module = module_of(meta)
    settings = module.Settings(**saved_options(meta))
    if module is seq2seq:                      # its data is generated, not a vocabulary
        return seq2seq.Seq2Seq(settings)
    task_class = charlm.CharLM if module is charlm else sentiment.Sentiment
    return task_class(settings, meta["vocab"])
