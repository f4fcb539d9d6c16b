"""Errors the engine raises to its callers. Each docstring is the default message."""

from __future__ import annotations

from typing import Any


class PathwaysError(Exception):
    """Something went wrong in Permanence Pathways."""

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        self.details = details

    @property
    def message(self) -> str:
        return str(self.args[0])


class NotFound(PathwaysError):
    """Not found."""


class InvalidInput(PathwaysError):
    """The input is not valid."""


class FormInvalid(InvalidInput):
    """Some answers need correcting."""

    def __init__(self, errors: dict[str, str], data: dict[str, Any],
                 boxes: dict[str, tuple[str, ...]] | None = None) -> None:  # fmt: skip
        summary = "; ".join(f"{field}: {text}" for field, text in errors.items())
        super().__init__(f"Some answers need correcting: {summary}", errors=errors, data=data)
        self.errors = errors
        self.data = data
        self.boxes = boxes or {}  # date fields: the boxes (day, month, year) that are wrong


class Conflict(PathwaysError):
    """Someone else changed this case first. Reload it and try again: nothing you entered is lost."""


class NotAllowed(PathwaysError):
    """That action is not allowed now."""


class GateClosed(NotAllowed):
    """This step cannot be completed yet."""


class DefinitionInvalid(PathwaysError):
    """The diagram is not valid."""


class UnsafeExpression(DefinitionInvalid):
    """The expression uses something diagrams may not use."""


class BudgetExceeded(PathwaysError):
    """A diagram expression ran out of its time or memory budget."""


class ExpressionTimeout(BudgetExceeded, TimeoutError):
    """A diagram expression ran out of its CPU time budget."""


class ExpressionMemory(BudgetExceeded, MemoryError):
    """A diagram expression ran out of its memory budget."""
