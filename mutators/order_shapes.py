"""C shape of an *order* site: a statement of an IOMMU driver's probe function
that publishes state its callbacks read, placed before or after
``iommu_device_register()``.

``iommu_device_register()`` walks every bus (``probe_iommu_group``), so the
driver's ``of_xlate``/``probe_device``/``device_group`` run *inside* it; state
published after the call is not there yet when they run.  Whether a driver
publishes before or after registering is therefore a site of its own, and
this module generates the Coccinelle rules that move the statement across
the registration call for any such site (a :class:`harness.sites.shapes.PublishOrder`).
"""

from __future__ import annotations

import re
from dataclasses import replace

from harness.sites.shapes import AFTER, BEFORE, Alternative, ChoiceShape, PublishOrder


def _lines(c_text: str, sign: str) -> str:
    return "\n".join(sign + ln.strip() for ln in c_text.strip("\n").splitlines())


def publish_order(shape: PublishOrder) -> ChoiceShape:
    """The choice between the two placements of an order site (see
    :class:`~harness.sites.shapes.PublishOrder`): rules that put ``stmt`` (C
    text, one or more lines) right after the ``E = register(...); if (E) S``
    pair of ``function`` or right before the ``E = register(...);`` statement.

    ``comment`` is the comment the C has above ``stmt``: it moves with it.
    ``check`` is the error check after the call as the rule spells it (a
    function where spatch does not match ``if (E) S`` against the
    ``goto`` can name the label: ``"if (E) goto remove_sysfs;"``).
    ``checked=False`` is for drivers that ignore the result: the call is a
    bare ``register(...);`` statement (virtio-iommu).
    ``enclosing`` (see the dataclass): the *before* alternative puts ``stmt``
    in front of the whole ``if (enclosing)`` the call sits in.
    The readback regexes look at the order of the two in the function's text.
    """
    function, stmt, comment = shape.function, shape.stmt, shape.comment
    register, check, checked = shape.register, shape.check, shape.checked
    enclosing = shape.enclosing
    ctx = "+{ctx:publish}\n" if comment else ""
    flat = re.escape(" ".join(stmt.split()))
    reg = re.escape(register) + r"\("
    # the call as the rules match it: with its result and error check, or bare
    call = f"E = {register}(es);" if checked else f"{register}(es);"
    checked_call = f"{call}\n {check}" if checked else call
    found = f"{register}(es)" if checked else call  # the detect rules' pattern
    metas = "expression E;\nexpression list es;\n" if checked else "expression list es;\n"
    stmt_meta = "statement S;\n" if checked else ""
    after = Alternative(
        detect=(f"@exists@\nexpression list es;\n@@\n {function}(...)\n {{\n ...\n"
                f" {found}\n ...\n{_lines(stmt, ' ')}\n ...\n }}"),
        transform=(f"@{{p}}_to depends on {{notdone}} exists@\n{stmt_meta}{metas}@@\n"
                   f" {function}(...)\n {{\n ...\n{_lines(stmt, '-')}\n ...\n {checked_call}\n"
                   f"{ctx}{_lines(stmt, '+')}\n ...\n }}\n"),
        regex=reg + ".*" + flat)
    if enclosing is None:
        before_transform = (f"@{{p}}_to depends on {{notdone}} exists@\n{metas}@@\n"
                            f" {function}(...)\n {{\n ...\n"
                            f"{ctx}{_lines(stmt, '+')}\n+PROBEFUZZ_BLANK();\n {call}\n ...\n"
                            f"{_lines(stmt, '-')}\n ...\n }}\n")
    else:
        before_transform = (f"@{{p}}_to depends on {{notdone}} exists@\nstatement S;\n@@\n"
                            f" {function}(...)\n {{\n ...\n"
                            f"{ctx}{_lines(stmt, '+')}\n+PROBEFUZZ_BLANK();\n"
                            f" if ({enclosing}) S\n ...\n"
                            f"{_lines(stmt, '-')}\n ...\n }}\n")
    before = Alternative(
        detect=(f"@exists@\nexpression list es;\n@@\n {function}(...)\n {{\n ...\n"
                f"{_lines(stmt, ' ')}\n ...\n {found}\n ...\n }}"),
        transform=before_transform,
        regex=flat + ".*" + reg)
    if AFTER in shape.transforms:
        after = replace(after, transform=shape.transforms[AFTER])
    if BEFORE in shape.transforms:
        before = replace(before, transform=shape.transforms[BEFORE])
    return ChoiceShape(alternatives={AFTER: after, BEFORE: before},
                       comment_texts={"publish": comment} if comment else {})


__all__ = ["AFTER", "BEFORE", "publish_order"]
