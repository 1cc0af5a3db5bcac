-- Shared by both backends: how far, in event time, the tracker has read each partition
-- of the events topic. Open stays are judged by the slowest partition's clock: during a
-- catch-up (after an outage, or a replay) partitions are read at different paces, and
-- the newest event of a fast one can be days ahead of a slow one's consignments, which
-- would then look overdue. Written in the same transaction as the batch it describes.
CREATE TABLE tracker_progress (
    topic      text NOT NULL,
    partition  integer NOT NULL CHECK (partition >= 0),
    event_time timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
