"""The pipeline's error vocabulary: three kinds, told apart by type wherever an error is handled.

- `SettingError`: a setting no run can work with, raised when the definitions load; its message
  names the variable.
- `PermanentError`: a retry would give the same answer (a month the source does not have, a file
  that is not what its layout promises, a lake file that is not the one published, a warehouse
  table of another shape). The step fails at once with the message as its `dg.Failure`
  description, which the UI, the webhook and the command line show.
- `TransientError`: a retry may succeed (a source or a warehouse that cannot be reached, a lock
  held, a download too slow). The step retries with backoff; the last attempt's message is shown.

Any other exception is a bug or a library's own error, retried as transient and shown as it is.
Every message is one line naming the file, setting, column or check and its numbers, never a secret.
"""

from collections.abc import Iterator


class PipelineError(Exception):
    """An error the pipeline describes in one line a user acts on."""


class PermanentError(PipelineError):
    """A retry would give the same answer: the step fails at once."""


class TransientError(PipelineError):
    """A retry may succeed: the step is retried with backoff."""


class SettingError(PermanentError, ValueError):
    """A setting with a value the pipeline cannot use; the message names the variable."""


def causes(error: BaseException | None) -> Iterator[BaseException]:
    """`error` and the exceptions it was raised from or during, innermost last."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__
