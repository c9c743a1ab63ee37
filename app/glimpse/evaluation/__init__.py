"""Known-item evaluation: label sets, labeling sessions, metrics, the eval runner, plots.

Depends on `glimpse.core` and never the reverse; never imports Qt, so the CLI,
the GUI and the tests all run it the same way.
"""
