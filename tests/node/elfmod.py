"""Minimal ELF relocatable objects that depmod reads like kernel modules.

depmod (kmod) takes a module's exported symbols from its ``__ksymtab_strings`` section, the symbols
it needs from the undefined entries of ``.symtab``, and its aliases from ``.modinfo``; that is all
it needs to write ``modules.dep`` and ``modules.alias``. This builds exactly those sections, so the
kmod oracle (``depmod -b``, ``modprobe -d ... --show-depends``) can run on generated roots.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_SECTIONS = (".symtab", ".strtab", ".shstrtab", "__ksymtab_strings", ".modinfo")


def build_ko(exports: Sequence[str], imports: Sequence[str], aliases: Sequence[str] = ()) -> bytes:
    """An ELF64 little-endian x86-64 REL object exporting ``exports`` and needing ``imports``."""
    shstrtab = b"\0" + b"".join(name.encode() + b"\0" for name in _SECTIONS)
    strtab = b"\0"
    symbols = [bytes(24)]
    for name in imports:
        offset = len(strtab)
        strtab += name.encode() + b"\0"
        # st_name, st_info (GLOBAL << 4 | NOTYPE), st_other, st_shndx (UNDEF), st_value, st_size
        symbols.append(struct.pack("<IBBHQQ", offset, 0x10, 0, 0, 0, 0))
    blobs = {
        ".symtab": b"".join(symbols),
        ".strtab": strtab,
        ".shstrtab": shstrtab,
        "__ksymtab_strings": b"".join(n.encode() + b"\0" for n in exports),
        ".modinfo": b"".join(f"alias={a}".encode() + b"\0" for a in aliases),
    }
    body = b""
    offsets: dict[str, int] = {}
    for name in _SECTIONS:
        offsets[name] = 64 + len(body)
        body += blobs[name]
        body += bytes(-len(body) % 8)
    headers = [bytes(64)]
    kinds = {".symtab": 2, ".strtab": 3, ".shstrtab": 3, "__ksymtab_strings": 1, ".modinfo": 1}
    for name in _SECTIONS:
        link, info, align, entsize = (2, 1, 8, 24) if name == ".symtab" else (0, 0, 1, 0)
        flags = 2 if kinds[name] == 1 else 0  # SHF_ALLOC
        headers.append(
            struct.pack(
                "<IIQQQQIIQQ",
                shstrtab.index(name.encode() + b"\0"),
                kinds[name],
                flags,
                0,
                offsets[name],
                len(blobs[name]),
                link,
                info,
                align,
                entsize,
            )
        )
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, 64 + len(body), 0, 64, 0, 0, 64, len(headers), 3
    )
    return header + body + b"".join(headers)
