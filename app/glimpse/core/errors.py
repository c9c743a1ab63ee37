"""Errors a user can cause, each with a message the user can act on.

The CLI prints these without a traceback; the GUI shows them in a dialog or
the status bar. Anything else escaping the core is a bug.
"""


class GlimpseError(Exception):
    """Base for every error a user can cause and fix."""


class ModelLoadError(GlimpseError):
    """A model could not be built or its weights could not be loaded."""


class CatalogError(GlimpseError):
    """The catalog database is unusable (corrupt, newer schema, disk full)."""


class ImageDecodeError(GlimpseError):
    """A file could not be decoded as an image; the message says why."""


class QueryError(GlimpseError):
    """A search query could not be understood."""


class LabelSetError(GlimpseError):
    """A label set file is malformed or cannot be written."""


class EngineUnavailable(GlimpseError):
    """A signal's model cannot run here (a package missing, a model file gone).

    Not a fault of any one photo: a pass stops at once instead of marking every
    photo as unreadable, and runs again once the install is fixed."""
