"""The part of a dind service log worth showing: the lines that matched, with their context (pure).

A dying dockerd logs dozens of grpc and containerd lines before the one that says why; the job
log, the issue and the JUnit report quote only the matched lines and the lines around them.
"""

from __future__ import annotations

from preflight.diagnosis.model import ServiceEvidence

CONTEXT_LINES = 2  # lines after a matched line: dockerd continues an error on them
TAIL_WITHOUT_MATCH = 5  # a dead service whose log matched nothing: its last lines


def log_excerpt(service: ServiceEvidence) -> list[str]:
    """Matched lines and the ``CONTEXT_LINES`` after each (``...`` between runs), in log order,
    each distinct line once.

    A matched line that is no longer in the tail is quoted alone; without any match, a dead
    service shows its last ``TAIL_WITHOUT_MATCH`` non-empty lines and a live one nothing.
    """
    tail = service.log_tail
    matched = list(dict.fromkeys(m.line for m in service.matches))
    if not matched:
        if not service.dead:
            return []
        return [line for line in tail if line.strip()][-TAIL_WITHOUT_MATCH:]
    wanted = {line.strip() for line in matched}
    keep: set[int] = set()
    for index, line in enumerate(tail):
        if line.strip() in wanted:
            keep.update(range(index, min(len(tail), index + CONTEXT_LINES + 1)))
    found = {tail[i].strip() for i in keep}
    out = [line for line in matched if line.strip() not in found]
    shown = set()
    previous = -2
    for index in sorted(keep):
        text = tail[index].strip()
        if not text or text in shown:  # a crash loop repeats its lines: quote each once
            continue
        if previous >= 0 and index != previous + 1:
            out.append("...")
        out.append(tail[index])
        shown.add(text)
        previous = index
    return out
