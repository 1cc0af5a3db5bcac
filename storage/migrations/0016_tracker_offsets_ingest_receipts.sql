-- Shared by both backends: per partition of the events topic, the offset after the last
-- record the tracker stored, written in the same transaction as the batch's rows (as Kafka
-- Connect's exactly-once sinks keep theirs). When the database is behind the consumer
-- group's committed offset (restored from a backup), the tracker reads again from here.
-- NULL: a row written before this column existed; the group's offset is trusted for it.
ALTER TABLE tracker_progress ADD COLUMN next_offset bigint CHECK (next_offset >= 0);

-- Events ingest has accepted (published to Kafka, acked), by id and content, so that a
-- re-send answered by another ingest process is reported as a duplicate, not accepted
-- again. Written after Kafka acked and before the 2xx; kept for a while, then pruned
-- (a re-send later than that is accepted again, which the tracker absorbs).
CREATE TABLE ingest_receipts (
    event_id    uuid NOT NULL,
    fingerprint text NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, fingerprint)
);
CREATE INDEX ingest_receipts_accepted_at ON ingest_receipts (accepted_at);
