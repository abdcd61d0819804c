"""Plain NumPy references, one module per concept, written from the equations
independently of minirnn's kernels. Used by the tests and as the baselines in benchmarks/."""
