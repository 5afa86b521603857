"""Errors a user can fix. Their message is one line that names the problem and the fix."""


class VcamError(Exception):
    """Base of the errors that the command line reports as one line with exit status 2."""


class UnknownChoice(VcamError, ValueError):
    """A setting given a value outside its choices (a ValueError too, for callers that are not the CLI)."""


class ModelFileError(VcamError):
    """A weights file that is missing or is not a usable model."""


class MediaError(VcamError):
    """An input or output image or video that cannot be used."""
