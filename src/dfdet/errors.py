"""User-facing errors: raised for bad input, printed as one clear line by the entry points (no traceback)."""

from __future__ import annotations


class DfdetError(Exception):
    """Base class of errors whose message alone tells the user what is wrong and how to fix it."""


class DatasetNotFoundError(DfdetError):
    """A dataset root, release layout or processed manifest is missing."""


class ManifestError(DfdetError):
    """A manifest is malformed: missing columns, bad labels, missing files."""


class ConfigValueError(DfdetError):
    """A documented config key has a value of the wrong type or out of range (``data.batch_size=-1``)."""


class ModelConfigError(DfdetError):
    """A model cannot be built as configured: unknown name, unreachable weights."""


class CheckpointError(DfdetError):
    """A checkpoint is missing, unreadable or not one of ours."""


class UnsafeConfigError(CheckpointError):
    """A stored config names a ``_target_`` outside the allow-list (see :mod:`dfdet.utils.safe_config`)."""


def find_user_error(exc: BaseException) -> DfdetError | None:
    """Returns the first :class:`DfdetError` in ``exc``'s cause/context chain (Hydra wraps errors raised in
    ``instantiate``), or None."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, DfdetError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None
