"""The export's user error."""

from __future__ import annotations

from dfdet.errors import DfdetError


class ExportError(DfdetError):
    """An export cannot be made or does not match eager PyTorch: bad options, a failed verification."""
