"""Runnable tasks: which (model, data set) pairs ``minirnn run`` knows and how to build them."""
from ..data import shakespeare
from .charlm import CharLM, Settings

MODELS = {"elman": "Elman RNN (minirnn.elman)"}
DATASETS = {"shakespeare": "Tiny Shakespeare, 1.1M characters (character language model)"}
TASKS = {("elman", "shakespeare"): "charlm"}


def build(model, data, settings, data_dir=None):
    """The task object for ``minirnn run MODEL --data DATA``."""
    if (model, data) not in TASKS:
        pairs = ", ".join(f"{m} --data {d}" for m, d in TASKS)
        raise KeyError(f"no task for model {model!r} with data {data!r}; available: {pairs}")
    return CharLM.from_text(shakespeare.load(data_dir), settings)


def from_meta(meta):
    """Rebuild a task (without its training data) from a checkpoint's meta, for sampling."""
    if meta.get("task") != "charlm":
        raise ValueError(f"checkpoint task {meta.get('task')!r} cannot be sampled from")
    fields = {k: meta[k] for k in Settings.__dataclass_fields__}
    return CharLM(Settings(**fields), meta["vocab"])
