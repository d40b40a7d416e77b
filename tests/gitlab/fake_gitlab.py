"""A stateful fake GitLab over real HTTP (pytest-httpserver), for the real python-gitlab client.

No maintained GitLab fake exists, so this implements exactly what dind-preflight calls, with the
response shapes of GitLab's REST API documentation (doc/api/runners.md, issues.md, notes.md,
jobs.md):

- ``GET /api/v4/job`` (``JOB-TOKEN``), ``GET|PUT /api/v4/runners/:id``
- ``GET|POST /api/v4/projects/:id/issues``, ``GET|PUT /api/v4/projects/:id/issues/:iid``
- ``GET|POST /api/v4/projects/:id/issues/:iid/notes``

Authentication (``PRIVATE-TOKEN``, ``Authorization: Bearer``, ``JOB-TOKEN``), token scopes
(403 ``insufficient_scope``), runner permissions (403), unknown ids (404), ``maintenance_note``
longer than 1024 characters (400), label filters (all labels must match), ordering and
pagination headers. Every request is recorded (method, raw path, query, JSON body, headers,
status). Faults can be injected per method and path (status, headers, body, delay). State is
guarded by one lock, so concurrent clients see it like GitLab's database: each request atomic.

Use without pytest::

    with FakeGitLab() as fake:
        fake.add_token("glpat-...", scopes=("api",), admin=True)
        ...

or as the ``fake_gitlab`` fixture (import it into a test module or a conftest).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest
from pytest_httpserver import HTTPServer
from pytest_httpserver.httpserver import METHOD_ALL
from werkzeug import Request, Response

MAX_NOTE = 1024
RUNNER_READ_SCOPES = frozenset({"api", "read_api", "manage_runner"})
RUNNER_WRITE_SCOPES = frozenset({"api", "manage_runner"})
ISSUE_READ_SCOPES = frozenset({"api", "read_api"})
ISSUE_WRITE_SCOPES = frozenset({"api"})


@dataclass(frozen=True)
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str  # raw, as sent (e.g. /api/v4/projects/ops%2Fnodes/issues)
    query: dict[str, list[str]]
    body: Any  # parsed JSON, or the raw text when not JSON, or None
    headers: dict[str, str]
    status: int
    at: float  # time.monotonic()

    @property
    def auth(self) -> str | None:
        """Which authentication the request used."""
        lowered = {k.lower() for k in self.headers}
        if "private-token" in lowered:
            return "private"
        if "job-token" in lowered:
            return "job"
        if "authorization" in lowered:
            return "bearer"
        return None


@dataclass
class Fault:
    """An injected answer: a status, headers and body, after ``delay_s``.

    ``then_process``: after the delay handle the request normally instead (a slow GitLab).
    ``delay_after_s``: handle it (commit the write), then wait before answering, e.g. to make
    the client time out on a POST that GitLab did carry out.
    ``after_commit``: with ``then_process``, answer ``status``/``body`` although the write was
    done (a GitLab whose proxy or post-commit step fails after the database committed).
    """

    status: int = 500
    body: str = '{"message":"500 Internal Server Error"}'
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    then_process: bool = False
    content_type: str = "application/json"
    delay_after_s: float = 0.0
    after_commit: bool = False


@dataclass
class TokenGrant:
    """What an access token may do: its scopes, and its user's roles."""

    scopes: frozenset[str]
    admin: bool = False
    runner_ids: frozenset[int] = frozenset()  # runners the user owns/maintains (admin: all)
    project_ids: frozenset[int] | None = None  # projects the user is Reporter+ in (None: all)


@dataclass
class _Rule:
    method: str
    pattern: re.Pattern[str]
    faults: deque[Fault]


class _QuickServer(HTTPServer):
    """pytest-httpserver whose serving loop notices ``stop()`` within 50 ms (default 500 ms)."""

    def thread_target(self) -> None:
        assert self.server is not None
        self.server.serve_forever(poll_interval=0.05)


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Reply(Exception):
    def __init__(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = headers or {}


class FakeGitLab:
    """The fake server and its state; start/stop it directly or use it as a context manager."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.httpserver = _QuickServer(host=host, port=port, threaded=True, ssl_context=ssl_context)
        self.scheme = "https" if ssl_context is not None else "http"
        self._lock = threading.RLock()
        self._ids = itertools.count(1000)
        self.tokens: dict[str, TokenGrant] = {}
        self.job_tokens: dict[str, dict[str, Any]] = {}
        self.runners: dict[int, dict[str, Any]] = {}
        self.projects: dict[int, dict[str, Any]] = {}
        self.issues: dict[int, dict[int, dict[str, Any]]] = {}  # project id -> iid -> issue
        self.notes: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self.recorded: list[Recorded] = []
        self.errors: list[str] = []  # bugs in the fake's handler (a test should assert empty)
        self._rules: list[_Rule] = []
        self._bot_user = {"id": 1, "username": "dind-preflight-bot", "name": "dind-preflight"}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeGitLab:
        """Start serving on a free loopback port."""
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.httpserver.expect_request(re.compile(r"/.*"), method=METHOD_ALL).respond_with_handler(
            self._handle
        )
        self.httpserver.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self.httpserver.is_running():
            self.httpserver.stop()
        self.httpserver.clear()

    def __enter__(self) -> FakeGitLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The server URL (what ``CI_SERVER_URL`` holds)."""
        return f"{self.scheme}://{self.httpserver.host}:{self.httpserver.port}"

    @property
    def api_url(self) -> str:
        """What ``CI_API_V4_URL`` holds."""
        return f"{self.url}/api/v4"

    # -- state set-up ----------------------------------------------------------------------

    def add_token(
        self,
        token: str,
        *,
        scopes: tuple[str, ...] = ("api",),
        admin: bool = False,
        runners: tuple[int, ...] = (),
        projects: tuple[int, ...] | None = None,
    ) -> None:
        """An access token (personal, group or project) with scopes and its user's roles."""
        with self._lock:
            self.tokens[token] = TokenGrant(
                frozenset(scopes),
                admin,
                frozenset(runners),
                None if projects is None else frozenset(projects),
            )

    def add_runner(
        self,
        runner_id: int,
        *,
        runner_type: str = "instance_type",
        paused: bool = False,
        maintenance_note: str | None = None,
        description: str = "k8s runner",
        project_path: str | None = None,
        group_url: str | None = None,
    ) -> dict[str, Any]:
        """A runner as ``GET /runners/:id`` documents it."""
        runner: dict[str, Any] = {
            "active": not paused,
            "paused": paused,
            "architecture": "amd64",
            "description": description,
            "id": runner_id,
            "ip_address": "127.0.0.1",
            "is_shared": runner_type == "instance_type",
            "runner_type": runner_type,
            "contacted_at": _iso(datetime.now(timezone.utc)),
            "maintenance_note": maintenance_note,
            "name": "gitlab-runner",
            "online": True,
            "status": "paused" if paused else "online",
            "platform": "linux",
            "projects": [],
            "revision": "abcdef12",
            "tag_list": ["k8s", "dind"],
            "version": "17.5.0",
            "access_level": "not_protected",
            "maximum_timeout": None,
        }
        if project_path:
            runner["projects"] = [
                {
                    "id": 1,
                    "name": project_path.rsplit("/", 1)[-1],
                    "name_with_namespace": project_path.replace("/", " / "),
                    "path": project_path.rsplit("/", 1)[-1],
                    "path_with_namespace": project_path,
                }
            ]
        if group_url:
            runner["groups"] = [{"id": 2, "web_url": group_url, "name": "group"}]
        with self._lock:
            self.runners[runner_id] = runner
        return runner

    def add_project(self, path: str, project_id: int | None = None) -> int:
        """A project that can receive issues; returns its id."""
        with self._lock:
            pid = project_id if project_id is not None else next(self._ids)
            self.projects[pid] = {
                "id": pid,
                "path_with_namespace": path,
                "web_url": f"{self.url}/{path}",
                "next_iid": 1,
            }
            self.issues[pid] = {}
        return pid

    def add_job(self, job_token: str, job_id: int, runner_id: int, project_id: int = 1) -> None:
        """A running job whose ``CI_JOB_TOKEN`` answers ``GET /job``."""
        with self._lock:
            self.job_tokens[job_token] = {
                "id": job_id,
                "runner_id": runner_id,
                "project": project_id,
            }

    def inject(self, method: str, path_regex: str, *faults: Fault) -> None:
        """Answer the next matching requests with ``faults``, in order, then normally again."""
        with self._lock:
            self._rules.append(_Rule(method.upper(), re.compile(path_regex), deque(faults)))

    def age(self, seconds: float) -> None:
        """Make every issue and note ``seconds`` older (as if time had passed)."""
        delta = timedelta(seconds=seconds)
        with self._lock:
            for issues in self.issues.values():
                for issue in issues.values():
                    for key in ("created_at", "updated_at"):
                        issue[key] = _iso(_parse(issue[key]) - delta)
            for notes in self.notes.values():
                for note in notes:
                    note["created_at"] = note["updated_at"] = _iso(
                        _parse(note["created_at"]) - delta
                    )

    # -- inspection ------------------------------------------------------------------------

    def requests(self, method: str | None = None, path_regex: str | None = None) -> list[Recorded]:
        """Recorded requests, optionally filtered by method and raw path."""
        with self._lock:
            found = list(self.recorded)
        return [
            r
            for r in found
            if (method is None or r.method == method.upper())
            and (path_regex is None or re.search(path_regex, r.path))
        ]

    def project_issues(self, project_id: int, state: str | None = None) -> list[dict[str, Any]]:
        """Issues of a project (``state``: opened, closed, or None for all), by iid."""
        with self._lock:
            issues = [dict(i) for i in self.issues[project_id].values()]
        return sorted(
            (i for i in issues if state is None or i["state"] == state), key=lambda i: i["iid"]
        )

    def issue_notes(self, project_id: int, iid: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(n) for n in self.notes.get((project_id, iid), [])]

    def runner_writes(self, runner_id: int) -> list[Recorded]:
        """Successful ``PUT /runners/:id`` requests."""
        return [
            r for r in self.requests("PUT", rf"^/api/v4/runners/{runner_id}$") if r.status == 200
        ]

    # -- request handling ------------------------------------------------------------------

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.faults and rule.method in (method, "*") and rule.pattern.search(path):
                    return rule.faults.popleft()
        return None

    def _handle(self, request: Request) -> Response:
        raw_uri = str(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or "")
        raw_path = raw_uri.split("?", 1)[0] or request.path
        query = parse_qs(request.query_string.decode(), keep_blank_values=True)
        text = request.get_data(as_text=True)
        try:
            body: Any = json.loads(text) if text else None
        except ValueError:
            body = text
        headers = {k: v for k, v in request.headers.items()}
        fault = self._fault_for(request.method, raw_path)
        if fault is not None and fault.delay_s:
            time.sleep(fault.delay_s)
        if fault is not None and not fault.then_process:
            response = Response(
                fault.body,
                status=fault.status,
                headers=fault.headers,
                content_type=fault.content_type,
            )
        else:
            with self._lock:
                try:
                    status, payload, extra = self._route(
                        request.method, raw_path, query, body, headers
                    )
                except _Reply as reply:
                    status, payload, extra = reply.status, reply.payload, reply.headers
                except Exception as exc:  # a bug in the fake: reported to the test
                    self.errors.append(f"{request.method} {raw_path}: {type(exc).__name__}: {exc}")
                    status, payload, extra = 500, {"message": "fake error"}, {}
            response = Response(
                json.dumps(payload), status=status, headers=extra, content_type="application/json"
            )
            if fault is not None and fault.after_commit:
                response = Response(
                    fault.body,
                    status=fault.status,
                    headers=fault.headers,
                    content_type=fault.content_type,
                )
        with self._lock:
            self.recorded.append(
                Recorded(
                    request.method,
                    raw_path,
                    query,
                    body,
                    headers,
                    response.status_code,
                    time.monotonic(),
                )
            )
        if fault is not None and fault.delay_after_s:
            time.sleep(fault.delay_after_s)
        return response

    def _grant(self, headers: dict[str, str]) -> TokenGrant:
        lowered = {k.lower(): v for k, v in headers.items()}
        token = lowered.get("private-token")
        if token is None and lowered.get("authorization", "").startswith("Bearer "):
            token = lowered["authorization"][len("Bearer ") :]
        grant = self.tokens.get(token or "")
        if grant is None:
            raise _Reply(401, {"message": "401 Unauthorized"})
        return grant

    @staticmethod
    def _need_scope(grant: TokenGrant, allowed: frozenset[str], name: str) -> None:
        if not grant.scopes & allowed:
            raise _Reply(
                403,
                {
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than provided "
                    "by the access token.",
                    "scope": name,
                },
                {
                    "WWW-Authenticate": f'Bearer realm="", error="insufficient_scope", scope="{name}"'
                },
            )

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        headers: dict[str, str],
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and path == "/api/v4/job":
            return self._get_job(headers)
        if method == "GET" and path == "/api/v4/runners":
            return self._list_runners(query, self._grant(headers))
        match = re.fullmatch(r"/api/v4/runners/(\d+)", path)
        if match:
            return self._runner(method, int(match.group(1)), body, self._grant(headers))
        match = re.fullmatch(r"/api/v4/projects/([^/]+)/issues(?:/(\d+))?(/notes)?", path)
        if match:
            grant = self._grant(headers)
            project = self._project(match.group(1), grant)
            iid = int(match.group(2)) if match.group(2) else None
            if match.group(3):
                if iid is None:
                    raise _Reply(404, {"message": "404 Not Found"})
                return self._notes(method, project, iid, body, grant)
            return self._issues(method, project, iid, query, body, grant)
        raise _Reply(404, {"error": "404 Not Found"})

    def _get_job(self, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        lowered = {k.lower(): v for k, v in headers.items()}
        job = self.job_tokens.get(lowered.get("job-token", ""))
        if job is None:
            raise _Reply(401, {"message": "401 Unauthorized"})
        runner = self.runners.get(job["runner_id"], {"id": job["runner_id"]})
        now = _iso(datetime.now(timezone.utc))
        return (
            200,
            {
                "id": job["id"],
                "status": "running",
                "stage": "test",
                "name": "build",
                "ref": "main",
                "tag": False,
                "coverage": None,
                "allow_failure": False,
                "created_at": now,
                "started_at": now,
                "finished_at": None,
                "duration": None,
                "queued_duration": 0.1,
                "user": {"id": 7, "username": "dev"},
                "pipeline": {"id": 9, "project_id": job["project"], "status": "running"},
                "web_url": f"{self.url}/group/app/-/jobs/{job['id']}",
                "project": {"ci_job_token_scope_enabled": True},
                "artifacts": [],
                "runner": {
                    k: runner.get(k)
                    for k in (
                        "id",
                        "description",
                        "ip_address",
                        "active",
                        "paused",
                        "is_shared",
                        "runner_type",
                        "name",
                        "online",
                        "status",
                    )
                },
                "tag_list": ["k8s"],
            },
            {},
        )

    def _list_runners(
        self, query: dict[str, list[str]], grant: TokenGrant
    ) -> tuple[int, Any, dict[str, str]]:
        """``GET /runners``: the runners the user owns or maintains (doc/api/runners.md: no
        ``maintenance_note`` in the list), filtered by ``paused``."""
        self._need_scope(grant, RUNNER_READ_SCOPES, "api read_api manage_runner")
        wanted = (query.get("paused") or [None])[0]
        out = []
        for runner_id, runner in sorted(self.runners.items()):
            if not grant.admin and runner_id not in grant.runner_ids:
                continue
            # Grape's Boolean: true, True, 1, t, yes, on (any case) are true.
            truthy = wanted is not None and wanted.lower() in ("true", "t", "1", "yes", "y", "on")
            if wanted is not None and bool(runner.get("paused")) != truthy:
                continue
            keys = ("id", "description", "active", "paused", "is_shared", "runner_type")
            out.append({k: runner.get(k) for k in keys} | {"status": runner.get("status")})
        return 200, out, {}

    def _runner(
        self, method: str, runner_id: int, body: Any, grant: TokenGrant
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET":
            self._need_scope(grant, RUNNER_READ_SCOPES, "api read_api manage_runner")
        elif method == "PUT":
            self._need_scope(grant, RUNNER_WRITE_SCOPES, "api manage_runner")
        else:
            raise _Reply(405, {"message": "405 Method Not Allowed"})
        runner = self.runners.get(runner_id)
        if runner is None:
            raise _Reply(404, {"message": "404 Runner Not Found"})
        if not grant.admin and runner_id not in grant.runner_ids:
            raise _Reply(403, {"message": "403 Forbidden"})
        if method == "PUT":
            data = body if isinstance(body, dict) else {}
            if "paused" in data and "active" in data:
                raise _Reply(400, {"error": "active, paused are mutually exclusive"})
            note = data.get("maintenance_note")
            if note is not None and len(str(note)) > MAX_NOTE:
                raise _Reply(
                    400,
                    {"message": {"maintenance_note": ["is too long (maximum is 1024 characters)"]}},
                )
            if "paused" in data:
                runner["paused"] = bool(data["paused"])
                runner["active"] = not runner["paused"]
            if "active" in data:
                runner["active"] = bool(data["active"])
                runner["paused"] = not runner["active"]
            if note is not None:
                runner["maintenance_note"] = str(note)
            for key in ("description", "tag_list", "run_untagged", "locked", "access_level"):
                if key in data:
                    runner[key] = data[key]
            runner["status"] = "paused" if runner["paused"] else "online"
        return 200, dict(runner), {}

    def _project(self, ref: str, grant: TokenGrant) -> dict[str, Any]:
        decoded = unquote(ref)
        found = None
        if decoded.isdigit():
            found = self.projects.get(int(decoded))
        else:
            found = next(
                (p for p in self.projects.values() if p["path_with_namespace"] == decoded), None
            )
        if found is None or (
            grant.project_ids is not None and found["id"] not in grant.project_ids
        ):
            raise _Reply(404, {"message": "404 Project Not Found"})
        return found

    def _issues(
        self,
        method: str,
        project: dict[str, Any],
        iid: int | None,
        query: dict[str, list[str]],
        body: Any,
        grant: TokenGrant,
    ) -> tuple[int, Any, dict[str, str]]:
        issues = self.issues[project["id"]]
        if method == "GET":
            self._need_scope(grant, ISSUE_READ_SCOPES, "api read_api")
            if iid is not None:
                if iid not in issues:
                    raise _Reply(404, {"message": "404 Issue Not Found"})
                return 200, dict(issues[iid]), {}
            return self._list_issues(issues, query)
        self._need_scope(grant, ISSUE_WRITE_SCOPES, "api")
        data = body if isinstance(body, dict) else {}
        now = _iso(datetime.now(timezone.utc))
        if method == "POST" and iid is None:
            title = str(data.get("title") or "")
            if not title:
                raise _Reply(400, {"error": "title is missing"})
            if len(title) > 255:
                raise _Reply(
                    400, {"message": {"title": ["is too long (maximum is 255 characters)"]}}
                )
            number = project["next_iid"]
            project["next_iid"] += 1
            global_id = next(self._ids)
            path = project["path_with_namespace"]
            issue = {
                "id": global_id,
                "iid": number,
                "project_id": project["id"],
                "title": title,
                "description": data.get("description"),
                "state": "opened",
                "created_at": now,
                "updated_at": now,
                "closed_at": None,
                "closed_by": None,
                "labels": _labels(data.get("labels")),
                "milestone": None,
                "assignees": [],
                "author": self._bot_user,
                "type": "ISSUE",
                "assignee": None,
                "user_notes_count": 0,
                "merge_requests_count": 0,
                "upvotes": 0,
                "downvotes": 0,
                "due_date": None,
                "confidential": bool(data.get("confidential", False)),
                "discussion_locked": None,
                "issue_type": "issue",
                "web_url": f"{project['web_url']}/-/issues/{number}",
                "time_stats": {"time_estimate": 0, "total_time_spent": 0},
                "task_completion_status": {"count": 0, "completed_count": 0},
                "has_tasks": False,
                "references": {
                    "short": f"#{number}",
                    "relative": f"#{number}",
                    "full": f"{path}#{number}",
                },
                "severity": "UNKNOWN",
                "_links": {
                    "self": f"{self.api_url}/projects/{project['id']}/issues/{number}",
                    "notes": f"{self.api_url}/projects/{project['id']}/issues/{number}/notes",
                    "project": f"{self.api_url}/projects/{project['id']}",
                },
            }
            issues[number] = issue
            return 201, dict(issue), {}
        if method == "PUT" and iid is not None:
            if iid not in issues:
                raise _Reply(404, {"message": "404 Issue Not Found"})
            issue = issues[iid]
            event = data.get("state_event")
            if event == "close" and issue["state"] == "opened":
                issue["state"], issue["closed_at"] = "closed", now
                issue["closed_by"] = self._bot_user
            elif event == "reopen" and issue["state"] == "closed":
                issue["state"], issue["closed_at"], issue["closed_by"] = "opened", None, None
            for key in ("title", "description"):
                if key in data:
                    issue[key] = data[key]
            if "labels" in data:
                issue["labels"] = _labels(data["labels"])
            issue["updated_at"] = now
            return 200, dict(issue), {}
        raise _Reply(405, {"message": "405 Method Not Allowed"})

    @staticmethod
    def _list_issues(
        issues: dict[int, dict[str, Any]], query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        def one(name: str, default: str) -> str:
            return query.get(name, [default])[0]

        wanted = [label for label in one("labels", "").split(",") if label]
        state = one("state", "all")
        found = [
            issue
            for issue in issues.values()
            if all(label in issue["labels"] for label in wanted)
            and (state == "all" or issue["state"] == state)
        ]
        order = one("order_by", "created_at")
        if order not in ("created_at", "updated_at"):
            raise _Reply(400, {"error": "order_by does not have a valid value"})
        found.sort(key=lambda i: (i[order], i["iid"]), reverse=one("sort", "desc") == "desc")
        per_page = max(1, min(100, int(one("per_page", "20"))))
        page = max(1, int(one("page", "1")))
        total_pages = max(1, -(-len(found) // per_page))
        chunk = found[(page - 1) * per_page : page * per_page]
        headers = {
            "X-Total": str(len(found)),
            "X-Total-Pages": str(total_pages),
            "X-Per-Page": str(per_page),
            "X-Page": str(page),
            "X-Next-Page": str(page + 1) if page < total_pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        return 200, [dict(issue) for issue in chunk], headers

    def _notes(
        self, method: str, project: dict[str, Any], iid: int, body: Any, grant: TokenGrant
    ) -> tuple[int, Any, dict[str, str]]:
        issue = self.issues[project["id"]].get(iid)
        if issue is None:
            raise _Reply(404, {"message": "404 Issue Not Found"})
        notes = self.notes.setdefault((project["id"], iid), [])
        if method == "GET":
            self._need_scope(grant, ISSUE_READ_SCOPES, "api read_api")
            return 200, [dict(n) for n in notes], {"X-Total": str(len(notes))}
        if method != "POST":
            raise _Reply(405, {"message": "405 Method Not Allowed"})
        self._need_scope(grant, ISSUE_WRITE_SCOPES, "api")
        data = body if isinstance(body, dict) else {}
        text = str(data.get("body") or "")
        if not text:
            raise _Reply(400, {"error": "body is missing"})
        now = _iso(datetime.now(timezone.utc))
        note = {
            "id": next(self._ids),
            "type": None,
            "body": text,
            "attachment": None,
            "author": self._bot_user,
            "created_at": now,
            "updated_at": now,
            "system": False,
            "noteable_id": issue["id"],
            "noteable_type": "Issue",
            "project_id": project["id"],
            "resolvable": False,
            "confidential": False,
            "internal": False,
            "noteable_iid": iid,
            "commands_changes": {},
        }
        notes.append(note)
        issue["user_notes_count"] += 1
        issue["updated_at"] = now
        return 201, dict(note), {}


def _labels(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if str(v)]
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return []


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def fake_gitlab() -> Iterator[FakeGitLab]:
    """A started :class:`FakeGitLab`, stopped after the test even when it fails."""
    fake = FakeGitLab()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
        assert not fake.errors, fake.errors
