"""Circuit realisations: the physical conventions, the Brian2 behavioural model, SPICE
decks run by ngspice (subprocess or PySpice in process), the engine registry and the
energy and latency report."""
