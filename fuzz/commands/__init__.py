"""One module per ``probefuzz`` verb (b4 style).  Each defines
``add_arguments(parser)`` and ``run(args) -> int``."""
