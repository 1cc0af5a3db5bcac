"""`python -m services.tracker worker [faust options]`: run a tracker worker.

Several workers with the same TRACKER_APP_ID share the partitions of the events
topic; give each its own TRACKER_WEB_PORT and TRACKER_DATA_DIR.
"""

from __future__ import annotations

import gc
import sys

from corridor.reference import load_reference
from services.common.settings import SettingsError, load_settings
from services.tracker.app import create_app
from services.tracker.settings import TrackerSettings

# The worker keeps many long-lived objects (cached histories); with CPython's default
# thresholds the collector re-scans them every few hundred allocations, which cost more
# than a third of decode time in profiles. Collect young objects less often.
GC_THRESHOLDS = (100_000, 20, 100)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        settings = load_settings(TrackerSettings)
    except SettingsError as exc:
        raise SystemExit(f"tracker: {exc}") from None
    app = create_app(settings, load_reference())
    if len(sys.argv) == 1:
        sys.argv.append("worker")
    app.main()


if __name__ == "__main__":
    main()
