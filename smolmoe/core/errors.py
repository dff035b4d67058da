"""The one error type the library raises for bad input; the CLI turns it into a single line."""


class SmolMoEError(Exception):
    """A problem the user can fix (bad path, malformed data, mismatched experts...)."""


class DataError(SmolMoEError):
    """Malformed, empty or wrong-schema data."""


class ConfigError(SmolMoEError):
    """A manifest, merge config or setting that is missing or out of range."""


class ModelError(SmolMoEError):
    """A model directory that is missing, corrupt, or does not match the others."""
