"""The mathematics of DEEP, dimensionless: fields, the learning models (one file each in
``rules/``), settling (NumPy, SciPy and Numba), training and judging. Imports nothing else
of the project."""
