"""The audit as a table (terminal), JSON or JUnit XML, and the progress bar (stderr). Pure,
except :func:`progress_bar`, which writes to the stream it is given."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TextIO
from xml.etree import ElementTree

from preflight.audit.model import NodeAudit
from preflight.jsonable import to_json
from preflight.readiness.model import Readiness, Status
from preflight.readiness.stated import without_facts

_MARK = {Status.TRUE: "ok", Status.FALSE: "NOT OK", Status.UNKNOWN: "unknown"}


def _cell(item: Readiness) -> str:
    return (
        _MARK[item.status] if item.status is Status.TRUE else f"{_MARK[item.status]} ({item.code})"
    )


def table(results: list[NodeAudit]) -> str:
    rows = [("NODE", "NOW", "AFTER REBOOT", "SOURCE")]
    rows += [
        (r.node, _cell(r.readiness.now), _cell(r.readiness.after_reboot), r.source) for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    bad = [r for r in results if not r.ok]
    for r in bad:
        item = next(i for i in r.readiness.conditions if i.status is not Status.TRUE)
        # The human part; the stated module facts stay in --json.
        lines.append(
            f"{r.node}: {item.condition} {item.status.value}: {without_facts(item.message)}"
        )
    ok = len(results) - len(bad)
    lines.append(f"{ok} of {len(results)} nodes ready for dind now and after their next reboot")
    return "\n".join(lines) + "\n"


def as_json(results: list[NodeAudit]) -> str:
    return json.dumps([to_json(r) for r in results], indent=2) + "\n"


def junit(results: list[NodeAudit]) -> str:
    suite = ElementTree.Element(
        "testsuite",
        name="dind-preflight audit",
        tests=str(2 * len(results)),
        failures=str(
            sum(i.status is Status.FALSE for r in results for i in r.readiness.conditions)
        ),
        skipped=str(
            sum(i.status is Status.UNKNOWN for r in results for i in r.readiness.conditions)
        ),
    )
    for r in results:
        for item in r.readiness.conditions:
            case = ElementTree.SubElement(suite, "testcase", classname=r.node, name=item.condition)
            if item.status is Status.FALSE:
                ElementTree.SubElement(case, "failure", message=item.message, type=item.code)
            elif item.status is Status.UNKNOWN:
                ElementTree.SubElement(case, "skipped", message=item.message)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def progress_bar(stream: TextIO, width: int = 30) -> Callable[[int, int], None]:
    """A progress callback drawing ``[#####.....] 37/200 nodes`` on one line of ``stream``."""

    def draw(done: int, total: int) -> None:
        filled = width * done // total if total else width
        end = "\n" if done >= total else ""
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} nodes{end}")
        stream.flush()

    return draw
