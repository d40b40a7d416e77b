"""The kernel command line, read three ways: by systemd, by kmod and by the kernel itself.

- systemd-modules-load: ``modules_load=a,b`` (``modules-load=``; ``-`` and ``_`` are the same in
  the key), quotes allowed, every occurrence adds; ``rd.modules_load=`` counts only in the initrd.
- kmod (``/proc/cmdline`` split on spaces, no quotes): ``modprobe.blacklist=a,b`` blacklists the
  names exactly as written (they are not normalised, so ``iptable-nat`` matches nothing).
- the kernel: ``module_blacklist=a,b`` refuses to load those modules by any path; the last
  occurrence wins; parameters after ``--`` belong to init, not to the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CmdlineEntry:
    """One module named on the command line, with the parameter that named it."""

    module: str
    param: str  # the whole word, e.g. "modules_load=iptable_nat,br_netfilter"


@dataclass(frozen=True)
class Cmdline:
    """What the kernel command line says about modules."""

    text: str
    modules_load: tuple[CmdlineEntry, ...] = ()
    initrd_modules_load: tuple[CmdlineEntry, ...] = ()
    modprobe_blacklist: tuple[CmdlineEntry, ...] = ()
    module_blacklist: tuple[CmdlineEntry, ...] = ()


def split_words(text: str) -> list[str]:
    """Split like systemd's ``extract_first_word(..., EXTRACT_UNQUOTE|EXTRACT_RELAX)``."""
    words: list[str] = []
    current: list[str] = []
    quote: str | None = None
    started = False
    for char in text:
        if quote:
            if char == quote:
                quote = None
            else:
                current.append(char)
        elif char in "\"'":
            quote = char
            started = True
        elif char.isspace():
            if started:
                words.append("".join(current))
                current = []
                started = False
        else:
            current.append(char)
            started = True
    if started:
        words.append("".join(current))
    return words


def _key_is(key: str, wanted: str) -> bool:
    return key.replace("-", "_") == wanted.replace("-", "_")


def _kernel_words(text: str) -> list[str]:
    """Kernel parameters (``next_arg`` understands double quotes; ``--`` ends them)."""
    words: list[str] = []
    for word in split_words(text):
        if word == "--":
            break
        words.append(word)
    return words


def parse_cmdline(text: str) -> Cmdline:
    """Everything on the command line that decides whether a module loads."""
    text = text.strip()
    modules_load: list[CmdlineEntry] = []
    initrd: list[CmdlineEntry] = []
    for word in split_words(text):
        key, eq, value = word.partition("=")
        if not eq:
            continue
        names = [n for n in value.split(",") if n]
        if _key_is(key, "modules_load"):
            modules_load.extend(CmdlineEntry(n, word) for n in names)
        elif _key_is(key, "rd.modules_load"):
            initrd.extend(CmdlineEntry(n, word) for n in names)
    modprobe_bl: list[CmdlineEntry] = []
    for word in text.split("\n", 1)[0].split(" "):
        # kmod's kcmdline parser: "modprobe" before the first dot, "blacklist=" after it.
        module, dot, param = word.partition(".")
        if dot and module == "modprobe" and param.startswith("blacklist="):
            value = param[len("blacklist=") :]
            modprobe_bl.extend(CmdlineEntry(n, word) for n in value.split(",") if n)
    module_bl: list[CmdlineEntry] = []
    for word in _kernel_words(text):
        key, eq, value = word.partition("=")
        if eq and _key_is(key, "module_blacklist"):
            module_bl = [CmdlineEntry(n, word) for n in value.split(",") if n]
    return Cmdline(text, tuple(modules_load), tuple(initrd), tuple(modprobe_bl), tuple(module_bl))
