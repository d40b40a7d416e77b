"""The one remedy selector: one list of the modules a fix loads together, one catalog of texts."""

from __future__ import annotations

import pytest

from preflight.diagnosis import causes
from preflight.diagnosis.remedies import remedy

MODULE_CAUSES = [info for info in causes.CAUSES.values() if info.module]


@pytest.mark.parametrize("info", MODULE_CAUSES, ids=lambda info: info.code)
def test_a_cause_alone_gets_the_fix_of_its_own_module(info: causes.CauseInfo) -> None:
    alone = remedy(info.code)
    assert alone is not None and alone.load_now and alone.file
    assert info.module in alone.load_now.split()
    if info.module != "overlay":  # not a netfilter module: no node report names it
        assert alone == remedy(info.code, info.module)


@pytest.mark.parametrize(
    ("code", "module", "file", "load_now"),
    [
        (
            causes.IPTABLE_NAT_MISSING,
            None,
            "/etc/modules-load.d/iptable_nat.conf",
            "modprobe -a iptable_nat iptable_filter",
        ),
        (
            causes.IPTABLE_FILTER_MISSING,
            "iptable_filter",
            "/etc/modules-load.d/iptable_nat.conf",
            "modprobe -a iptable_nat iptable_filter",
        ),
        (
            causes.NF_TABLES_MISSING,
            None,
            "/etc/modules-load.d/nft_chain_nat.conf",
            "modprobe -a nft_chain_nat nf_tables",
        ),
        (
            causes.NETFILTER_MODULE_MISSING,
            "xt_addrtype",
            "/etc/modules-load.d/xt_addrtype.conf",
            "modprobe -a xt_addrtype",
        ),
    ],
)
def test_modules_that_go_together_are_loaded_together(
    code: str, module: str | None, file: str, load_now: str
) -> None:
    fix = remedy(code, module)
    assert fix is not None and (fix.file, fix.load_now) == (file, load_now)


def test_a_module_name_from_input_that_is_not_in_the_catalog_is_never_used() -> None:
    fix = remedy(causes.IPTABLE_NAT_MISSING, "evil;rm -rf /")
    assert fix is not None and fix.load_now == "modprobe -a iptable_nat iptable_filter"


def test_causes_without_a_module_get_the_catalog_text() -> None:
    fix = remedy(causes.NOT_PRIVILEGED)
    assert fix is not None and fix.text == causes.info(causes.NOT_PRIVILEGED).fix
    assert fix.load_now is None or fix.load_now == ""
    assert remedy("no-such-cause") is None
