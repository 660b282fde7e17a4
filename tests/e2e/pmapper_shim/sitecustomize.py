"""Lets Principal Mapper 1.1.5 (2022) import on Python 3.10+: it imports `Mapping` and
`MutableMapping` from `collections`, which moved to `collections.abc` in Python 3.10. Loaded
through PYTHONPATH by tests/e2e/test_graph.py only; the tool itself is run unchanged."""
import collections
import collections.abc

for _name in ("Mapping", "MutableMapping", "Sequence", "Iterable"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))
