"""Batches for the tasks whose examples have different lengths (sentiment, seq2seq).

What ``minirnn.train`` asks of a task's batches (a function of (epoch, i) alone),
with examples of similar length grouped so that little time goes to padding.
"""
import numpy as np

from ..data.imdb import bucket_batches


class LengthBucketed:
    """The batch methods of a task (base class): a task with ``self.s`` (settings with
    batch_size and split_seed), ``self.train`` (a split with ``lengths``) and
    ``batch_of(split, idx)`` gets ``num_batches``, ``batch`` and ``initial_state``.

    An epoch's batches come from ``bucket_batches`` with the generator
    ``default_rng([split_seed, epoch])``: reshuffled every epoch, the same on resume,
    and made once per epoch."""

    _batches_epoch, _batches = None, None

    def _epoch_batches(self, epoch):
        if self._batches_epoch != epoch:
            rng = np.random.default_rng([self.s.split_seed, epoch])
            self._batches = bucket_batches(self.train.lengths, self.s.batch_size, rng)
            self._batches_epoch = epoch
        return self._batches

    def num_batches(self, epoch):
        return len(self._epoch_batches(epoch))

    def batch(self, epoch, i):
        return self.batch_of(self.train, self._epoch_batches(epoch)[i])

    def initial_state(self):
        return {}                                  # nothing is carried between batches


def time_major(ids, lengths, idx):
    """Rows ``idx`` of ids (N, T) as (T', B), cut to the longest of them, and their lengths."""
    lengths = lengths[idx]
    return np.ascontiguousarray(ids[idx, :max(int(lengths.max()), 1)].T), lengths
