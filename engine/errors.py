"""Errors that mean "the user's input is wrong" (exit status 2), not "the code broke"."""


class InputError(Exception):
    """Bad config, data file, CLI flag or checkpoint. The message is one line that names
    the field or file and says how to fix it."""


class ConfigError(InputError):
    pass


class DataError(InputError):
    pass
