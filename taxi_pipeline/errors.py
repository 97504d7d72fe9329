"""The pipeline's three error kinds, told apart by type wherever an error is handled. Any other
exception is a bug or a library's own error, retried as transient and shown as it is. Every
message is one line naming the file, setting, column or check and its numbers, never a secret."""

from collections.abc import Iterator


class PermanentError(Exception):
    """A retry would give the same answer: the step fails at once, the message its `dg.Failure`
    description (shown by the UI, the webhook and the command line)."""


class TransientError(Exception):
    """A retry may succeed (a source or warehouse out of reach, a lock held): retried with backoff."""


class SettingError(PermanentError, ValueError):
    """A setting no run can work with, raised when the definitions load; the message names it."""


def causes(error: BaseException | None) -> Iterator[BaseException]:
    """`error` and the exceptions it was raised from or during, innermost last."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__
