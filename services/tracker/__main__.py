"""`python -m services.tracker worker [faust options]`: run a tracker worker.
`python -m services.tracker dead-letters list|replay ID`: see `dead_letters_cli`.

Several workers with the same TRACKER_APP_ID share the partitions of the events
topic; give each its own TRACKER_DATA_DIR (and TRACKER_WEB_PORT when the web server is on).
"""

from __future__ import annotations

import asyncio
import logging
import sys

import faust

from corridor.reference import load_reference
from infra.kafka.topics import TopicSpec, ensure_topics
from services.common.settings import SettingsError, load_settings
from services.tracker.app import create_app
from services.tracker.gc_pacing import BatchPacedCollection
from services.tracker.settings import TrackerSettings

log = logging.getLogger("services.tracker")

CHANGELOG_CREATE_TIMEOUT_SECONDS = 30.0


async def create_changelogs(app: faust.App, settings: TrackerSettings) -> None:
    """Create the tables' changelog topics before the worker joins its group. faust would
    create them itself, but on a cluster the group then formed before every broker knew
    them: its metadata kept 0 partitions for a changelog, and faust refused every table
    write (PartitionsMismatch), which the batch loop took for poison."""
    specs = [
        TopicSpec(
            table.changelog_topic_name,
            table.partitions or settings.tracker_partitions,
            {"cleanup.policy": "compact"},
        )
        for table in app.tables.values()
    ]
    try:
        await asyncio.wait_for(
            ensure_topics(
                ",".join(settings.bootstrap_servers),
                specs,
                replication_factor=settings.kafka_replication_factor,
            ),
            CHANGELOG_CREATE_TIMEOUT_SECONDS,
        )
    except Exception as exc:  # faust creates them as before; the worker must still start
        log.warning("changelogs not created ahead (%s); faust creates them", exc)


def main() -> None:
    if sys.argv[1:2] == ["dead-letters"]:
        from services.tracker.dead_letters_cli import app as dead_letters

        dead_letters(sys.argv[2:], prog_name="python -m services.tracker dead-letters")
        return
    try:
        settings = load_settings(TrackerSettings)
    except SettingsError as exc:
        raise SystemExit(f"tracker: {exc}") from None
    # The worker owns this process: it collects garbage between batches, not during them.
    collection = BatchPacedCollection(
        full_every=settings.tracker_gc_full_seconds,
        full_at_most=settings.tracker_gc_full_max_seconds,
    )
    collection.take_over()
    app = create_app(settings, load_reference(), collection)
    if len(sys.argv) == 1:
        sys.argv.append("worker")
    # faust's `worker` command turns its web server on unless told otherwise, whatever the
    # app's settings say; the setting decides.
    if sys.argv[1] == "worker" and not {"--with-web", "--without-web"} & set(sys.argv):
        sys.argv.append("--with-web" if settings.tracker_web_enabled else "--without-web")
    if sys.argv[1] == "worker":
        # A loop of its own, not asyncio.run: that would unset the loop faust goes on to use.
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(create_changelogs(app, settings))
        finally:
            loop.close()
    app.main()


if __name__ == "__main__":
    main()
