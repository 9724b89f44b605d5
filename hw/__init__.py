"""Hardware layer: device physics, the crossbar with its wires, the training controller,
deployment on fresh chips and the Monte-Carlo stability report."""
