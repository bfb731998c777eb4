"""The errors recsys reports to users as one line and a non-zero exit code."""


class RecsysError(Exception):
    """An error with a message that is meant for the user, as it is."""

    exit_code = 1


class ConfigError(RecsysError):
    """A bad config key or value (exit code 2, like a usage error)."""

    exit_code = 2


class DataError(RecsysError):
    """Bad input data: names the file, the column and, where it applies, the row."""

    exit_code = 1


class StageInputError(RecsysError):
    """A stage's input is missing: an earlier stage has not run."""

    exit_code = 1


class TooLarge(RecsysError):
    """A model cannot fit this data within its configured budget (a hybrid leaves such a component out)."""

    exit_code = 1
