-- Plain PostgreSQL: ordinary tables with BRIN indexes on their time columns.
-- Same relation names, columns and unique keys as 0002_timeseries.timescaledb.sql.

CREATE TABLE transit_events (
    event_id       uuid NOT NULL,
    occurred_at    timestamptz NOT NULL,
    event_type     text NOT NULL,
    location       text NOT NULL,
    consignment_id text NOT NULL,
    carrier_id     text NOT NULL,
    source_system  text NOT NULL,
    fingerprint    text NOT NULL,
    payload        jsonb NOT NULL,
    ingested_at    timestamptz NOT NULL DEFAULT now(),
    -- A hypertable's unique keys must contain its time column, hence occurred_at.
    PRIMARY KEY (event_id, occurred_at)
);
CREATE INDEX transit_events_consignment_idx ON transit_events (consignment_id, occurred_at);
CREATE INDEX transit_events_location_time_idx ON transit_events (location, occurred_at);
CREATE INDEX transit_events_occurred_brin ON transit_events USING brin (occurred_at);
CREATE INDEX transit_events_ingested_brin ON transit_events USING brin (ingested_at);

CREATE TABLE stays (
    consignment_id               text NOT NULL,
    location                     text NOT NULL,
    visit                        integer NOT NULL CHECK (visit >= 1),
    carrier_id                   text NOT NULL,
    country                      text NOT NULL,
    mode                         text,
    direction                    text,
    status                       text NOT NULL
                                 CHECK (status IN ('in_progress', 'completed', 'departure_missing')),
    arrived_at                   timestamptz NOT NULL,
    released_at                  timestamptz,
    departed_at                  timestamptz,
    inspection_started_at        timestamptz,
    inspection_completed_at      timestamptz,
    dwell_seconds                integer,
    arrival_to_release_seconds   integer,
    release_to_departure_seconds integer,
    inspection_seconds           integer,
    updated_at                   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consignment_id, location, visit, arrived_at),
    -- Only possible without partitioning on arrived_at; the writer never relies on it.
    UNIQUE (consignment_id, location, visit)
);
CREATE INDEX stays_location_time_idx ON stays (location, arrived_at);
CREATE INDEX stays_in_progress_idx ON stays (location, arrived_at) WHERE status = 'in_progress';
CREATE INDEX stays_arrived_brin ON stays USING brin (arrived_at);

CREATE TABLE crossings (
    consignment_id text NOT NULL,
    carrier_id     text NOT NULL,
    border_id      text NOT NULL,
    from_location  text NOT NULL,
    to_location    text NOT NULL,
    direction      text NOT NULL,
    mode           text,
    status         text NOT NULL CHECK (status IN ('in_progress', 'completed')),
    arrived_at     timestamptz NOT NULL,
    departed_at    timestamptz,
    tfi1_seconds   integer,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consignment_id, border_id, arrived_at)
);
CREATE INDEX crossings_border_time_idx ON crossings (border_id, direction, arrived_at);
CREATE INDEX crossings_in_progress_idx
    ON crossings (border_id, arrived_at) WHERE status = 'in_progress';
CREATE INDEX crossings_arrived_brin ON crossings USING brin (arrived_at);
