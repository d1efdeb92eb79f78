"""The adapter tests' fixtures come from ``tests/conftest.py`` (``model_data_dir``); this file
puts this directory on ``sys.path``, so the worker tests below it can import
``child_processes``."""
