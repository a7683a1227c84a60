"""``probefuzz propose``: turn a variant into a kernel patch series for maintainers."""
