"""Errors meant for people: each says what was wrong and how to fix it."""


class ZssarError(Exception):
    """Base class of every error zssar raises on purpose."""


class DatasetNotFound(ZssarError):
    """A dataset name is unknown or its files are not where we looked."""


class InvalidData(ZssarError, ValueError):
    """Arrays or files have the wrong shape, type or values (NaN, missing joints...)."""


class InvalidSplit(ZssarError, ValueError):
    """A zero-shot class split is malformed or does not fit the dataset."""


class InvalidConfig(ZssarError, ValueError):
    """A setting has a value that cannot work."""


class CheckpointNotFound(ZssarError, FileNotFoundError):
    """Model weights that must be supplied by the user are missing."""
