"""Finish what spatch produced: turn placeholders into kernel-style C.

Rules emit placeholder statements instead of comments and labels (which
Coccinelle's pretty printer places and indents badly):

* ``PROBEFUZZ_COMMENT(n);`` -> the comment ``n`` of the rule context (or
  nothing), after removing a stale *known* comment right above it;
* ``PROBEFUZZ_LABEL(name);`` -> ``name:`` in column 0, moved above the comment
  block that documents the statement it labels (taking the place of the blank
  line before that comment, as a human would write it);
* ``PROBEFUZZ_BLANK();`` -> a blank line, unless one is already there.

Then, on lines spatch added only: a call whose last argument Coccinelle pushed
onto its own line (a string literal) is joined back when it fits in 100
columns; a label the variant owns that nothing jumps to any more is removed;
and a blank line is kept after a function's declarations when spatch removed
the one that was there.
"""

from __future__ import annotations

import difflib
import re

from mutators.shapes import RuleContext

_PH_COMMENT = re.compile(r"^(\s*)PROBEFUZZ_COMMENT\((\d+)\);\s*$")
_PH_LABEL = re.compile(r"^\s*PROBEFUZZ_LABEL\((\w+)\);\s*$")
_PH_BLANK = re.compile(r"^\s*PROBEFUZZ_BLANK\(\);\s*$")
_DECL = re.compile(r"^\t(?:const |static |unsigned |struct |enum )*[A-Za-z_][\w ]*[\s*]+"
                   r"\**[A-Za-z_]\w*(?:\s*=\s*[^;]+)?(?:, \**\w+(?:\s*=\s*[^;]+)?)*;$")
MAX_COLS = 100


def _width(line: str) -> int:
    return len(line.expandtabs(8))


def _norm(text: str) -> str:
    return " ".join(text.split())


def comment_lines(text: str, indent: str) -> list[str]:
    """Kernel-style comment: one line if it fits, else the ``/* * */`` block."""
    one = f"{indent}/* {_norm(text)} */"
    if "\n" not in text.strip() and _width(one) <= 80:
        return [one]
    body = [f"{indent} * {ln}".rstrip() for ln in text.strip().splitlines()]
    return [f"{indent}/*", *body, f"{indent} */"]


def _comment_block_above(lines: list[str], i: int) -> tuple[int, str] | None:
    """If lines[i-1] ends a comment, return (start index, comment text)."""
    j = i - 1
    if j < 0 or not lines[j].rstrip().endswith("*/"):
        return None
    k = j
    while k >= 0 and "/*" not in lines[k]:
        k -= 1
    if k < 0:
        return None
    raw = " ".join(lines[k:j + 1])
    raw = raw.replace("/*", " ").replace("*/", " ")
    text = " ".join(w for w in raw.split() if w != "*")
    return k, text


def _replace_comments(lines: list[str], ctx: RuleContext) -> list[str]:
    out: list[str] = []
    for ln in lines:
        m = _PH_COMMENT.match(ln)
        if not m:
            out.append(ln)
            continue
        fix = ctx.comments.get(int(m.group(2)))
        if fix is None:
            continue
        above = _comment_block_above(out, len(out))
        known = {_norm(t) for t in fix.known}
        if above is not None and above[1] in known:
            del out[above[0]:]
        if fix.text:
            out.extend(comment_lines(fix.text, m.group(1)))
    return out


def _move_orphaned_comments(lines: list[str], old: list[str]) -> list[str]:
    """Put code spatch inserted *before* a statement above that statement's comment.

    Coccinelle adds code between a statement and the comment that documents
    it; when the comment right above an inserted run was, in the original,
    directly followed by the statement the run ends at, the comment is moved
    down to that statement again.
    """
    added, _ = _new_line_indexes(old, lines)
    out = list(lines)
    i = 0
    while i < len(out):
        if i in added and (i - 1) not in added and _PH_COMMENT.match(out[i]):
            above = _comment_block_above(out, i)
            j = i
            while j < len(out) and j in added:
                j += 1
            if above is not None and j < len(out):
                k = above[0]
                block = out[k:i]
                if _followed_in(old, block, out[j]):
                    out[k:j] = out[i:j] + block
                    added, _ = _new_line_indexes(old, out)
                    i = j
                    continue
        i += 1
    return out


def _followed_in(old: list[str], block: list[str], stmt: str) -> bool:
    n = len(block)
    for a in range(len(old) - n):
        if old[a:a + n] == block and old[a + n] == stmt:
            return True
    return False


def _drop_unused_locals(lines: list[str], ctx: RuleContext) -> list[str]:
    """Remove a local the rules own when only its declaration and stores remain."""
    out = list(lines)
    for name in ctx.owned_locals:
        pat = re.compile(rf"\b{re.escape(name)}\b")
        uses = [i for i, ln in enumerate(out) if pat.search(ln)]
        decl = [i for i in uses if re.match(rf"^\t\w[\w ]*\b{re.escape(name)};$", out[i])]
        store = [i for i in uses if re.match(rf"^\t{re.escape(name)} = [^;]+;$", out[i])]
        if uses and len(decl) + len(store) == len(uses):
            for i in sorted(decl + store, reverse=True):
                del out[i]
    return out


def _collapse_blanks(lines: list[str], added: set[int], after_del: set[int]) -> list[str]:
    """No two blank lines in a row, and no blank line before ``}``, where spatch
    changed things."""
    out: list[str] = []
    touched = added | after_del | {i - 1 for i in after_del}
    for i, ln in enumerate(lines):
        near = i in touched or (i + 1) in touched or (i - 1) in touched
        if near and ln.strip() == "" and out and out[-1].strip() == "":
            continue
        if near and ln.strip() == "" and i + 1 < len(lines) and lines[i + 1].startswith("}"):
            continue
        out.append(ln)
    return out


def _replace_labels(lines: list[str]) -> list[str]:
    out: list[str] = []
    for ln in lines:
        m = _PH_LABEL.match(ln)
        if not m:
            out.append(ln)
            continue
        label = f"{m.group(1)}:"
        above = _comment_block_above(out, len(out))
        at = above[0] if above is not None else len(out)
        if at > 0 and out[at - 1].strip() == "":
            out[at - 1] = label
        else:
            out.insert(at, label)
    return out


def _replace_blanks(lines: list[str]) -> list[str]:
    out: list[str] = []
    for i, ln in enumerate(lines):
        if not _PH_BLANK.match(ln):
            out.append(ln)
            continue
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if (out and out[-1].strip() == "") or nxt == "" or nxt.startswith("}"):
            continue
        out.append("")
    return out


def _new_line_indexes(old: list[str], new: list[str]) -> tuple[set[int], set[int]]:
    """(indexes of lines of ``new`` that spatch added, indexes in ``new`` right
    after a deletion)."""
    added: set[int] = set()
    after_del: set[int] = set()
    sm = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, _i1, _i2, j1, j2 in sm.get_opcodes():
        if tag in ("insert", "replace"):
            added.update(range(j1, j2))
        if tag in ("delete", "replace"):
            after_del.add(j2 if tag == "replace" else j1)
    return added, after_del


def _join_split_strings(lines: list[str], added: set[int]) -> list[str]:
    out: list[str] = []
    skip = False
    for i, ln in enumerate(lines):
        if skip:
            skip = False
            continue
        if (i in added and i + 1 < len(lines) and i + 1 in added
                and ln.rstrip().endswith((",", "("))
                and lines[i + 1].strip().startswith('"')):
            sep = "" if ln.rstrip().endswith("(") else " "
            joined = ln.rstrip() + sep + lines[i + 1].strip()
            if _width(joined) <= MAX_COLS:
                out.append(joined)
                skip = True
                continue
        out.append(ln)
    return out


def _join_else(lines: list[str], added: set[int]) -> list[str]:
    """Coccinelle prints an added ``if (...) {...} else {...}`` with ``else`` on
    a line of its own; kernel style wants ``} else {``."""
    out: list[str] = []
    for i, ln in enumerate(lines):
        if (i in added and i - 1 in added and out and out[-1].strip() == "}"
                and ln.strip().startswith("else")):
            out[-1] = out[-1].rstrip() + " " + ln.strip()
            continue
        out.append(ln)
    return out


def _blank_after_decls(lines: list[str], after_del: set[int]) -> list[str]:
    out = list(lines)
    for j in sorted(after_del, reverse=True):
        if 0 < j < len(out) and _DECL.match(out[j - 1]) and out[j].strip() \
                and not _DECL.match(out[j]) and not out[j].strip().startswith("}"):
            out.insert(j, "")
    return out


def _drop_unused_labels(lines: list[str], ctx: RuleContext) -> list[str]:
    text = "\n".join(lines)
    out = list(lines)
    for label in ctx.labels:
        if re.search(rf"\bgoto {re.escape(label)};", text):
            continue
        for i, ln in enumerate(out):
            if ln == f"{label}:":
                # the label took the place of a blank line before a comment
                nxt = out[i + 1].strip() if i + 1 < len(out) else ""
                if nxt.startswith("/*"):
                    out[i] = ""
                else:
                    del out[i]
                break
    return out


def fixup(original: str, patched: str, ctx: RuleContext) -> str:
    """Return ``patched`` with placeholders resolved and Coccinelle's layout fixed."""
    lines = patched.split("\n")
    old = original.split("\n")
    lines = _move_orphaned_comments(lines, old)
    lines = _replace_comments(lines, ctx)
    lines = _replace_labels(lines)
    lines = _replace_blanks(lines)
    lines = _drop_unused_locals(lines, ctx)
    added, after_del = _new_line_indexes(old, lines)
    lines = _join_split_strings(lines, added)
    added, after_del = _new_line_indexes(old, lines)
    lines = _join_else(lines, added)
    added, after_del = _new_line_indexes(old, lines)
    lines = _blank_after_decls(lines, after_del)
    added, after_del = _new_line_indexes(old, lines)
    lines = _collapse_blanks(lines, added, after_del)
    # An owned label is only dropped when this run's rules own it, i.e. the
    # site that jumps to it is handled in this file.
    lines = _drop_unused_labels(lines, ctx)
    return "\n".join(lines)


def has_placeholders(text: str) -> bool:
    return "PROBEFUZZ_" in text
