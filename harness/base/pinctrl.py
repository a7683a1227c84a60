"""``pinctrl_bind_pins()`` (drivers/base/pinctrl.c) and the DT half of the
pinctrl core it calls (drivers/pinctrl/core.c ``create_pinctrl()``,
drivers/pinctrl/devicetree.c ``pinctrl_dt_to_map()``).

``really_probe()`` calls ``pinctrl_bind_pins()`` after setting ``dev->driver``
and before ``dma_configure`` (drivers/base/dd.c:692).  For a device with a
``pinctrl-0`` property every state ``pinctrl-0``, ``pinctrl-1``... is mapped:
each phandle names a pin configuration node, and ``dt_to_map_one_config()``
walks up from it to the first ancestor with a registered pin controller
(``get_pinctrl_dev_from_of_node()``).  None found by the root: -EPROBE_DEFER
with ``CONFIG_MODULES`` (unless a walked node has ``pinctrl-use-default``),
else -ENODEV, which ``pinctrl_bind_pins()`` ignores like a device without
pins.  A walk reaching the device's own node is a hog (the pin controller's
own ``pinctrl-0``): skipped, never deferred.  An unknown phandle is -EINVAL,
a probe failure.  No timeout relaxes the deferral: a consumer of a pin
controller that never registers stays deferred.

fw_devlink's ``pinctrl-N`` links (harness.base.devlink) usually order this
already; this is what holds the consumer with ``fw_devlink=off`` or
``permissive``, and for pin controllers fw_devlink does not link (disabled,
initialised without a driver, or a dependency cycle).

Which node is the pin controller: the model has no pinctrl core, so the pin
controller of a configuration node is its first ancestor with a compatible
(configuration nodes have none), registered once its device is bound
(``pinctrl_register()`` runs in its driver's probe).  A disabled one never
registers.  An available one without a device -- a controller its parent's
driver creates in probe (an MFD cell), which the model does not create -- is
stood in for by its nearest ancestor with a device, as fw_devlink's
dangling-consumer pick-up does (docs/boot.md).
"""

from __future__ import annotations

from harness.device import device, device_is_bound
from harness.errno import EINVAL, ENODEV, EPROBE_DEFER
from harness.kernel import kernel, kfunc
from harness.of.node import device_node, of_find_node_by_phandle


class PinctrlState:
    """Per boot: whether the kernel has modules."""

    def __init__(self, config_modules: bool = True) -> None:
        self.config_modules = config_modules  # IS_ENABLED(CONFIG_MODULES)

    @staticmethod
    def device_of(np: device_node) -> device | None:
        """``get_dev_from_fwnode()``: the node's device (device_add() set it)."""
        dev: device | None = np.fwnode.dev
        return dev if dev is not None and not dev.dead else None


def state() -> PinctrlState | None:
    st: PinctrlState | None = kernel().globals.get("pinctrl")
    return st


def has_pinctrl(np: device_node | None) -> bool:
    """Whether ``pinctrl_dt_to_map()`` finds a state 0 (without one it
    returns -ENODEV and ``pinctrl_bind_pins()`` returns 0)."""
    return np is not None and "pinctrl-0" in np.desc.props


def _controller_device(st: PinctrlState, np: device_node) -> device | None:
    """The device whose binding registers the controller at ``np``: its own,
    or -- an available node a driver creates in its probe (an MFD cell) --
    its nearest ancestor's; None for a controller that is disabled or below
    a disabled node (no device ever)."""
    ctl = st.device_of(np)
    if ctl is not None:
        return ctl
    p: device_node | None = np
    while p is not None:
        if not p.desc.available():
            return None
        p = p.parent
    p = np.parent
    while p is not None and p.parent is not None:
        ctl = st.device_of(p)
        if ctl is not None:
            return ctl
        p = p.parent
    return None


@kfunc
def dt_to_map_one_config(dev: device, np_config: device_node) -> int:
    """devicetree.c:113: find the pin controller containing ``np_config``.

    0: mapped by a registered controller; 1: a hog of ``dev`` itself;
    -EPROBE_DEFER / -ENODEV: no registered controller up to the root.
    """
    st = state()
    allow_default = False
    np: device_node | None = np_config
    controller_seen = False
    while True:
        assert np is not None
        if not allow_default:
            allow_default = "pinctrl-use-default" in np.desc.props
        np = np.parent
        if np is None or np.parent is None:  # of_node_is_root()
            # keep deferring if modules are enabled
            if (st is None or st.config_modules) and not allow_default:
                return -EPROBE_DEFER
            return -ENODEV
        # get_pinctrl_dev_from_of_node(): the first ancestor with a
        # compatible (or a device) is the controller, registered once bound
        if not controller_seen and st is not None and (np.compatible or st.device_of(np) is not None):
            controller_seen = True
            ctl = _controller_device(st, np)
            if ctl is not None and ctl is not dev and device_is_bound(ctl):
                return 0
        # Do not defer probing of hogs (circular loop)
        if np is dev.of_node:
            return 1


@kfunc
def pinctrl_dt_to_map(dev: device) -> int:
    """devicetree.c:200: every ``pinctrl-N`` state's configuration nodes."""
    np = dev.of_node
    if np is None:
        return 0
    props = np.desc.props
    state_id = 0
    while True:
        v = props.get(f"pinctrl-{state_id}")
        if v is None:
            if state_id == 0:
                return -ENODEV
            break
        for config, phandle in enumerate(v if isinstance(v, list) else ()):
            np_config = of_find_node_by_phandle(kernel().globals["of_root"], phandle)
            if np_config is None:
                kernel().printk(f"{dev.init_name}: prop pinctrl-{state_id} index {config} invalid phandle")
                return -EINVAL
            ret = dt_to_map_one_config(dev, np_config)
            if ret == 1:
                continue
            if ret < 0:
                return ret
        state_id += 1
    return 0


@kfunc
def pinctrl_bind_pins(dev: device) -> int:
    """drivers/base/pinctrl.c:21: -EPROBE_DEFER and -EINVAL from
    ``devm_pinctrl_get()`` fail the probe; any other error (no pinctrl
    handle, no default state) is ignored."""
    if getattr(dev, "of_node_reused", False):
        return 0
    ret = pinctrl_dt_to_map(dev)  # create_pinctrl() via devm_pinctrl_get()
    if ret == -EPROBE_DEFER or ret == -EINVAL:
        return ret
    return 0
