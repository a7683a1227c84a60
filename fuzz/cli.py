"""The ``probefuzz`` command: a verb table, one module per verb.

Exit status convention for every verb: 0 success / nothing found, 1 findings
(or a refused result), 2 bad usage or bad input, 3 a bug in probefuzz.  Bad
input never produces a traceback: verbs raise :class:`UsageError` (or a
library error listed in ``_user_errors()``; RecursionError, OSError,
ValueError, UnicodeError and MemoryError escaping a verb come from its input
too) and the message is printed as one line of at most 300 characters on
stderr.  A closed stdout (``| head``) ends the run quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

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


#: Longest message line the CLI prints for a rejection.
MESSAGE_LIMIT = 300

# Exceptions that, escaping a verb, come from its input (a file too deep, too
# big, unreadable, undecodable, a value out of range): one line, exit 2.
_INPUT_ERRORS: tuple[type[BaseException], ...] = (
    RecursionError, OSError, ValueError, UnicodeError, MemoryError, OverflowError)


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` on one line of at most ``limit`` characters (user input may be
    megabytes long or carry newlines; the message must stay readable)."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _describe(e: BaseException) -> str:
    """The message of an input error; OS and decoding errors get their kind."""
    if isinstance(e, RecursionError):
        return "input nested too deeply"
    if isinstance(e, MemoryError):
        return "input too large for memory"
    if isinstance(e, UnicodeError):
        return f"not valid text: {e}"
    if isinstance(e, OSError) and e.strerror:
        where = f"{e.filename}: " if e.filename else ""
        return f"{where}{e.strerror}"
    return str(e) or type(e).__name__


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), not usage + error."""

    def error(self, message: str) -> NoReturn:
        prog = self.prog if self.prog.startswith("probefuzz") else f"probefuzz {self.prog}"
        self.exit(2, one_line(f"{prog}: error: {message} (see {prog} --help)") + "\n")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("probefuzz")
    except Exception:  # not installed (PYTHONPATH checkout): the source tree's version
        return "0.1.0+src"


_built: dict[str | None, tuple[argparse.ArgumentParser, dict[str, ModuleType]]] = {}


def verb_of(argv: Sequence[str]) -> str | None:
    """The verb of a command line: its first word that is not an option (the
    top-level options, ``-h``/``--help`` and ``--version``, take no value)."""
    for a in argv:
        if a == "--":
            return None
        if not a.startswith("-"):
            return a
    return None


def build_parser(verb: str | None = None, *, every_verb: bool = False,
                 ) -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    """The parser and the verb -> module table for a command line naming ``verb``.

    Only that verb's module is imported and given its arguments: a verb module
    imports what its verb needs (the model, Coccinelle and git wrappers,
    multiprocessing, QEMU helpers), seconds of start-up that another verb
    should not pay, and ``probefuzz --help`` lists the verbs from
    :data:`VERBS` without importing any.  ``every_verb``: all of them (tests,
    documentation).  Built once per process and verb: parse_args keeps no
    state in the parser.
    """
    key = "\0all" if every_verb else verb
    if key in _built:
        return _built[key]
    parser = _Parser(
        prog="probefuzz",
        description="Explore guard variants of the Linux IOMMU probe path on real device trees.",
    )
    parser.add_argument("--version", action="version", version=f"probefuzz {_version()}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    modules = {}
    for name, (modname, help_) in VERBS.items():
        if not every_verb and name != verb:
            sub.add_parser(name, help=help_, description=help_)  # listed, not imported
            continue
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name != modname:
                raise
            continue  # verb not built yet
        p = sub.add_parser(name, help=help_, description=(mod.__doc__ or help_).strip())
        mod.add_arguments(p)
        modules[name] = mod
    _built[key] = (parser, modules)
    return parser, modules


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; exit status 0 / 1 (findings) / 2 (bad usage or input) /
    3 (a bug in probefuzz: one line, the traceback with PROBEFUZZ_TRACEBACK=1)."""
    if argv is None:
        # A real command line (not an in-process call): children and
        # temporary files must not outlive this process, even after SIGKILL.
        from corpus.reaper import supervise

        supervise()
    line = sys.argv[1:] if argv is None else list(argv)
    parser, modules = build_parser(verb_of(line))
    args = parser.parse_args(line)
    if args.verb is None:
        parser.error("missing VERB")
    try:
        status = int(modules[args.verb].run(args))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except _user_errors() as e:
        _say(f"probefuzz {args.verb}: error: {e}")
        return 2
    except BrokenPipeError:
        return _broken_pipe()
    except KeyboardInterrupt:
        _say(f"probefuzz {args.verb}: interrupted")
        return 130
    except _INPUT_ERRORS as e:
        _say(f"probefuzz {args.verb}: error: {_describe(e)}")
        return 2
    except Exception as e:
        if os.environ.get("PROBEFUZZ_TRACEBACK"):
            raise
        _say(f"probefuzz {args.verb}: internal error: {type(e).__name__}: {e} "
             "(PROBEFUZZ_TRACEBACK=1 shows where; please report it)")
        return 3


def _say(msg: str) -> None:
    try:
        print(one_line(msg), file=sys.stderr)
    except (BrokenPipeError, OSError):
        pass


def _broken_pipe() -> int:
    """The reader went away (``| head``): stop quietly.  Point stdout at
    /dev/null so the interpreter's final flush does not complain either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not __main__'s: the verbs raise fuzz.cli.UsageError,
    # which is a different class from __main__.UsageError under `python -m fuzz.cli`.
    from fuzz.cli import main as _main

    sys.exit(_main())
