"""Errors raised by paramdelta: one class per kind of failure, each carrying
where it happened (file, tensor, field), the keyword argument it is about
(option), and what to do about it (hint).

``str(error)`` is the line the command line prints after ``paramdelta:
error:``, with options named as this package's keyword arguments
(``vocab_mismatch='overlap'``) where the command line names its flags
(``--vocab-mismatch overlap``).
"""

from __future__ import annotations

from typing import TypeVar


class Error(Exception):
    """Base class of every error paramdelta raises."""

    kind = "internal"

    def __init__(
        self,
        line: str,
        *,
        message: str = "",
        file: str = "",
        tensor: str = "",
        field: str = "",
        hint: str = "",
        option: str = "",
    ) -> None:
        super().__init__(line)
        self.message = message or line
        self.file = file
        self.tensor = tensor
        self.field = field
        self.hint = hint
        #: The keyword argument the error is about ("scale", "delta_dtype"), or "".
        self.option = option


class UsageError(Error, ValueError):
    """An option has an impossible value, or an input is missing."""

    kind = "usage"


class InvalidInputError(Error, ValueError):
    """An input file breaks its format's rules."""

    kind = "invalid_input"


class MismatchError(Error, ValueError):
    """Inputs are each valid but do not fit together (names, shapes, dtypes)."""

    kind = "mismatch"


class NonFiniteError(Error, ValueError):
    """NaN or infinity where finite values are required."""

    kind = "non_finite"


class IoError(Error):
    """The operating system refused a read, write or rename."""

    kind = "io"


class ExistsError(Error):
    """The output exists and ``force`` was not given."""

    kind = "exists"


class NotFoundError(Error, LookupError):
    """An input path, or a tensor name, does not exist."""

    kind = "not_found"


class CancelledError(Error):
    """The operation was stopped before it finished; it left no output."""

    kind = "cancelled"


class InternalError(Error):
    """A bug in paramdelta: please report it."""

    kind = "internal"


_BY_KIND: dict[str, type[Error]] = {
    cls.kind: cls
    for cls in (
        UsageError,
        InvalidInputError,
        MismatchError,
        NonFiniteError,
        IoError,
        ExistsError,
        NotFoundError,
        CancelledError,
        InternalError,
    )
}


def _from_core(
    kind: str, line: str, message: str, file: str, tensor: str, field: str, hint: str, option: str = ""
) -> Error:
    """Builds the exception for a library error (called by the extension module)."""
    cls = _BY_KIND.get(kind, InternalError)
    return cls(line, message=message, file=file, tensor=tensor, field=field, hint=hint, option=option)


E = TypeVar("E", bound=Error)


def _make(cls: type[E], message: str, **where: str) -> E:
    """An error raised by the Python layer, worded as the library words its own:
    ``where`` holds the constructor's file, tensor, field, hint and option (the
    keyword argument that a message about one names)."""
    line = ""
    if where.get("file"):
        line += f"{where['file']}: "
    if where.get("tensor"):
        line += f"tensor '{where['tensor']}': "
    if where.get("field"):
        line += f"field '{where['field']}': "
    hint = where.get("hint", "")
    line += message + (f" ({hint})" if hint else "")
    return cls(line, message=message, **where)
