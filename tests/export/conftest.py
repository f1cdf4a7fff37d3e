"""Export tests use the session's tiny model, its real person crops and its shared exports
(``tiny_model``, ``crop_sets``, ``tiny_export`` in tests/conftest.py)."""
