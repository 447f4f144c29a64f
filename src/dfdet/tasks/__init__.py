"""Runnable tasks: each is ``run(cfg) -> results``, wrapped by a thin ``@hydra.main`` script at the repo root."""
