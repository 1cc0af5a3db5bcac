-- Shared by both backends: per partition of the events topic, the offset after the last
-- record the tracker stored, written in the same transaction as the batch's rows (as Kafka
-- Connect's exactly-once sinks keep theirs). When the database is behind the consumer
-- group's committed offset (restored from a backup), the tracker reads again from here.
-- NULL: a row written before this column existed; the group's offset is trusted for it.
ALTER TABLE tracker_progress ADD COLUMN next_offset bigint CHECK (next_offset >= 0);
