"""Test and benchmark scaffolding: generated media and small dataset release trees.

Nothing in the rest of the package imports this; tests, benchmarks and smoke runs do
(``from dfdet.testing.media import ClipBank, make_ffpp``).
"""
