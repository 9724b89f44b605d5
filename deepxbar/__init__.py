"""deepxbar: train DEEP networks on simulated analog resistive crossbars (the application layer)."""

__version__ = "0.1.0"
