"""What a load of one name would do, as libkmod decides it (``kmod_module_new_from_lookup`` and
``kmod_module_probe_insert_module``), without loading anything.

The lookup tries, in order: aliases from modprobe.d, ``modules.dep``, install commands named
exactly, ``modules.alias`` (wildcards allowed), built-in aliases, ``modules.builtin``. A module
found through an alias carries the alias, which is what makes a plain ``modprobe`` (and the
kernel's own ``request_module``) honour ``blacklist`` for aliases only. Each found module is then
either built in, or loaded with its dependencies first, each one through its install command
when modprobe.d has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from preflight.node.kernel import KernelIndex, normalize
from preflight.node.modprobe_conf import (
    InstallEffect,
    InstallRule,
    ModprobeConfig,
    Origin,
    install_effect,
)


class Action(str, Enum):
    """One step of a load, as ``modprobe --show-depends`` prints it."""

    INSMOD = "insmod"
    INSTALL = "install"
    BUILTIN = "builtin"


@dataclass(frozen=True)
class Step:
    """Load ``module`` by ``action`` (``detail``: the module file, or the install command)."""

    module: str
    action: Action
    detail: str
    rule: InstallRule | None = None  # for INSTALL: the modprobe.d rule


class Outcome(str, Enum):
    """How the load of one looked-up module ends."""

    LOADS = "loads"  # the steps run and, as far as configuration goes, succeed
    BUILTIN = "builtin"  # nothing to do: it is part of the kernel
    BLACKLISTED = "blacklisted"  # skipped because of a blacklist
    INSTALL_FAILS = "install-fails"  # an install command fails (e.g. /bin/false)
    INSTALL_NOTHING = "install-nothing"  # an install command succeeds and loads nothing
    KERNEL_REFUSES = "kernel-refuses"  # module_blacklist= on the kernel command line
    NOT_FOUND = "not-found"  # no such module for this kernel


@dataclass(frozen=True)
class ModulePlan:
    """The load of one module found by the lookup."""

    module: str
    outcome: Outcome
    steps: tuple[Step, ...] = ()
    via_alias: str | None = None  # the alias the lookup went through, if any
    blocked_by: tuple[Origin, ...] = ()  # blacklist lines, install rules, command-line params
    blocking_module: str | None = None  # the dependency whose install rule/param blocks it


@dataclass(frozen=True)
class ProbePlan:
    """Everything a load of ``name`` would do."""

    name: str
    modules: tuple[ModulePlan, ...] = ()

    @property
    def found(self) -> bool:
        """The lookup found at least one module."""
        return bool(self.modules)

    def for_module(self, module: str) -> ModulePlan | None:
        """The plan of one looked-up module."""
        wanted = normalize(module)
        return next((p for p in self.modules if p.module == wanted), None)


def lookup(
    name: str, index: KernelIndex, config: ModprobeConfig
) -> tuple[tuple[str, str | None], ...]:
    """kmod's lookup: (module, alias-it-came-through) pairs, empty when nothing matches."""
    wanted = normalize(name)
    from_config = config.alias_targets(wanted)
    if from_config:
        # One entry per matching alias line, duplicates included, as kmod does.
        return tuple((a.module, a.pattern) for a in from_config)
    if wanted in index.modules:
        return ((wanted, None),)
    if any(rule.pattern == wanted for rule in config.install):
        return ((wanted, None),)
    from_aliases = index.match_alias(wanted)
    if from_aliases:
        return tuple((m, wanted) for m in from_aliases)
    if wanted in index.builtin:
        return ((wanted, None),)
    return ()


def plan_load(
    name: str,
    index: KernelIndex,
    config: ModprobeConfig,
    *,
    apply_blacklist: bool,
    module_blacklist: Mapping[str, Origin] | None = None,
) -> ProbePlan:
    """What loading ``name`` would do.

    ``apply_blacklist`` is ``KMOD_PROBE_APPLY_BLACKLIST`` (systemd-modules-load, ``modprobe -b``);
    without it only modules found through an alias are checked against blacklists (plain
    ``modprobe``, the kernel's ``request_module``). ``module_blacklist`` is the kernel's
    ``module_blacklist=`` list: module name -> the parameter that names it.
    """
    refused = dict(module_blacklist or {})
    plans: list[ModulePlan] = []
    for module, alias in lookup(name, index, config):
        plans.append(_plan_module(module, alias, index, config, apply_blacklist, refused))
    return ProbePlan(name, tuple(plans))


def _plan_module(
    module: str,
    alias: str | None,
    index: KernelIndex,
    config: ModprobeConfig,
    apply_blacklist: bool,
    refused: dict[str, Origin],
) -> ModulePlan:
    if module in index.builtin and module not in index.modules:
        return ModulePlan(module, Outcome.BUILTIN, (Step(module, Action.BUILTIN, module),), alias)
    blacklisted = config.blacklisted_by(module)
    if blacklisted and (apply_blacklist or alias is not None):
        return ModulePlan(module, Outcome.BLACKLISTED, (), alias, blacklisted)
    entry = index.modules.get(module)
    rule = config.install_rule(module)
    if entry is None and rule is None:
        return ModulePlan(module, Outcome.NOT_FOUND, (), alias)
    chain = [*(reversed(entry.deps) if entry else ()), module]
    steps: list[Step] = []
    for dep in chain:
        dep_rule = config.install_rule(dep)
        if dep_rule is not None:
            steps.append(Step(dep, Action.INSTALL, dep_rule.command, dep_rule))
        elif dep in index.builtin and dep not in index.modules:
            steps.append(Step(dep, Action.BUILTIN, dep))
        else:
            dep_entry = index.modules.get(dep)
            steps.append(Step(dep, Action.INSMOD, dep_entry.path if dep_entry else dep))
    return _judge(module, alias, tuple(steps), index, refused)


def _judge(
    module: str,
    alias: str | None,
    steps: tuple[Step, ...],
    index: KernelIndex,
    refused: dict[str, Origin],
) -> ModulePlan:
    """kmod stops at the first failing step: the first blocking one decides the outcome."""
    for step in steps:
        if step.rule is not None:
            # A dependency "installed" by /bin/true is missing too: the insmod after it fails.
            effect = install_effect(step.rule, step.module)
            if effect in (InstallEffect.FAILS, InstallEffect.NOTHING):
                outcome = (
                    Outcome.INSTALL_FAILS
                    if effect is InstallEffect.FAILS
                    else Outcome.INSTALL_NOTHING
                )
                return ModulePlan(module, outcome, steps, alias, (step.rule.origin,), step.module)
        if step.action is Action.INSMOD:
            if step.module in refused:
                return ModulePlan(
                    module,
                    Outcome.KERNEL_REFUSES,
                    steps,
                    alias,
                    (refused[step.module],),
                    step.module,
                )
            if step.module not in index.modules:
                return ModulePlan(module, Outcome.NOT_FOUND, steps, alias, (), step.module)
    return ModulePlan(module, Outcome.LOADS, steps, alias)
