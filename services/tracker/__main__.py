"""`python -m services.tracker worker [faust options]`: run a tracker worker.
`python -m services.tracker dead-letters list|replay ID`: see `dead_letters_cli`.

Several workers with the same TRACKER_APP_ID share the partitions of the events
topic; give each its own TRACKER_DATA_DIR (and TRACKER_WEB_PORT when the web server is on).
"""

from __future__ import annotations

import sys

from corridor.reference import load_reference
from services.common.settings import SettingsError, load_settings
from services.tracker.app import create_app
from services.tracker.gc_pacing import BatchPacedCollection
from services.tracker.settings import TrackerSettings


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
    collection = BatchPacedCollection()
    collection.take_over()
    app = create_app(settings, load_reference(), collection)
    if len(sys.argv) == 1:
        sys.argv.append("worker")
    # faust's `worker` command turns its web server on unless told otherwise, whatever the
    # app's settings say; the setting decides.
    if sys.argv[1] == "worker" and not {"--with-web", "--without-web"} & set(sys.argv):
        sys.argv.append("--with-web" if settings.tracker_web_enabled else "--without-web")
    app.main()


if __name__ == "__main__":
    main()
