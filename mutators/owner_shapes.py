"""C shape of an *allocation owner* site: which device a ``devm_kzalloc()``
in an IOMMU driver callback is charged to.

A devm allocation lives until its owner device unbinds (or fails a probe:
``devres_release_all()``), so the owner decides both whether the call can run
at all (a NULL owner faults in ``alloc_dr()``, the RK3568 report) and when the
object is freed under the pointer that keeps it (e.g. ``dev->iommu->priv``).

Owners are C expressions usable where the allocation stands (``dma_dev``,
``dev``), plus one that needs a pointer the function looks up *after* the
allocation (the IOMMU's own device): that alternative moves the allocation
below the lookup, dropping the reference on failure.
The site declares a :class:`harness.sites.shapes.DevmOwner`.
"""

from __future__ import annotations

import re

from harness.sites.shapes import Alternative, ChoiceShape, DevmOwner


def devm_owner(shape: DevmOwner) -> ChoiceShape:
    """Alternatives ``name -> owner C expression`` for ``var = devm_kzalloc(OWNER,
    size, GFP_KERNEL);`` in ``function``.

    ``lookup = (name, pointer, lookup statement SmPL, put call)``: an extra
    alternative ``name`` whose owner is ``&pointer->dev``, allocated right after
    the lookup statement, calling ``put`` on the error path.
    """
    function, var, size = shape.function, shape.var, shape.size
    owners, lookup = shape.owners, shape.lookup
    alloc = f"devm_kzalloc(E, {size}, GFP_KERNEL)"
    alts: dict[str, Alternative] = {}
    after = ""
    if lookup is not None:
        lname, ptr, stmt, put = lookup
        # the simple owners allocate before the lookup (moving the allocation
        # back up is not generated: a tree in that shape reports "matched nothing")
        after = f" ...\n {stmt}\n"
        alts[lname] = Alternative(
            detect=f"@@\n {function}(...)\n {{\n <+... devm_kzalloc(&{ptr}->dev, ...) ...+>\n }}",
            transform=(f"@{{p}}_to depends on {{notdone}}@\nexpression E;\nstatement S;\n@@\n"
                       f" {function}(...)\n {{\n ...\n-{var} = {alloc};\n-if (!{var}) S\n"
                       f" ...\n {stmt}\n+{var} = devm_kzalloc(&{ptr}->dev, {size}, GFP_KERNEL);\n"
                       f"+if (!{var}) {{\n+\t{put}({ptr});\n+\treturn -ENOMEM;\n+}}\n"
                       f"+PROBEFUZZ_BLANK();\n ...\n }}\n"),
            regex=re.escape(f"devm_kzalloc(&{ptr}->dev,"))
    for name, owner in owners.items():
        alts[name] = Alternative(
            detect=f"@@\n {function}(...)\n {{\n <+... devm_kzalloc({owner}, ...) ...+>\n }}",
            transform=(f"@{{p}}_to depends on {{notdone}}@\nexpression E;\n@@\n {function}(...)\n"
                       f" {{\n ...\n {var} = devm_kzalloc(\n-E\n+{owner}\n , ...);\n{after} ...\n }}\n"),
            regex=r"devm_kzalloc\(" + re.escape(owner) + ",")
    return ChoiceShape(alternatives=alts)
