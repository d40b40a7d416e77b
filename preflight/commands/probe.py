"""`dind-preflight probe`: is the Docker daemon behind DOCKER_HOST usable, and if not, how is it broken?"""

from __future__ import annotations

from types import SimpleNamespace

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    import argparse

NAME = "probe"
DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 3600.0
HELP = "Probe the Docker daemon behind DOCKER_HOST."
DESCRIPTION = """\
Probe the Docker daemon behind DOCKER_HOST, waiting up to --timeout for it to answer /_ping
(dind takes seconds to start). The daemon is found like the docker CLI finds it: DOCKER_HOST
(tcp://HOST:PORT or unix:///path; default unix:///var/run/docker.sock), DOCKER_TLS_VERIFY,
DOCKER_TLS and DOCKER_CERT_PATH. DOCKER_TLS_CERTDIR turns nothing on (the docker CLI never
reads it); certificates found in $DOCKER_TLS_CERTDIR/client only show in the exit-78 hint.

verdicts: healthy, refused (nothing listening), timeout (listening, no usable answer),
tls-mismatch (plain HTTP vs TLS, wrong port for the TLS setting, certificate problems),
unreachable (name does not resolve, no route), error (the daemon answered with an HTTP error),
degraded (--deep: the daemon answers but a deep step, e.g. a bridge network, failed)."""


def _seconds(text: str) -> float:
    from preflight.inputs import seconds

    return seconds(text, "--timeout", high=MAX_TIMEOUT_S)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's arguments."""
    parser.description = DESCRIPTION
    parser.add_argument(
        "--docker-host",
        metavar="URL",
        help="daemon address, overrides DOCKER_HOST (e.g. tcp://docker:2376)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long to wait for the daemon to be ready (default: {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="one attempt only, no waiting for a daemon that is still starting",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--deep",
        action="store_true",
        help="also create and remove a bridge network (exercises iptables NAT)",
    )
    parser.add_argument(
        "--daemon-log",
        metavar="FILE",
        help="dockerd's log file: for an unhealthy daemon, quote its fatal line",
    )


def defaults() -> SimpleNamespace:
    """The arguments of a bare ``dind-preflight probe``: every flag at its default.

    Built without a parser; tests/probe/test_probe_cli.py checks it equals what the parser gives.
    """
    return SimpleNamespace(
        docker_host=None,
        timeout=DEFAULT_TIMEOUT_S,
        no_wait=False,
        json=False,
        deep=False,
        daemon_log=None,
    )


def run(args: argparse.Namespace | SimpleNamespace) -> int:
    """Probe, print the summary (or JSON), and return the verdict's exit code."""
    # Every CI job pays for this process, so it skips garbage collection: none while the probe
    # modules import (~1.5 ms), and none at exit (freeze, ~3 ms). Measured in bench/run.py.
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        return _probe_and_print(args)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def _probe_and_print(args: argparse.Namespace | SimpleNamespace) -> int:
    from preflight.probe.api import endpoint_from_environment, probe
    from preflight.probe.render import human_summary
    from preflight.progress import Progress, waiting_line

    endpoint = endpoint_from_environment(args.docker_host)
    progress = Progress()
    waiting = waiting_line(endpoint.docker_host, args.timeout)

    def say_waiting() -> None:
        progress.phase(waiting)

    result = probe(
        endpoint,
        args.timeout,
        deep=args.deep,
        wait=not args.no_wait,
        daemon_log=args.daemon_log,
        give_up=say_waiting,
    )
    if args.json:
        import json

        from preflight.probe.render import result_document

        print(json.dumps(result_document(result), indent=2))
    else:
        print(human_summary(result))
    return int(result.exit_code)
