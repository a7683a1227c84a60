"""errno values used on the probe path (include/uapi/asm-generic/errno*.h,
include/linux/errno.h).  Functions return ``-ENODEV`` etc. exactly as in C."""

EPERM = 1
ENOENT = 2
ENXIO = 6
ENOMEM = 12
EBUSY = 16
EEXIST = 17
ENODEV = 19
EINVAL = 22
ENOSPC = 28
ENOSYS = 38
ETIMEDOUT = 110
ERANGE = 34
EPROBE_DEFER = 517

NAMES = {
    EPERM: "EPERM",
    ENOENT: "ENOENT",
    ENXIO: "ENXIO",
    ENOMEM: "ENOMEM",
    EBUSY: "EBUSY",
    EEXIST: "EEXIST",
    ENODEV: "ENODEV",
    EINVAL: "EINVAL",
    ENOSPC: "ENOSPC",
    ENOSYS: "ENOSYS",
    ERANGE: "ERANGE",
    ETIMEDOUT: "ETIMEDOUT",
    EPROBE_DEFER: "EPROBE_DEFER",
}


def errname(ret: int) -> str:
    """``-19`` -> ``"-ENODEV"``, for log messages."""
    if ret < 0 and -ret in NAMES:
        return "-" + NAMES[-ret]
    return str(ret)


class ErrPtr:
    """``ERR_PTR(err)``: an error encoded in a pointer return value."""

    __slots__ = ("err",)

    def __init__(self, err: int) -> None:
        self.err = err

    def __repr__(self) -> str:
        return f"ERR_PTR({errname(self.err)})"


def ERR_PTR(err: int) -> ErrPtr:  # noqa: N802 - kernel name
    return ErrPtr(err)


def IS_ERR(ptr: object) -> bool:  # noqa: N802 - kernel name
    return isinstance(ptr, ErrPtr)


def PTR_ERR(ptr: ErrPtr) -> int:  # noqa: N802 - kernel name
    return ptr.err
