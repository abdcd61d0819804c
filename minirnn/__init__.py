"""minirnn: sequence and graph models from scratch, one readable module per concept.

Concept modules: ``elman``. Shared pieces: ``layers``, ``optim``, ``gradcheck``,
``train``. Numba kernels: ``minirnn.kernels``. Command line: ``minirnn --help``.
"""
__version__ = "0.1.0"
