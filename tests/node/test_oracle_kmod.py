"""Differential test: lookups, dependencies, blacklists and install rules, against kmod itself.

For each generated root we write real (minimal) ELF modules with symbol dependencies and aliases,
run ``depmod -b ROOT KVER``, then ask ``modprobe -d ROOT -S KVER -C DIR... [-b] --show-depends
NAME`` what loading NAME would do, and compare with :func:`plan_load` printed the same way.
Module names carry a ``dpfk`` prefix so that nothing on the machine (its /sys/module, its
/proc/cmdline) can influence kmod's answer.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preflight.node.analysis import kernel_index, modprobe_config
from preflight.node.gather import gather
from preflight.node.modprobe_conf import MODPROBE_DIRS
from preflight.node.probe_plan import Action, Outcome, ProbePlan, plan_load
from tests.node.elfmod import build_ko
from tests.node.rootbuilder import HostRoot

KVER = "6.1.0-dpfk"
MODULES = [f"dpfk_m{i}" for i in range(6)]
BUILTIN = ["dpfk_b0", "dpfk_b1"]
ALIASES = ["dpfk-chain-2-nat", "dpfk-fs-x", "dpfk-net-*"]


def tool(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/sbin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail(f"{name} is not installed (make test installs kmod)")


def spelled(name: str, dashed: bool) -> str:
    return name.replace("_", "-") if dashed else name


@st.composite
def kmod_roots(draw: st.DrawFn) -> dict[str, object]:
    """A module graph (a DAG over MODULES), aliases, and modprobe.d files in several directories."""
    deps: dict[str, list[str]] = {}
    for i, name in enumerate(MODULES):
        deps[name] = draw(st.lists(st.sampled_from(MODULES[:i]), unique=True)) if i else []
    aliases = {a: draw(st.sampled_from(MODULES)) for a in ALIASES if draw(st.booleans())}
    # Few targets, so that rules often compete for the same module (first install rule wins).
    targets = ["dpfk_m3", "dpfk_m5", "dpfk_m*", "dpfk_m[0-2]", "dpfk_missing"]
    line = st.one_of(
        st.builds(
            lambda m, d: f"blacklist {spelled(m, d)}",
            st.sampled_from(["dpfk_m1", "dpfk_m3", "dpfk_m5"]),
            st.booleans(),
        ),
        st.builds(
            lambda m, c, d: f"install {spelled(m, d)} {c}",
            st.sampled_from(targets),
            st.sampled_from(["/bin/false", "/bin/true", "/sbin/modprobe --ignore-install x"]),
            st.booleans(),
        ),
        st.builds(
            lambda a, m: f"alias {a} {m}",
            st.sampled_from(["dpfk-cfg", "dpfk-chain-2-nat"]),
            st.sampled_from([*MODULES, "dpfk_missing"]),
        ),
        st.sampled_from(["# comment", "bogus line here", "", "blacklist \\\n dpfk_m2"]),
    )
    files: dict[str, object] = {}
    for directory in MODPROBE_DIRS:
        for name in draw(
            st.lists(
                st.sampled_from(["a.conf", "b.conf", "c.alias", "d.txt"]), max_size=2, unique=True
            )
        ):
            path = f"{directory}/{name}"
            if draw(st.integers(0, 6)) == 0:
                files[path] = None  # a /dev/null mask
            else:
                files[path] = draw(st.lists(line, max_size=5))
    return {"deps": deps, "aliases": aliases, "files": files}


def build(base: Path, spec: dict[str, object]) -> HostRoot:
    root = HostRoot(base)
    deps = spec["deps"]
    aliases = spec["aliases"]
    assert isinstance(deps, dict) and isinstance(aliases, dict)
    for name, needs in deps.items():
        exported = [f"sym_{name}"]
        own_aliases = [a for a, m in aliases.items() if m == name]
        ko = build_ko(exported, [f"sym_{d}" for d in needs], own_aliases)
        root.file(f"/lib/modules/{KVER}/kernel/dpfk/{name}.ko", ko)
    root.lines(f"/lib/modules/{KVER}/modules.builtin", *(f"kernel/dpfk/{b}.ko" for b in BUILTIN))
    files = spec["files"]
    assert isinstance(files, dict)
    for path, lines in files.items():
        if lines is None:
            root.symlink(path, "/dev/null")
        else:
            root.file(path, "".join(f"{line}\n" for line in lines))
    result = subprocess.run(
        [tool("depmod"), "-b", str(root.path), KVER], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return root


def oracle(root: HostRoot, name: str, blacklist: bool) -> tuple[bool, list[str]]:
    """(found, --show-depends lines with the root prefix removed)."""
    command = [tool("modprobe"), "-d", str(root.path), "-S", KVER]
    for directory in MODPROBE_DIRS:
        command += ["-C", str(root.host(directory))]
    command += ["-b"] if blacklist else []
    command += ["--show-depends", name]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        assert "not found" in result.stderr, result.stderr
        return False, []
    lines = [line.rstrip().replace(str(root.path), "") for line in result.stdout.splitlines()]
    return True, lines


def show_depends(plan: ProbePlan) -> list[str]:
    """Our plan as ``modprobe --show-depends`` prints it, to compare with the oracle."""
    lines: list[str] = []
    for module_plan in plan.modules:
        if module_plan.outcome is Outcome.BLACKLISTED:
            continue
        for step in module_plan.steps:
            if step.action is Action.BUILTIN:
                lines.append(f"builtin {step.module}")
            elif step.action is Action.INSTALL:
                lines.append(f"install {step.detail}")
            else:
                lines.append(f"insmod {step.detail}")
    return lines


def ours(root: HostRoot) -> Callable[[str, bool], tuple[bool, list[str]]]:
    """Our answer for (name, blacklist), from one reading of the root."""
    facts = gather(str(root.path), None, [])
    index = kernel_index(next(k for k in facts.kernels if k.release == KVER))
    config, _ = modprobe_config(facts.modprobe_dirs)

    def answer(name: str, blacklist: bool) -> tuple[bool, list[str]]:
        plan = plan_load(name, index, config, apply_blacklist=blacklist)
        lines = [
            line.replace("insmod kernel/", f"insmod /lib/modules/{KVER}/kernel/")
            for line in show_depends(plan)
        ]
        return plan.found, lines

    return answer


QUERIES = [*MODULES, "dpfk-m3", *BUILTIN, *ALIASES[:2], "dpfk-net-eth", "dpfk-cfg", "dpfk_none"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=kmod_roots())
def test_show_depends_matches_kmod(spec: dict[str, object]) -> None:
    base = Path(tempfile.mkdtemp(prefix="dpf-kmod-"))
    try:
        root = build(base / "root", spec)
        answer = ours(root)
        for name in QUERIES:
            for blacklist in (False, True):
                assert answer(name, blacklist) == oracle(root, name, blacklist), (
                    name,
                    blacklist,
                )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_field_report_modules_against_kmod(tmp_path: Path) -> None:
    """The real netfilter graph: iptable_nat's dependencies, a blacklist, an install rule."""
    root = HostRoot(tmp_path / "root")
    root.kernel(KVER, real_ko=True, ext=".ko", with_index=False)
    root.lines("/etc/modprobe.d/a.conf", "blacklist iptable_nat", "install nf_nat /bin/false")
    subprocess.run([tool("depmod"), "-b", str(root.path), KVER], check=True, capture_output=True)
    answer = ours(root)
    for name in ("iptable_nat", "iptable-filter", "nft-chain-2-nat", "fs-overlay"):
        for blacklist in (False, True):
            assert answer(name, blacklist) == oracle(root, name, blacklist), (name, blacklist)
    facts = gather(str(root.path), None, [])
    index = kernel_index(facts.kernels[0])
    config, _ = modprobe_config(facts.modprobe_dirs)
    boot = plan_load("iptable_nat", index, config, apply_blacklist=True).for_module("iptable_nat")
    assert boot is not None and boot.outcome is Outcome.BLACKLISTED
    plain = plan_load("iptable_nat", index, config, apply_blacklist=False).for_module("iptable_nat")
    assert plain is not None and plain.outcome is Outcome.INSTALL_FAILS
    assert plain.blocking_module == "nf_nat"
