"""The publisher against GrafanaApiDouble, an in-process stand-in for Grafana's HTTP API.

The double is a real HTTP server on 127.0.0.1 (grafana-client talks niquests, so it
goes through its whole request path) that keeps what was written and records every
call, so the tests can say which writes a run made.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from dashboards.__main__ import app
from dashboards.catalog import FOLDER_TITLE, FOLDER_UID, dashboards
from dashboards.publish import Action, Publisher, connect
from dashboards.query import DATASOURCE_UID
from dashboards.settings import DataSourceSettings

TOKEN = "glsa_test_token"


@dataclass
class Call:
    method: str
    path: str
    body: Any


@dataclass
class GrafanaState:
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def writes(self) -> list[Call]:
        return [call for call in self.calls if call.method != "GET"]


class _Handler(BaseHTTPRequestHandler):
    state: GrafanaState

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.state.calls.append(Call(self.command, self.path, body))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, {"message": "Unauthorized"})
            return
        status, reply = self._route(self.command, self.path.removeprefix("/api"), body)
        self._reply(status, reply)

    do_GET = do_POST = do_PUT = _handle

    def _route(self, method: str, path: str, body: Any) -> tuple[int, object]:
        state = self.state
        not_found = (404, {"message": "not found"})
        match method, path.strip("/").split("/"):
            case "GET", ["datasources", "uid", uid]:
                return (200, state.datasources[uid]) if uid in state.datasources else not_found
            case "POST", ["datasources"]:
                state.datasources[body["uid"]] = _stored_datasource(body, version=1)
                return 200, {"message": "Datasource added", "id": 1}
            case "PUT", ["datasources", "uid", uid]:
                version = state.datasources[uid]["version"] + 1
                state.datasources[uid] = _stored_datasource(body, version=version)
                return 200, {"message": "Datasource updated"}
            case "GET", ["folders", uid]:
                return (200, state.folders[uid]) if uid in state.folders else not_found
            case "POST", ["folders"]:
                state.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "id": 7}
                return 200, state.folders[body["uid"]]
            case "PUT", ["folders", uid]:
                state.folders[uid]["title"] = body["title"]
                return 200, state.folders[uid]
            case "GET", ["dashboards", "uid", uid]:
                return (200, state.dashboards[uid]) if uid in state.dashboards else not_found
            case "POST", ["dashboards", "db"]:
                board = body["dashboard"]
                old = state.dashboards.get(board["uid"], {}).get("dashboard", {})
                stored = {
                    **board,
                    "id": 40 + len(state.dashboards),
                    "version": old.get("version", 0) + 1,
                }
                state.dashboards[board["uid"]] = {
                    "dashboard": stored,
                    "meta": {"folderUid": body["folderUid"], "slug": board["uid"]},
                }
                return 200, {"status": "success", "uid": board["uid"], "version": stored["version"]}
        return 404, {"message": f"GrafanaApiDouble: no route for {method} {path}"}


def _stored_datasource(body: dict[str, Any], version: int) -> dict[str, Any]:
    """What Grafana returns: no secrets, only which secret fields are set."""
    secrets = body.get("secureJsonData") or {}
    stored = {k: v for k, v in body.items() if k != "secureJsonData"}
    return {
        **stored,
        "id": 1,
        "orgId": 1,
        "readOnly": False,
        "version": version,
        "secureJsonFields": {name: True for name in secrets},
    }


class GrafanaApiDouble:
    def __init__(self) -> None:
        self.state = GrafanaState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> GrafanaApiDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def grafana() -> Iterator[GrafanaApiDouble]:
    with GrafanaApiDouble() as double:
        yield double


@pytest.fixture
def datasource(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.setenv("GRAFANA_DB_HOST", "postgres:5432")
    monkeypatch.setenv("GRAFANA_DB_USER", "grafana_reader")
    monkeypatch.setenv("GRAFANA_DB_PASSWORD", "s3cret")
    return DataSourceSettings(_env_file=None).payload()


def _publish(
    grafana: GrafanaApiDouble, datasource: dict[str, object], **options: bool
) -> list[Action]:
    publisher = Publisher(connect(grafana.url, TOKEN, timeout=5), **options)
    return [outcome.action for outcome in publisher.publish(dashboards(), datasource)]


def test_first_run_creates_everything(
    grafana: GrafanaApiDouble, datasource: dict[str, object]
) -> None:
    assert _publish(grafana, datasource) == [Action.CREATED] * (2 + len(dashboards()))
    writes = [(call.method, call.path) for call in grafana.state.writes()]
    assert writes == [
        ("POST", "/api/datasources"),
        ("POST", "/api/folders"),
        *[("POST", "/api/dashboards/db")] * len(dashboards()),
    ]
    assert grafana.state.datasources[DATASOURCE_UID]["secureJsonFields"] == {"password": True}
    assert grafana.state.folders[FOLDER_UID]["title"] == FOLDER_TITLE
    stored = grafana.state.dashboards["corridor-overview"]
    assert stored["meta"]["folderUid"] == FOLDER_UID
    board = next(b for b in dashboards() if b.uid == "corridor-overview")
    assert {
        k: v for k, v in stored["dashboard"].items() if k not in ("id", "version")
    } == board.as_dict()


def test_second_run_writes_nothing(
    grafana: GrafanaApiDouble, datasource: dict[str, object]
) -> None:
    _publish(grafana, datasource)
    before = len(grafana.state.writes())
    assert set(_publish(grafana, datasource)) == {Action.UNCHANGED}
    assert len(grafana.state.writes()) == before


def test_only_what_drifted_is_rewritten(
    grafana: GrafanaApiDouble, datasource: dict[str, object]
) -> None:
    _publish(grafana, datasource)
    grafana.state.dashboards["corridor-alerts"]["dashboard"]["title"] = "edited in the UI"
    grafana.state.datasources[DATASOURCE_UID]["jsonData"]["sslmode"] = "disable"
    grafana.state.folders[FOLDER_UID]["title"] = "Renamed"
    grafana.state.calls.clear()
    actions = _publish(grafana, datasource)
    assert actions.count(Action.UPDATED) == 3
    assert sorted((c.method, c.path) for c in grafana.state.writes()) == [
        ("POST", "/api/dashboards/db"),
        ("PUT", f"/api/datasources/uid/{DATASOURCE_UID}"),
        ("PUT", f"/api/folders/{FOLDER_UID}"),
    ]
    assert grafana.state.dashboards["corridor-alerts"]["dashboard"]["title"] == "Corridor alerts"


def test_force_rewrites_and_no_datasource_skips_it(
    grafana: GrafanaApiDouble, datasource: dict[str, object]
) -> None:
    _publish(grafana, datasource)
    grafana.state.calls.clear()
    publisher = Publisher(connect(grafana.url, TOKEN, timeout=5), force=True)
    outcomes = publisher.publish(dashboards(), None)
    assert [o.kind for o in outcomes] == ["folder"] + ["dashboard"] * len(dashboards())
    assert len(grafana.state.writes()) == len(dashboards())


def test_publish_command_reads_the_environment(
    grafana: GrafanaApiDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "GRAFANA_URL": grafana.url,
        "GRAFANA_TOKEN": TOKEN,
        "GRAFANA_DB_HOST": "postgres:5432",
        "GRAFANA_DB_USER": "grafana_reader",
    }
    monkeypatch.delenv("GRAFANA_DB_PASSWORD", raising=False)
    missing = CliRunner().invoke(app, ["publish"], env=env)
    assert missing.exit_code == 2
    assert "GRAFANA_DB_PASSWORD" in missing.output
    first = CliRunner().invoke(app, ["publish"], env={**env, "GRAFANA_DB_PASSWORD": "pw"})
    assert first.exit_code == 0, first.output
    assert first.output.count("created") == 2 + len(dashboards())
    second = CliRunner().invoke(app, ["publish"], env={**env, "GRAFANA_DB_PASSWORD": "pw"})
    assert second.output.count("unchanged") == 2 + len(dashboards())
