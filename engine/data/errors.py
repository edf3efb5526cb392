"""The one error type of the data side: bad input that a person has to fix."""
from __future__ import annotations


class DataError(ValueError):
    """Bad input data, saying where: ``file``, ``line`` (1-based in the file, header included)
    and ``column`` (its name), each ``None`` when it does not apply.

    The message starts with the place — ``iris.csv, line 7, column 'petal': 'x' is not a
    number`` — so the GUI can show it as it is.
    """

    def __init__(self, message: str, file=None, line: int | None = None,
                 column: str | None = None):
        where = str(file) if file is not None else ""
        if line is not None:
            where += f", line {line}" if where else f"line {line}"
        if column is not None:
            where += f", column {column!r}" if where else f"column {column!r}"
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.line, self.column = file, line, column
        self.reason = message
