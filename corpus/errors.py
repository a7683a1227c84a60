"""The one exception type of the device-tree front end.

Kept in its own module so that :mod:`corpus.fdt`, :mod:`corpus.dts` and
:mod:`corpus.dt` can all raise it without importing each other.
"""

from __future__ import annotations


class DtError(Exception):
    """A device-tree input cannot be turned into a platform.

    The message is one line and starts with the file name, e.g.
    ``foo.dtb: not a flattened device tree (bad magic)``.  The CLI prints it
    and exits 2.
    """
