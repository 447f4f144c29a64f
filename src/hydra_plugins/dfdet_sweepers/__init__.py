"""Hydra plugins shipped with dfdet (Hydra only loads plugins from the ``hydra_plugins`` namespace package)."""
