"""Validation against the official NCTS XSDs, when an operator supplies them.

`INGEST_NCTS_XSD_DIR` names a directory holding the DG TAXUD message schemas
(`cc015c.xsd`, ... with the type files they include); the repository ships none. Each
mapped message type with a schema there is checked by `xmlschema` after our own
definitions (`ncts_schema`). Loading is sandboxed: no DTD or entity is expanded
(`defuse="always"`), and an include or import may only read files under that directory,
never the network. The message itself was parsed by defusedxml and is validated as that
tree, with no resource access at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from xml.etree.ElementTree import Element

import xmlschema

from corridor.errors import InvalidEvent, ReferenceDataError

_MESSAGE_SCHEMA = re.compile(r"^c[cd]\d{3}c$", re.IGNORECASE)
_NAMESPACE = re.compile(r"\{[^}]*\}")


class OfficialXsds:
    """The official schemas by message type (`CC015C`, `CD118C`, ...)."""

    def __init__(self, schemas: dict[str, xmlschema.XMLSchema]) -> None:
        self._schemas = schemas

    @classmethod
    def load(cls, directory: Path, message_types: Iterable[str]) -> OfficialXsds:
        """The schemas of `message_types` found in `directory`; a broken or unsafe one
        stops start-up naming its file."""
        if not directory.is_dir():
            raise ReferenceDataError("INGEST_NCTS_XSD_DIR", f"{directory} is not a directory")
        wanted = {message_type.upper() for message_type in message_types}
        schemas: dict[str, xmlschema.XMLSchema] = {}
        for path in sorted(directory.iterdir()):
            message_type = path.stem.upper()
            if path.suffix.lower() != ".xsd" or not _MESSAGE_SCHEMA.match(path.stem):
                continue
            if message_type not in wanted:
                continue
            try:
                schemas[message_type] = xmlschema.XMLSchema(
                    str(path), allow="sandbox", defuse="always"
                )
            except (xmlschema.XMLSchemaException, OSError, SyntaxError) as exc:
                raise ReferenceDataError(str(path), f"not a usable XSD: {exc}") from None
        return cls(schemas)

    @property
    def message_types(self) -> frozenset[str]:
        return frozenset(self._schemas)

    def validate(self, root: Element, message_type: str) -> None:
        """Refuse the message at its first error, naming the element as the sender wrote it."""
        schema = self._schemas.get(message_type.upper())
        if schema is None:
            return
        resource = xmlschema.XMLResource(root, allow="none", defuse="always")
        for error in schema.iter_errors(resource):
            raise InvalidEvent(
                _element_path(error.path, message_type), error.reason or error.message
            )


def _element_path(path: str | None, message_type: str) -> str:
    """'/{ns}CC015C/TransitOperation/LRN' -> 'TransitOperation/LRN' (the root's own name
    when the error is on the root)."""
    steps = [step for step in _NAMESPACE.sub("", path or "").split("/") if step]
    return "/".join(steps[1:]) or message_type
