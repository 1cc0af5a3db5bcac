-- Shared by both backends: records of the events topic the tracker could not store for a
-- reason other than an outage (a value no column holds, a body that is no event). Each is
-- kept as it was read, with the error, so an operator can see it and replay it once the
-- cause is fixed (`python -m services.tracker dead-letters`). A record read twice (a
-- replay after a crash) is one row: (topic, partition, record_offset) is its identity.
CREATE TABLE dead_letters (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic         text NOT NULL,
    partition     integer NOT NULL CHECK (partition >= 0),
    record_offset bigint NOT NULL CHECK (record_offset >= 0),
    record_key    bytea,
    record_value  bytea,
    headers       jsonb NOT NULL DEFAULT '[]',
    consignment_id text,
    error         text NOT NULL,
    failed_at     timestamptz NOT NULL,
    replayed_at   timestamptz,
    UNIQUE (topic, partition, record_offset)
);
CREATE INDEX dead_letters_failed_idx ON dead_letters (failed_at, id);
