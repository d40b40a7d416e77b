"""`dind-preflight node-report`: flags, output, exit codes, and this very machine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from preflight.cli import main
from preflight.node.module_sets import module_set, union
from tests.node import profiles
from tests.node.privileges import as_nobody


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["node-report", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_healthy_node_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = profiles.healthy(tmp_path)
    code, out, err = run(capsys, "--root", str(root.path), "--backend", "legacy")
    assert (code, err) == (0, "")
    assert "iptables backend checked: legacy (--backend legacy)" in out
    assert re.search(
        r"\n  iptable_nat +loaded +yes +listed in /etc/modules-load.d/dind.conf:1", out
    )


def test_field_report_exits_1_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = profiles.centos8_field_report(tmp_path, "before")
    code, out, _ = run(capsys, "--root", str(root.path), "--backend", "legacy")
    assert code == 1
    assert "etc-modules-not-read iptable_nat" in out
    assert "1. Write /etc/modules-load.d/iptable_nat.conf:\n                 iptable_nat\n" in out


def test_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = profiles.centos8_field_report(tmp_path, "before")
    code, out, _ = run(capsys, "--root", str(root.path), "--json", "--backend", "legacy")
    assert code == 1
    data = json.loads(out)
    assert (data["backend"], data["checked"]) == ("legacy", ["iptable_nat", "iptable_filter"])
    assert data["kernel"] == profiles.CENTOS8_NEW
    nat = data["modules"]["iptable_nat"]
    assert {k: nat[k] for k in ("loaded", "builtin", "available", "loads_at_boot")} == {
        "loaded": False,
        "builtin": False,
        "available": True,
        "loads_at_boot": False,
    }
    assert nat["listed_in"] == [] and nat["blocked_by"] == []
    assert nat["ignored"][0]["path"] == "/etc/modules"
    finding = next(f for f in data["findings"] if f["code"] == "etc-modules-not-read")
    assert set(finding) >= {"code", "severity", "module", "message", "remedy"}
    assert finding["remedy"]["file"] == "/etc/modules-load.d/iptable_nat.conf"
    assert finding["remedy"]["content"] == "iptable_nat\niptable_filter\n"
    assert [k["release"] for k in data["kernels"]] == [profiles.CENTOS8_NEW, profiles.CENTOS8_OLD]
    assert data["iptables"]["legacy_nat_autoload"] is True


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--module", "overlay"], ["overlay"]),
        (["--module", "+br_netfilter"], ["iptable_nat", "iptable_filter", "br_netfilter"]),
        (
            ["--module", "overlay,+veth", "--module", "br-netfilter"],
            ["overlay", "br_netfilter", "veth"],
        ),
    ],
)
def test_module_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], expected: list[str]
) -> None:
    root = profiles.healthy(tmp_path)
    _, out, _ = run(capsys, "--root", str(root.path), "--json", *flags)
    assert list(json.loads(out)["modules"]) == expected


@pytest.mark.parametrize(
    ("flags", "backend", "checked"),
    [
        # Default: every backend a project's dind image may use (legacy-only images included);
        # "backend" still says what a current docker:dind would pick (no legacy table here).
        ([], "nf_tables", ["iptable_nat", "iptable_filter", "nft_chain_nat"]),
        (["--backends", "nft"], "nf_tables", ["nft_chain_nat"]),
        (["--backend", "legacy"], "legacy", ["iptable_nat", "iptable_filter"]),
        (["--backend", "nft"], "nf_tables", ["nft_chain_nat"]),
    ],
)
def test_backend_flag(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    backend: str,
    checked: list[str],
) -> None:
    root = profiles.healthy(tmp_path)
    _, out, _ = run(capsys, "--root", str(root.path), "--json", *flags)
    data = json.loads(out)
    assert (data["backend"], data["checked"]) == (backend, checked)
    # both sets are in the report (the diagnosis needs whichever dind used) ...
    assert set(data["modules"]) == set(union("legacy", "nf_tables"))
    # ... but the modules of a backend not checked never make a finding
    served = {m for name in data["backends"] for m in module_set(name).all}
    others = set(union("legacy", "nf_tables")) - served
    assert not [f for f in data["findings"] if f["module"] in others]


def test_on_an_nf_tables_node_unloaded_legacy_modules_are_no_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = profiles.rocky9(tmp_path)
    # The admin narrowed what the node must serve to current (nf_tables) images.
    _, out, _ = run(capsys, "--root", str(root.path), "--json", "--backends", "nft")
    data = json.loads(out)
    assert data["backend"] == "nf_tables", data["backend_reason"]
    assert data["backends"] == ["nf_tables"]
    assert not data["modules"]["iptable_nat"]["loaded"]
    assert not [f for f in data["findings"] if (f["module"] or "").startswith("iptable_")]


def test_bad_backends_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--root", str(tmp_path), "--backends", "legacy,ebpf")
    assert code == 64 and "unknown backend 'ebpf'" in err


def test_module_and_backend_exclude_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--root", str(tmp_path), "--module", "x", "--backend", "nft")
    assert code == 64 and "exclude each other" in err


@pytest.mark.parametrize("value", ["nf_nat opt=1", "", "a/b", "x" * 65, "+"])
def test_bad_module_name_is_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, out, err = run(capsys, "--root", str(tmp_path), "--module", value)
    assert (code, out) == (64, "")
    assert err.startswith("dind-preflight: error: --module") and err.count("\n") == 1


def test_unknown_flag_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["node-report", "--kernel", "x"])
    assert exit_info.value.code == 64
    assert "unrecognized arguments: --kernel x" in capsys.readouterr().err


@pytest.mark.parametrize("what", ["missing", "file", "proc-missing"])
def test_bad_root_exits_66(tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str) -> None:
    (tmp_path / "file").write_text("x")
    argv = {
        "missing": ["--root", str(tmp_path / "nope")],
        "file": ["--root", str(tmp_path / "file")],
        "proc-missing": ["--root", str(tmp_path), "--proc", str(tmp_path / "nope")],
    }[what]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (66, "")
    message = {
        "missing": f"host root {tmp_path / 'nope'} does not exist",
        "file": f"host root {tmp_path / 'file'} is not a directory",
        "proc-missing": f"proc directory {tmp_path / 'nope'} does not exist",
    }[what]
    assert err == f"dind-preflight: error: {message}\n"


def test_unreadable_root_exits_66(public_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = public_tmp / "root"
    root.mkdir(mode=0o700)
    main(["node-report", "--root", str(public_tmp)])  # lazy imports, as root
    capsys.readouterr()
    with as_nobody():
        code = main(["node-report", "--root", str(root)])
    _, err = capsys.readouterr()
    assert code == 66
    assert err == f"dind-preflight: error: host root {root} cannot be read: Permission denied\n"


def test_empty_root_is_an_answer_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--root", str(tmp_path), "--json")
    assert (code, err) == (1, "")
    data = json.loads(out)
    assert data["kernel"] is None
    assert any("no proc directory" in note for note in data["notes"])
    assert {f["code"] for f in data["findings"]} == {"module-state-unknown"}


def test_this_machine(tmp_path: Path) -> None:
    """The real `/` of the machine running the tests, through the installed console script."""
    script = Path(sys.executable).parent / "dind-preflight"
    result = subprocess.run(
        [str(script), "node-report"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode in (0, 1), result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith(f"node-report for / (kernel {os.uname().release})")
    as_json = subprocess.run(
        [str(script), "node-report", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    data = json.loads(as_json.stdout)
    if not os.path.exists("/proc/modules"):
        # No loadable-module support here: the report must say so (or say what it cannot see).
        codes = {f["code"] for f in data["findings"]}
        assert codes & {"no-module-support", "module-state-unknown"}
        assert data["module_support"] in (False, None)
        if data["module_support"] is False:
            assert "no loadable module support" in result.stdout
            for name in data["checked"]:
                state = data["modules"][name]
                assert state["loaded_source"] == "kernel-config"
                assert state["loaded"] == state["builtin"]


def test_unknown_is_exit_2_with_its_own_result_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No fault found, but what is loaded cannot be read: neither OK nor NOT OK."""
    root = profiles.debian12(tmp_path)
    (root.path / "proc/modules").unlink()
    code, out, _ = run(capsys, "--root", str(root.path))
    last = out.rstrip().splitlines()[-1]
    assert code == 2 and last.startswith("result: UNKNOWN (legacy, nf_tables): cannot judge"), last
