"""The ``probefuzz`` command: a verb table, one module per verb.

Exit status convention for every verb: 0 success / nothing found, 1 findings
(or a refused result), 2 bad usage or bad input.  Bad input never produces a
traceback: verbs raise :class:`UsageError` (or a library error listed in
``_USER_ERRORS``) and the message is printed as one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# verb -> (module, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "repro": ("fuzz.commands.repro", "run one scenario and print its findings"),
    "variants": ("fuzz.commands.variants", "list the guard variants"),
    "kernel-tree": ("fuzz.commands.kernel_tree", "prepare the cached Debian linux-source tree"),
    "corpus": ("fuzz.commands.corpus", "build platform corpora from a kernel tree"),
    "apply": ("fuzz.commands.apply", "apply a variant to a kernel tree with Coccinelle"),
    "cleanup": ("fuzz.commands.cleanup", "remove the branches and worktrees apply made"),
    "propose": ("fuzz.commands.propose", "turn a variant into a patch series for maintainers"),
    "fuzz": ("fuzz.commands.fuzz", "fuzz one variant with atheris or hypothesis"),
    "explore": ("fuzz.commands.explore", "fuzz the variant space and rank fix candidates"),
    "regress": ("fuzz.commands.regress", "replay the crash corpus against a variant"),
    "facts": ("fuzz.commands.facts", "read a kernel tree's guard sites and driver facts"),
    "validate": ("fuzz.commands.validate", "check the model against a real QEMU boot"),
}


class UsageError(Exception):
    """Bad usage or bad input: one line on stderr, exit 2."""


def _user_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [UsageError]
    from harness.board import BoardError
    from harness.variant import VariantError

    errs += [BoardError, VariantError]
    try:
        from corpus.hosttools import ToolError

        errs.append(ToolError)
    except ImportError:
        pass
    try:
        from corpus.dt import DtError

        errs.append(DtError)
    except ImportError:
        pass
    try:
        from corpus.mutations import MutationError
        from fuzz.crashstore import StoreError

        errs += [StoreError, MutationError]
    except ImportError:
        pass
    return tuple(errs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="probefuzz",
        description="Explore guard variants of the Linux IOMMU probe path on real device trees.",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    modules = {}
    argv = list(sys.argv[1:] if argv is None else argv)
    # Import only the verb being run (importing every verb costs seconds: plots,
    # engines); `probefuzz --help` and unknown verbs still see them all.
    chosen = {argv[0]: VERBS[argv[0]]} if argv and argv[0] in VERBS else VERBS
    for verb, (modname, help_) in chosen.items():
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name != modname:
                raise
            continue  # verb not built yet
        p = sub.add_parser(verb, help=help_, description=(mod.__doc__ or help_).strip())
        mod.add_arguments(p)
        modules[verb] = mod
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 2
    try:
        return int(modules[args.verb].run(args))
    except _user_errors() as e:
        print(f"probefuzz {args.verb}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"probefuzz {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run the imported module's main, not __main__'s: the verbs raise fuzz.cli.UsageError,
    # which is a different class from __main__.UsageError under `python -m fuzz.cli`.
    from fuzz.cli import main as _main

    sys.exit(_main())
