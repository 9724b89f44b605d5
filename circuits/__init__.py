"""Circuit realisations: Brian2 behavioural model and SPICE netlists (built in a later issue)."""
