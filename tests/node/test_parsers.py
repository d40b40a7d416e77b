"""Tables of cases for the pure parsers and decisions behind the node analysis."""

from __future__ import annotations

import pytest

from preflight.node.api import analyze_loaded_only
from preflight.node.cmdline import parse_cmdline, split_words
from preflight.node.kernel import (
    AliasTable,
    module_name_from_path,
    normalize,
    parse_builtin_modinfo,
    parse_kernel_config,
    parse_modules_dep,
    parse_proc_modules,
    release_sort_key,
)
from preflight.node.modprobe_conf import (
    InstallEffect,
    InstallRule,
    Origin,
    install_effect,
    is_conf_name,
    logical_lines,
    parse_modprobe_file,
)
from preflight.node.modules_load import split_lines
from preflight.node.remedy import edit_cmdline, lsmod_check, persistence, without_lines


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("iptable-nat", "iptable_nat"),
        ("nft-chain-2-nat", "nft_chain_2_nat"),
        ("pci:v[0-9]*-x", "pci:v[0-9]*_x"),
        ("plain", "plain"),
    ],
)
def test_normalize(name: str, expected: str) -> None:
    assert normalize(name) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("kernel/net/ipv4/netfilter/iptable_nat.ko.xz", "iptable_nat"),
        ("kernel/net/ipv4/netfilter/iptable_nat.ko.zst", "iptable_nat"),
        ("kernel/net/ipv4/netfilter/iptable_nat.ko.gz", "iptable_nat"),
        ("extra/nvidia-drm.ko", "nvidia_drm"),
        ("kernel/fs/.ko", None),
        ("modules.dep", None),
    ],
)
def test_module_name_from_path(path: str, expected: str | None) -> None:
    assert module_name_from_path(path) == expected


def test_parse_modules_dep() -> None:
    text = (
        "kernel/net/ipv4/netfilter/iptable_nat.ko.xz: kernel/net/netfilter/nf_nat.ko.xz "
        "kernel/net/ipv4/netfilter/ip_tables.ko.xz\n"
        "kernel/net/netfilter/nf_nat.ko.xz:\n"
        "garbage without colon\n"
        "kernel/net/netfilter/nf_nat.ko: \n"
    )
    modules = parse_modules_dep(text)
    assert list(modules) == ["iptable_nat", "nf_nat"]
    assert modules["iptable_nat"].deps == ("nf_nat", "ip_tables")
    assert modules["nf_nat"].path == "kernel/net/netfilter/nf_nat.ko.xz"


def test_aliases_and_builtin_modinfo() -> None:
    aliases = (("nft_chain_2_nat", "nft_chain_nat"), ("net_pf_16_proto_*", "nfnetlink_x"))
    table = AliasTable.build(aliases)
    assert table.match("nft-chain-2-nat") == ("nft_chain_nat",)
    assert table.match("net-pf-16-proto-12") == ("nfnetlink_x",)
    assert table.match("nft-chain-10-nat") == ()
    names, pairs = parse_builtin_modinfo(
        b"iptable_nat.license=GPL\0nft_chain_nat.alias=nft-chain-2-nat\0bogus\0"
    )
    assert names == {"iptable_nat", "nft_chain_nat"}
    assert pairs == (("nft_chain_2_nat", "nft_chain_nat"),)


def test_parse_proc_modules() -> None:
    text = (
        "iptable_nat 16384 1 - Live 0xffffffffc0a8a000\n"
        "nf_nat 49152 3 iptable_nat,xt_MASQUERADE, Live 0x0\n"
        "dying 1 0 - Unloading 0x0\n"
    )
    loaded = parse_proc_modules(text)
    assert loaded["nf_nat"].used_by == ("iptable_nat", "xt_MASQUERADE")
    assert loaded["dying"].state == "Unloading"


def test_parse_kernel_config() -> None:
    text = 'CONFIG_MODULES=y\n# CONFIG_IP_NF_NAT is not set\nCONFIG_LOCALVERSION="-x"\n# comment\n'
    assert parse_kernel_config(text) == {
        "CONFIG_MODULES": "y",
        "CONFIG_IP_NF_NAT": "n",
        "CONFIG_LOCALVERSION": "-x",
    }


def test_release_order() -> None:
    releases = ["4.18.0-80.el8", "4.18.0-348.7.1.el8_5", "4.18.0-305.3.1.el8", "5.14.0-70.el9"]
    assert sorted(releases, key=release_sort_key) == [
        "4.18.0-80.el8",
        "4.18.0-305.3.1.el8",
        "4.18.0-348.7.1.el8_5",
        "5.14.0-70.el9",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb\n", [(1, "a"), (2, "b")]),
        ("  a  \r\n\n\tb", [(1, "a"), (3, "b")]),
        ("a\0b\rc\n", [(1, "a"), (1, "b"), (1, "c")]),
        ("# x\n;y\n", [(1, "# x"), (2, ";y")]),
    ],
)
def test_systemd_line_splitting(text: str, expected: list[tuple[int, str]]) -> None:
    assert split_lines(text.encode()) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb", [(1, 1, "a"), (2, 2, "b")]),
        ("install x \\\n  /bin/false\nnext\n", [(1, 2, "install x   /bin/false"), (3, 3, "next")]),
        ("a\\b\n", [(1, 1, "ab")]),
    ],
)
def test_kmod_logical_lines(text: str, expected: list[tuple[int, int, str]]) -> None:
    assert logical_lines(text) == expected


def test_parse_modprobe_file() -> None:
    text = (
        "# comment\n"
        "blacklist iptable-nat\n"
        "  blacklist\tnf_nat extra\n"
        " # not a comment for kmod, a bad line\n"
        "install iptable_filter /bin/false --flag\n"
        "install lonely\n"
        "alias nft-x nft_chain_nat\n"
        "options nf_conntrack hashsize=1\n"
    )
    config = parse_modprobe_file("/etc/modprobe.d/x.conf", text)
    assert [b for b, _ in config.blacklist] == ["iptable_nat", "nf_nat"]
    assert [(r.pattern, r.command, r.origin.line) for r in config.install] == [
        ("iptable_filter", "/bin/false --flag", 5)
    ]
    assert [(a.pattern, a.module) for a in config.aliases] == [("nft_x", "nft_chain_nat")]
    assert config.blacklisted_by("iptable_nat")[0].line == 2
    assert config.install_rule("iptable-filter") is not None


@pytest.mark.parametrize(
    ("command", "effect"),
    [
        ("/bin/false", InstallEffect.FAILS),
        ("/usr/bin/false", InstallEffect.FAILS),
        ("exit 1", InstallEffect.FAILS),
        ("exit 0", InstallEffect.NOTHING),
        ("/bin/true", InstallEffect.NOTHING),
        (":", InstallEffect.NOTHING),
        ("/sbin/modprobe --ignore-install iptable_nat $CMDLINE_OPTS", InstallEffect.LOADS),
        ("/sbin/insmod /opt/iptable_nat.ko", InstallEffect.LOADS),
        ("/usr/local/bin/log-it", InstallEffect.UNKNOWN),
        ("echo 'unbalanced", InstallEffect.UNKNOWN),
    ],
)
def test_install_effect(command: str, effect: InstallEffect) -> None:
    rule = InstallRule("iptable_nat", command, Origin("/etc/modprobe.d/x.conf", 1, command))
    assert install_effect(rule, "iptable_nat") is effect


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("a.conf", True),
        ("a.alias", True),
        (".a.conf", False),
        ("a.conf~", False),
        ("conf", False),
        (".conf", False),
    ],
)
def test_kmod_file_names(name: str, read: bool) -> None:
    assert is_conf_name(name) is read


@pytest.mark.parametrize(
    ("text", "load", "initrd", "modprobe_bl", "module_bl"),
    [
        ("ro modules_load=a,b modules-load=c", ["a", "b", "c"], [], [], []),
        ('quiet "modules_load=a,b" rd.modules-load=x', ["a", "b"], ["x"], [], []),
        ("modprobe.blacklist=iptable-nat,x y", [], [], ["iptable-nat", "x"], []),
        ("module_blacklist=a module-blacklist=b,c", [], [], [], ["b", "c"]),
        ("ro -- module_blacklist=a modules_load=z", ["z"], [], [], []),
        ("modules_load modules_load= modules_load=,a,,", ["a"], [], [], []),
    ],
)
def test_cmdline(
    text: str, load: list[str], initrd: list[str], modprobe_bl: list[str], module_bl: list[str]
) -> None:
    parsed = parse_cmdline(text)
    assert [e.module for e in parsed.modules_load] == load
    assert [e.module for e in parsed.initrd_modules_load] == initrd
    assert [e.module for e in parsed.modprobe_blacklist] == modprobe_bl
    assert [e.module for e in parsed.module_blacklist] == module_bl


def test_split_words_quotes() -> None:
    assert split_words("a 'b c' \"d e\"f g") == ["a", "b c", "d ef", "g"]


@pytest.mark.parametrize(
    ("modules", "command"),
    [
        (["iptable_nat", "iptable_filter"], "lsmod | grep iptable"),
        (["br_netfilter"], "lsmod | grep br_netfilter"),
        (["overlay", "br_netfilter"], "lsmod | grep -E '^overlay |^br_netfilter '"),
    ],
)
def test_lsmod_check(modules: list[str], command: str) -> None:
    assert lsmod_check(modules) == command


def test_persistence_remedy_for_the_field_report() -> None:
    fix = persistence(["iptable_nat", "iptable_filter"])
    assert (fix.file, fix.content, fix.load_now, fix.verify) == (
        "/etc/modules-load.d/iptable_nat.conf",
        "iptable_nat\niptable_filter\n",
        "modprobe -a iptable_nat iptable_filter",
        "lsmod | grep iptable",
    )


def test_without_lines_drops_continuations() -> None:
    text = "a\ninstall x \\\n /bin/false\nb\n"
    assert without_lines(text, [Origin("/f", 2, "install x  /bin/false", 3)]) == "a\nb\n"


def test_edit_cmdline_without_grubby() -> None:
    fix = edit_cmdline("module_blacklist=iptable_nat", "iptable_nat", has_grubby=False)
    assert fix.load_now is None
    assert "GRUB_CMDLINE_LINUX" in fix.text and "by nothing" in fix.text


def test_loaded_only_fallback() -> None:
    report = analyze_loaded_only(
        "iptable_filter 16384 0 - Live 0x0\nip_tables 32768 1 iptable_filter, Live 0x0\n",
        "5.15.0-91-generic",
        ip_tables_names="filter\n",
    )
    assert report.evidence_source == "job-proc"
    nat, flt = report.modules["iptable_nat"], report.modules["iptable_filter"]
    assert (flt.loaded, flt.loads_at_boot_known) == (True, False)
    assert (nat.loaded, nat.loaded_known, nat.loads_at_boot) == (False, True, False)
    assert {f.code for f in report.findings} == {"boot-persistence-unknown", "module-not-loaded"}
    assert not report.ok
    assert report.iptables.backend_hint == "legacy"
