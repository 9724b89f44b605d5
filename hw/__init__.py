"""Hardware layer: device physics, the crossbar and the training controller (built in a later issue)."""
