"""The desktop app (PySide6). Only this package imports Qt; it drives glimpse.core.library."""
