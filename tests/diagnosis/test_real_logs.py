"""Logs that users posted in public bug reports diagnose to the cause their threads established.

Each ``real_logs/<name>.log`` is an excerpt of dockerd / dind entrypoint output copied verbatim
from a public thread (cut where the post or the stored excerpt was cut); ``<name>.json`` records
where it came from, the thread's resolution, the cause code it establishes and the kernel modules
the thread rules out. The diagnosis runs through the real entry points on the log text alone
(``service_from_log_file`` -> ``decide``): no probe, no node evidence.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from preflight.diagnosis import causes
from preflight.diagnosis.decide import decide
from preflight.diagnosis.local import service_from_log_file
from preflight.diagnosis.model import Diagnosis
from preflight.diagnosis.render import render_text

REAL_LOGS = Path(__file__).parent / "real_logs"
MINIMUM_CORPUS = 40
_MODULE_WORD = re.compile(r"[a-z0-9_]+")


@dataclass(frozen=True)
class RealLog:
    """One corpus entry: the log file and what its thread established."""

    name: str
    log: Path
    source: str
    cause: str
    ruled_out: tuple[str, ...]
    resolution: str
    log_sha256: str


def load_corpus() -> list[RealLog]:
    """Every entry of ``real_logs/``, sorted by name."""
    entries = []
    for sidecar in sorted(REAL_LOGS.glob("*.json")):
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        entries.append(
            RealLog(
                name=sidecar.stem,
                log=sidecar.with_suffix(".log"),
                source=meta["source"],
                cause=meta["cause"],
                ruled_out=tuple(meta.get("ruled_out_modules", ())),
                resolution=meta["resolution"]["quote"],
                log_sha256=meta["log_sha256"],
            )
        )
    return entries


CORPUS = load_corpus()


def diagnose_log(path: Path) -> Diagnosis:
    """The diagnosis of a log file alone, through the entry points ``diagnose`` uses."""
    return decide(None, service_from_log_file(str(path)), None)


def named_modules(diagnosis: Diagnosis) -> set[str]:
    """Kernel modules the diagnosis blames or tells the user to load."""
    named = {c.module for c in (diagnosis.cause, *diagnosis.other_causes) if c.module}
    if diagnosis.remedy is not None:
        for text in (diagnosis.remedy.load_now, diagnosis.remedy.content):
            named.update(_MODULE_WORD.findall(text or ""))
    return named


def problem(entry: RealLog) -> str | None:
    """Why ``entry`` does not diagnose as its thread says, or None when it does."""
    diagnosis = diagnose_log(entry.log)
    expected = causes.info(entry.cause)
    if diagnosis.cause.code != entry.cause:
        return f"{entry.name}: diagnosed {diagnosis.cause.code}, thread says {entry.cause}"
    if diagnosis.fault is not expected.fault:
        return f"{entry.name}: fault {diagnosis.fault.value}, expected {expected.fault.value}"
    blamed = sorted(named_modules(diagnosis) & set(entry.ruled_out))
    if blamed:
        return f"{entry.name}: names {', '.join(blamed)}, which its thread rules out"
    return None


def test_every_real_log_diagnoses_to_its_threads_cause() -> None:
    problems = [found for found in map(problem, CORPUS) if found is not None]
    score = f"{len(CORPUS) - len(problems)}/{len(CORPUS)} real logs"
    print(f"\nreal-log corpus: {score}")
    assert not problems, f"{score} diagnose as their threads say:\n" + "\n".join(problems)


def test_the_corpus_is_large_and_every_entry_is_complete() -> None:
    assert len(CORPUS) >= MINIMUM_CORPUS, f"only {len(CORPUS)} real logs"
    assert sorted(p.stem for p in REAL_LOGS.glob("*.log")) == [e.name for e in CORPUS]
    for entry in CORPUS:
        assert entry.source.startswith("https://"), entry.name
        assert entry.cause in causes.CAUSES, entry.name
        assert entry.resolution.strip(), entry.name
        assert all(_MODULE_WORD.fullmatch(m) for m in entry.ruled_out), entry.name


@pytest.mark.parametrize("entry", CORPUS, ids=[e.name for e in CORPUS])
def test_log_text_is_unchanged_since_it_was_copied(entry: RealLog) -> None:
    """The checksum taken when the excerpt was copied still holds: nobody edited the log."""
    assert hashlib.sha256(entry.log.read_bytes()).hexdigest() == entry.log_sha256


def test_a_warning_line_alone_decides_nothing(tmp_path: Path) -> None:
    """moby 27's ip6tables warning on its own leaves the cause open and stays visible as an aside
    (an "also:" cause or a "note:" line of the rendered diagnosis)."""
    warning = next(
        line
        for line in (REAL_LOGS / "warpme-miniarch-101-ip6tables-warning.log")
        .read_text(encoding="utf-8")
        .splitlines()
        if "cannot set up ip6tables chains" in line
    )
    log = tmp_path / "dind.log"
    log.write_text(warning + "\n", encoding="utf-8")
    diagnosis = diagnose_log(log)
    assert diagnosis.cause.code == causes.NOT_ESTABLISHED
    asides = [
        line
        for line in render_text(diagnosis).splitlines()
        if line.startswith(("  also:", "  note:"))
    ]
    assert any("ip6table" in line for line in asides), asides
