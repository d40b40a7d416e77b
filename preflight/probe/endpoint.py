"""Which daemon to probe and how: ``DOCKER_HOST`` and the TLS settings, resolved like the docker CLI.

Pure functions over the environment (a mapping) and a file-existence predicate; no I/O here.
The parsing mirrors docker/cli ``opts/hosts.go`` (``ParseHost``, ``ParseTCPAddr``) and the TLS
defaults mirror ``cli/flags/options.go``:

- ``DOCKER_HOST`` (or ``--docker-host``) empty: ``unix:///var/run/docker.sock``, or
  ``tcp://localhost:2376`` when TLS is on; ``HOST:PORT`` without a scheme means ``tcp://``, a
  path (``/...``, ``./...``) means ``unix://``; a missing TCP port is ``2375`` (the CLI uses 2375
  even with TLS: only the empty host defaults to 2376).
- TLS is on when ``DOCKER_TLS_VERIFY`` or ``DOCKER_TLS`` is non-empty (any value, even ``0``);
  ``DOCKER_TLS_VERIFY`` also verifies the server. Files come from ``DOCKER_CERT_PATH`` (default
  ``$DOCKER_CONFIG`` or ``~/.docker``): ``ca.pem`` always, ``cert.pem``/``key.pem`` when present.
- ``DOCKER_TLS_CERTDIR`` turns nothing on: the docker CLI never reads it. Only the docker:cli
  image's entrypoint (``docker-entrypoint.sh``) turns it into ``DOCKER_TLS_VERIFY=1`` and
  ``DOCKER_CERT_PATH=$DOCKER_TLS_CERTDIR/client``, and GitLab's Kubernetes executor skips image
  entrypoints by default (``FF_KUBERNETES_HONOR_ENTRYPOINT``). The probe resolves the endpoint as
  the job's own ``docker`` will; certificates found in ``$DOCKER_TLS_CERTDIR/client`` while TLS
  is off only feed the hint of a TLS mismatch (``Endpoint.unused_certdir``).
- TLS settings apply to ``tcp://`` only; ``ssh://``, ``fd://`` and ``npipe://`` are valid for the
  CLI but cannot be probed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from preflight.errors import UsageError

DEFAULT_UNIX_SOCKET = "/var/run/docker.sock"
DEFAULT_HOST = "unix://" + DEFAULT_UNIX_SOCKET
DEFAULT_HTTP_HOST = "localhost"
DEFAULT_HTTP_PORT = 2375
DEFAULT_TLS_PORT = 2376
DEFAULT_TCP_HOST = f"tcp://{DEFAULT_HTTP_HOST}:{DEFAULT_HTTP_PORT}"
DEFAULT_TLS_HOST = f"tcp://{DEFAULT_HTTP_HOST}:{DEFAULT_TLS_PORT}"

MAX_SOCKET_PATH_BYTES = 107  # sockaddr_un.sun_path holds 108 bytes with the final NUL
CA_FILE = "ca.pem"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"

# Characters Go's net/url accepts in a host name, besides letters, digits and non-ASCII bytes.
_HOST_PUNCTUATION = frozenset("!$&'()*+,;=:[]<>\"-_.~")
_USERINFO = re.compile(r"//[^/@]*@")


@dataclass(frozen=True)
class TLSSettings:
    """TLS as the docker CLI would use it against a ``tcp://`` daemon."""

    verify: bool  # verify the server certificate (DOCKER_TLS_VERIFY); otherwise encrypt only
    ca_file: str  # always loaded by the CLI, even without verification
    cert_file: str | None  # client certificate, when the file exists
    key_file: str | None  # its key, when the file exists
    cert_path: str  # the directory the files come from
    source: str  # what turned TLS on: DOCKER_TLS_VERIFY | DOCKER_TLS


@dataclass(frozen=True)
class Endpoint:
    """One daemon address: a TCP host and port (maybe with TLS) or a unix socket path."""

    docker_host: str  # normalised, as the docker CLI prints it (e.g. tcp://docker:2375)
    scheme: str  # "tcp" or "unix"
    host: str = ""  # tcp: host name or IP literal (no brackets)
    port: int = 0  # tcp: port
    socket_path: str = ""  # unix: socket path
    base_path: str = ""  # tcp: path prefix of every API request ("" or "/prefix")
    tls: TLSSettings | None = None
    host_source: str = "default"  # --docker-host | DOCKER_HOST | default
    # $DOCKER_TLS_CERTDIR/client when it holds client certificates the CLI will not use (TLS off)
    unused_certdir: str = ""

    @property
    def address(self) -> str:
        """Where the probe connects, for messages: ``HOST:PORT`` or the socket path."""
        if self.scheme == "unix":
            return self.socket_path
        return join_host_port(self.host, str(self.port))


class HostError(ValueError):
    """A DOCKER_HOST value the docker CLI would reject (message in the CLI's words)."""


def resolve_endpoint(
    env: Mapping[str, str],
    docker_host: str | None = None,
    exists: Callable[[str], bool] = lambda path: False,
) -> Endpoint:
    """The endpoint the docker CLI would use, from ``env`` and an optional ``--docker-host``.

    ``exists(path)`` says whether a certificate file exists (the CLI drops missing client
    cert/key files). Raises :class:`UsageError` (exit 64) for values the CLI rejects and for
    schemes the probe cannot use.
    """
    if docker_host is not None:
        raw, source = docker_host, "--docker-host"
    elif env.get("DOCKER_HOST", "").strip():
        raw, source = env["DOCKER_HOST"], "DOCKER_HOST"
    else:
        raw, source = "", "default"
    tls = resolve_tls(env, exists=exists)
    try:
        normalised = parse_host(raw, default_to_tls=tls is not None)
    except HostError as exc:
        raise UsageError(mask_userinfo(f"invalid {source} {raw!r}: {exc}")) from None
    scheme, _, rest = normalised.partition("://")
    if scheme == "unix":
        if len(rest.encode()) > MAX_SOCKET_PATH_BYTES:
            raise UsageError(
                f"{source}={normalised}: the socket path is longer than "
                f"{MAX_SOCKET_PATH_BYTES} bytes, the limit of unix sockets"
            )
        return Endpoint(normalised, "unix", socket_path=rest, host_source=source)
    if scheme != "tcp":
        raise UsageError(
            f"{source}={mask_userinfo(normalised)}: the probe supports tcp:// and unix:// "
            f"daemons only, not {scheme}://"
        )
    hostport, slash, path = rest.partition("/")
    host, port_text = split_host_port(hostport)
    port = int(port_text)
    if not 0 < port < 65536:
        raise UsageError(f"invalid {source} {mask_userinfo(raw)!r}: port {port} is out of range")
    return Endpoint(
        normalised,
        "tcp",
        host=host,
        port=port,
        base_path=(slash + path).rstrip("/"),
        tls=tls,
        host_source=source,
        unused_certdir="" if tls is not None else unused_certdir(env, exists),
    )


def resolve_tls(env: Mapping[str, str], *, exists: Callable[[str], bool]) -> TLSSettings | None:
    """The TLS settings from the environment, or ``None`` when TLS is off (as the docker CLI)."""
    verify = env.get("DOCKER_TLS_VERIFY", "") != ""
    enabled = verify or env.get("DOCKER_TLS", "") != ""
    source = "DOCKER_TLS_VERIFY" if verify else "DOCKER_TLS"
    cert_path = env.get("DOCKER_CERT_PATH", "")
    if not enabled:
        return None
    if not cert_path:
        cert_path = env.get("DOCKER_CONFIG", "") or f"{env.get('HOME', '')}/.docker"
    cert_path = cert_path.rstrip("/") or "/"
    cert = f"{cert_path}/{CERT_FILE}"
    key = f"{cert_path}/{KEY_FILE}"
    return TLSSettings(
        verify=verify,
        ca_file=f"{cert_path}/{CA_FILE}",
        cert_file=cert if exists(cert) else None,
        key_file=key if exists(key) else None,
        cert_path=cert_path,
        source=source,
    )


def unused_certdir(env: Mapping[str, str], exists: Callable[[str], bool]) -> str:
    """``$DOCKER_TLS_CERTDIR/client`` when it holds the dind client certificates ('' if not)."""
    certdir = env.get("DOCKER_TLS_CERTDIR", "").rstrip("/")
    if not certdir:
        return ""
    client_dir = f"{certdir}/client"
    if all(exists(f"{client_dir}/{name}") for name in (CA_FILE, CERT_FILE, KEY_FILE)):
        return client_dir
    return ""


def parse_host(value: str, *, default_to_tls: bool = False) -> str:
    """Normalise a ``DOCKER_HOST`` value exactly like the docker CLI's ``ParseHost``."""
    host = value.strip()
    if not host:
        return DEFAULT_TLS_HOST if default_to_tls else DEFAULT_HOST
    proto, sep, rest = host.partition("://")
    if not sep:
        rest = proto
        proto = "unix" if rest.startswith(("/", "./")) else "tcp"
    if proto == "tcp":
        return parse_tcp_addr(rest, DEFAULT_TCP_HOST)
    if proto == "unix":
        return _parse_simple_proto_addr("unix", rest, DEFAULT_UNIX_SOCKET)
    if proto in ("fd", "ssh", "npipe"):
        return host  # valid for the CLI; resolve_endpoint refuses them with its own message
    raise HostError(f"invalid bind address format: {host}")


def _parse_simple_proto_addr(proto: str, addr: str, default: str) -> str:
    addr = addr.removeprefix(f"{proto}://")
    if "://" in addr:
        raise HostError(f"invalid proto, expected {proto}: {addr}")
    return f"{proto}://{addr or default}"


def parse_tcp_addr(try_addr: str, default_addr: str) -> str:
    """The CLI's ``ParseTCPAddr``: ``tcp://HOST:PORT[/path]`` with defaults filled in."""
    if try_addr in ("", "tcp://"):
        return default_addr
    addr = try_addr.removeprefix("tcp://")
    if "://" in addr or not addr:
        raise HostError(f"invalid proto, expected tcp: {try_addr}")
    default_host, default_port = split_host_port(default_addr.removeprefix("tcp://"))
    if addr.endswith("]:"):
        addr += default_port
    url_host, path = _parse_url_authority(addr)
    try:
        host, port = split_host_port(url_host)
    except HostError:
        try:
            host, port = split_host_port(join_host_port(url_host, default_port))
        except HostError:
            raise HostError(f"invalid bind address format: {try_addr}") from None
    host = host or default_host
    port = port or default_port
    if not _is_digits(port):  # Go: strconv.Atoi error with a zero result
        raise HostError(f"invalid bind address format: {try_addr}")
    return f"tcp://{join_host_port(host, port)}{path}"


def _parse_url_authority(addr: str) -> tuple[str, str]:
    """Go's ``url.Parse("tcp://" + addr)``: the host (with port) and the path."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in addr):
        raise HostError(f'parse "tcp://{addr}": net/url: invalid control character in URL')
    without_fragment = addr.partition("#")[0]
    rest = without_fragment.partition("?")[0]
    authority, slash, path = rest.partition("/")
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise HostError(f"parse \"tcp://{addr}\": missing ']' in host")
        _check_optional_port(addr, host[end + 1 :])
    elif ":" in host:
        _check_optional_port(addr, host[host.rfind(":") :])
    for char in host:
        if char == "%":
            raise HostError(f'parse "tcp://{addr}": invalid URL escape in host')
        if ord(char) < 0x80 and not char.isalnum() and char not in _HOST_PUNCTUATION:
            raise HostError(f'parse "tcp://{addr}": invalid character {char!r} in host name')
    return host, slash + path


def _check_optional_port(addr: str, colon_port: str) -> None:
    if colon_port and not (colon_port[0] == ":" and _is_digits(colon_port[1:], empty_ok=True)):
        raise HostError(f'parse "tcp://{addr}": invalid port "{colon_port}" after host')


def _is_digits(text: str, *, empty_ok: bool = False) -> bool:
    return (empty_ok or bool(text)) and all("0" <= c <= "9" for c in text)


def split_host_port(hostport: str) -> tuple[str, str]:
    """Go's ``net.SplitHostPort``: ``host:port``, ``[v6]:port``; raises :class:`HostError`."""
    colon = hostport.rfind(":")
    if colon < 0:
        raise HostError(f"address {hostport}: missing port in address")
    start, after_bracket = 0, 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise HostError(f"address {hostport}: missing ']' in address")
        if end + 1 == len(hostport):
            raise HostError(f"address {hostport}: missing port in address")
        if end + 1 != colon:
            problem = "too many colons" if hostport[end + 1] == ":" else "missing port"
            raise HostError(f"address {hostport}: {problem} in address")
        host = hostport[1:end]
        start, after_bracket = 1, end + 1
    else:
        host = hostport[:colon]
        if ":" in host:
            raise HostError(f"address {hostport}: too many colons in address")
    if "[" in hostport[start:]:
        raise HostError(f"address {hostport}: unexpected '[' in address")
    if "]" in hostport[after_bracket:]:
        raise HostError(f"address {hostport}: unexpected ']' in address")
    return host, hostport[colon + 1 :]


def join_host_port(host: str, port: str) -> str:
    """Go's ``net.JoinHostPort``: brackets around hosts that contain a colon."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def mask_userinfo(value: str) -> str:
    """``tcp://user:pass@host`` -> ``tcp://***@host``: never echo credentials."""
    return _USERINFO.sub("//***@", value)
