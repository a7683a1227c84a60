"""C shape of a *snapshot* site: a racy field a function reads more than once
(``dev->driver`` in the bus ``dma_configure`` hooks: once to derive the bus
driver pointer at entry, again in the 4/4 guard) read once into a local.

The spec's W4: a bind on another CPU may store ``dev->driver`` between the two
reads, so the guard sees a driver while the pointer derived at entry is
``container_of(NULL)``.  Alternative ``once`` declares ``LOCAL =
READ_ONCE(FIELD)`` right before the declaration that derives the pointer and
makes every later read of ``FIELD`` in the function read ``LOCAL``.
The site declares a :class:`harness.sites.shapes.ReadOnce`.
"""

from __future__ import annotations

import re

from harness.sites.shapes import ONCE, TWICE, Alternative, ChoiceShape, ReadOnce


def read_once(shape: ReadOnce) -> ChoiceShape:
    """Rules for ``function``: ``T *var = derive(field);`` reads ``field``
    (e.g. ``dev->driver``) and later code reads it again (``twice``), or a
    ``ctype *local = READ_ONCE(field);`` snapshot feeds both (``once``)."""
    function, field, ctype, local = shape.function, shape.field, shape.ctype, shape.local
    derive, var, when = shape.derive, shape.var, shape.when
    f = re.escape(field)
    d = re.escape(derive)
    snap = f"{ctype} *{local} = READ_ONCE({field});"
    once = Alternative(
        detect=f"@@\n {function}(...)\n {{\n <+... {derive}({local}) ...+>\n }}",
        transform=(f"@{{p}}_to depends on {{notdone}}@\ntype T;\n@@\n {function}(...)\n {{\n"
                   f" ...\n+{snap}\n T *{var} = {derive}(\n-{field}\n+{local}\n );\n"
                   f" <...\n-{field}\n+{local}\n ...>\n }}\n"),
        regex=re.escape(snap) + rf" \w[\w ]* \*{re.escape(var)} = {d}\({re.escape(local)}\);")
    twice = Alternative(
        detect=f"@@\n {function}(...)\n {{\n <+... {derive}({field}) ...+>\n }}",
        transform=(f"@{{p}}_to depends on {{notdone}}@\ntype T;\n@@\n {function}(...)\n {{\n"
                   f" ...\n-{snap}\n T *{var} = {derive}(\n-{local}\n+{field}\n );\n"
                   f" <...\n-{local}\n+{field}\n ...>\n }}\n"),
        regex=rf"^(?!.*READ_ONCE\({f}\)).*{d}\({f}\)")
    return ChoiceShape(alternatives={TWICE: twice, ONCE: once}, when=when, order=shape.order)


__all__ = ["ONCE", "TWICE", "read_once"]
