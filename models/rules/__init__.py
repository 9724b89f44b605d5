"""The learning models, one module each (see ``models/model.py``)."""
