"""The mathematics of DEEP, dimensionless (NumPy/SciPy only; imports nothing else of the project)."""
