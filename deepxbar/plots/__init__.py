"""Every drawing of deepxbar, as PNG files; matplotlib's Agg backend is chosen here, once.

``run`` (a training run's folder), ``devices`` (a device preset's response),
``reports`` (the stability, robustness and deploy commands), ``sweep`` (a sweep's curves).
Each function draws to the path it is given; the callers write through
``deepxbar.runs``' atomic writers.
"""
import matplotlib

matplotlib.use("Agg")
