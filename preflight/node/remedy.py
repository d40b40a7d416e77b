"""The exact fixes: which file to write with which content, what to run now, how to verify.

Pure functions. The fix for the field report is the one that worked there: write
``/etc/modules-load.d/iptable_nat.conf`` listing ``iptable_nat`` and ``iptable_filter``, load them
now with ``modprobe -a iptable_nat iptable_filter``, and after the next reboot check
``lsmod | grep iptable``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from preflight.node.model import Remedy
from preflight.node.modprobe_conf import Origin

MODULES_LOAD_ETC = "/etc/modules-load.d"
MODPROBE_ETC = "/etc/modprobe.d"


def modules_load_file(modules: Sequence[str]) -> str:
    """The file the persistence fix writes: named after the first module it lists."""
    return f"{MODULES_LOAD_ETC}/{modules[0]}.conf"


def lsmod_check(modules: Sequence[str]) -> str:
    """``lsmod | grep ...`` that shows every module in ``modules`` (``iptable`` for the nat pair)."""
    prefix = _common_prefix(modules).rstrip("_-")
    if len(modules) > 1 and len(prefix) >= 3:
        return f"lsmod | grep {prefix}"
    if len(modules) == 1:
        return f"lsmod | grep {modules[0]}"
    return "lsmod | grep -E '" + "|".join(f"^{m} " for m in modules) + "'"


def _common_prefix(words: Sequence[str]) -> str:
    prefix = words[0] if words else ""
    for word in words[1:]:
        while not word.startswith(prefix):
            prefix = prefix[:-1]
    return prefix


def persistence(modules: Sequence[str], keep: Sequence[str] = (), why: str = "") -> Remedy:
    """Load ``modules`` at every boot through modules-load.d, and now.

    ``keep`` are names an existing file of the same name already lists (kept, so that writing the
    file does not drop them).
    """
    names = list(dict.fromkeys([*keep, *modules]))
    path = modules_load_file(modules)
    check = lsmod_check(modules)
    listed = " and ".join(modules) if len(modules) <= 2 else ", ".join(modules)
    text = (
        f"Write {path} with one module name per line ({listed}; no parameters: they go to "
        f"{MODPROBE_ETC}/*.conf as `options NAME ...`). systemd-modules-load reads only "
        "*.conf files in /etc/modules-load.d, /run/modules-load.d and /usr/lib/modules-load.d at "
        f"boot. Load them now with `modprobe -a {' '.join(modules)}` and, after the next reboot, "
        f"check that `{check}` lists {listed}."
    )
    if why:
        text = f"{why} {text}"
    return Remedy(
        file=path,
        content="".join(f"{name}\n" for name in names),
        load_now="modprobe -a " + " ".join(modules),
        verify=check,
        text=text,
    )


def load_now(module: str, at_boot: bool | None) -> Remedy:
    """Load one module now; ``at_boot`` says whether it is set to load at boot (None: unknown)."""
    after = {
        True: "it is already set to load at boot.",
        False: "it will not load at boot until the other findings about it are fixed.",
        None: "whether it loads at boot cannot be seen from here.",
    }[at_boot]
    return Remedy(
        load_now=f"modprobe {module}",
        verify=f"lsmod | grep {module}",
        text=f"Load it on the node now with `modprobe {module}`; {after}",
    )


_MODULE_WORD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def without_lines(text: str, origins: Sequence[Origin]) -> str:
    """``text`` with the (possibly backslash-continued) lines of ``origins`` removed."""
    drop: set[int] = set()
    for origin in origins:
        last = origin.last_line or origin.line
        drop.update(range(origin.line, last + 1))
    lines = text.splitlines(keepends=True)
    return "".join(line for number, line in enumerate(lines, start=1) if number not in drop)


def edit_modprobe_d(
    origins: Sequence[Origin], text: str, module: str, what: str, vendor: bool
) -> Remedy:
    """Remove modprobe.d lines (a blacklist or install rule) that stop ``module`` from loading.

    A vendor file (``/usr/lib``, ``/lib``, ``/run``) is not edited: a file of the same name in
    ``/etc/modprobe.d`` overrides it, with the vendor content minus those lines.
    """
    source = origins[0].path
    name = source.rsplit("/", 1)[-1]
    path = f"{MODPROBE_ETC}/{name}" if vendor else source
    # Line numbers only: a rule's own text (an install command) is a finding, never repeated
    # in a fix where it could be taken for a command to run.
    lines = ", ".join(f"line {o.line}" for o in origins)
    override = (
        f" {source} belongs to a package: {path} of the same name overrides it (an edit of the "
        "vendor file would be undone by the next update)."
        if vendor
        else ""
    )
    return Remedy(
        file=path,
        content=without_lines(text, origins),
        load_now=f"modprobe {module}",
        verify=f"modprobe -b --show-depends {module}",
        text=(
            f"Remove {what} from {source} ({lines}).{override} Then `modprobe {module}`; "
            f"`modprobe -b --show-depends {module}` must print insmod (or builtin) lines."
        ),
    )


def edit_cmdline(param: str, module: str, has_grubby: bool) -> Remedy:
    """Drop ``module`` from a kernel command line parameter (needs a reboot)."""
    key, _, value = param.partition("=")
    # Only module-name-shaped words of the node's command line are carried into the command.
    rest = ",".join(n for n in value.split(",") if n and n != module and _MODULE_WORD.match(n))
    if has_grubby:
        command = f"grubby --update-kernel=ALL --remove-args={shlex.quote(param)}"
        if rest:
            command += f" --args={shlex.quote(f'{key}={rest}')}"
        how = f"Run `{command}`"
    else:
        replacement = f"`{key}={rest}`" if rest else "nothing"
        how = (
            f"Replace `{param}` by {replacement} in GRUB_CMDLINE_LINUX of /etc/default/grub, then "
            "run `update-grub` (or `grub2-mkconfig -o /boot/grub2/grub.cfg`)"
        )
        command = None
    return Remedy(
        load_now=command,
        verify="cat /proc/cmdline",
        text=(
            f"{how} and reboot; `cat /proc/cmdline` must no longer name {module} in {key}=. "
            "The kernel command line comes from the boot loader, not from a file systemd reads."
        ),
    )


def install_modules(module: str, kernel: str | None) -> Remedy:
    """A module the kernel does not have: install the package that ships it, or another kernel."""
    release = kernel or "$(uname -r)"
    return Remedy(
        verify=f"modinfo -k {release} {module}",
        text=(
            f"Kernel {release} has no {module}: install the package that ships it for this kernel "
            f"(`dnf provides '*/{module}.ko*'` on RHEL/Rocky/CentOS, `apt-file search "
            f"{module}.ko` on Debian/Ubuntu, e.g. linux-modules-extra-{release}) and run "
            f"`depmod {release}`, or boot a kernel that has it; `modinfo -k {release} {module}` "
            "must then find it."
        ),
    )


def remove_kernel(release: str, missing: Sequence[str]) -> Remedy:
    """An installed kernel that lacks a needed module."""
    names = ", ".join(missing)
    return Remedy(
        verify=f"modinfo -k {release} {missing[0]}",
        text=(
            f"Kernel {release} lacks {names}: install its module package (see module-unavailable)"
            f" or remove that kernel so the node cannot boot into it; after booting it, dind "
            "would fail."
        ),
    )


def run_depmod(release: str) -> Remedy:
    """A kernel whose module index is missing."""
    return Remedy(
        load_now=f"depmod {release}",
        verify=f"ls /lib/modules/{release}/modules.dep",
        text=f"Rebuild the module index with `depmod {release}`: kmod finds nothing without it.",
    )


def reboot_to_load(modules: Sequence[str]) -> Remedy:
    """Loading is impossible until the next boot (modules_disabled, or the module tree is gone)."""
    return Remedy(
        verify=lsmod_check(modules) if modules else None,
        text="Reboot the node (drain it first); no module can be loaded into this kernel now.",
    )
