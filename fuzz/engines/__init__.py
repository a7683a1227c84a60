"""Fuzzing engines: ``native`` (in-process, seeded, feature-guided),
``hypothesis`` and ``atheris`` (libFuzzer, in a dedicated process)."""

ENGINES = ("atheris", "hypothesis", "native")
