"""Publish the data source, folder and dashboards to a running Grafana over its HTTP API.

Idempotent: each object is read first and written only when it differs from what the
code generates, so a second run makes no writes. Grafana never returns the data source
password, so a changed password alone is not detected (`--force` rewrites everything).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError

from dashboards.catalog import FOLDER_TITLE, FOLDER_UID, GeneratedDashboard
from dashboards.query import DATASOURCE_UID

# Fields Grafana adds to a stored dashboard that the generated JSON does not carry.
_SERVER_FIELDS = frozenset({"id", "version"})


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Outcome:
    kind: str
    name: str
    action: Action

    def __str__(self) -> str:
        return f"{self.kind:<10} {self.name:<32} {self.action}"


def _missing(error: GrafanaClientError) -> bool:
    return getattr(error, "status_code", None) == 404


def datasource_matches(stored: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Every non-secret field we set is stored as we set it, and a password is set."""
    for key, value in desired.items():
        if key == "secureJsonData":
            continue
        if key == "jsonData":
            stored_json = stored.get("jsonData") or {}
            if any(stored_json.get(k) != v for k, v in value.items()):
                return False
        elif stored.get(key) != value:
            return False
    secrets = stored.get("secureJsonFields") or {}
    return all(secrets.get(name) for name in desired.get("secureJsonData", {}))


def dashboard_matches(
    stored: Mapping[str, Any] | None, generated: Mapping[str, Any], folder_uid: str
) -> bool:
    if stored is None or (stored.get("meta") or {}).get("folderUid") != folder_uid:
        return False
    body = {k: v for k, v in (stored.get("dashboard") or {}).items() if k not in _SERVER_FIELDS}
    return body == dict(generated)


class Publisher:
    def __init__(self, api: GrafanaApi, *, force: bool = False) -> None:
        self._api: Any = api  # grafana-client is untyped
        self._force = force

    def publish(
        self, dashboards: Sequence[GeneratedDashboard], datasource: Mapping[str, Any] | None
    ) -> list[Outcome]:
        outcomes = []
        if datasource is not None:
            outcomes.append(self._datasource(datasource))
        outcomes.append(self._folder())
        outcomes.extend(self._dashboard(board) for board in dashboards)
        return outcomes

    def _datasource(self, desired: Mapping[str, Any]) -> Outcome:
        name = str(desired["name"])
        try:
            stored = self._api.datasource.get_datasource_by_uid(DATASOURCE_UID)
        except GrafanaClientError as error:
            if not _missing(error):
                raise
            self._api.datasource.create_datasource(dict(desired))
            return Outcome("datasource", name, Action.CREATED)
        if not self._force and datasource_matches(stored, desired):
            return Outcome("datasource", name, Action.UNCHANGED)
        self._api.datasource.update_datasource_by_uid(DATASOURCE_UID, dict(desired))
        return Outcome("datasource", name, Action.UPDATED)

    def _folder(self) -> Outcome:
        try:
            stored = self._api.folder.get_folder(FOLDER_UID)
        except GrafanaClientError as error:
            if not _missing(error):
                raise
            self._api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            return Outcome("folder", FOLDER_TITLE, Action.CREATED)
        if stored.get("title") == FOLDER_TITLE:
            return Outcome("folder", FOLDER_TITLE, Action.UNCHANGED)
        self._api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
        return Outcome("folder", FOLDER_TITLE, Action.UPDATED)

    def _dashboard(self, board: GeneratedDashboard) -> Outcome:
        generated = board.as_dict()
        try:
            stored = self._api.dashboard.get_dashboard(board.uid)
        except GrafanaClientError as error:
            if not _missing(error):
                raise
            stored = None
        if not self._force and dashboard_matches(stored, generated, FOLDER_UID):
            return Outcome("dashboard", board.uid, Action.UNCHANGED)
        self._api.dashboard.update_dashboard(
            {
                "dashboard": generated,
                "folderUid": FOLDER_UID,
                "overwrite": True,
                "message": "published by python -m dashboards publish",
            }
        )
        return Outcome("dashboard", board.uid, Action.CREATED if stored is None else Action.UPDATED)


def connect(url: str, token: str, timeout: float) -> GrafanaApi:
    api: GrafanaApi = GrafanaApi.from_url(url=url, credential=token, timeout=timeout)
    return api
