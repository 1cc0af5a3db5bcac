-- Shared by both backends: metadata, current consignment state, legs, alerts, API keys.

CREATE TABLE corridor_meta (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per consignment: the latest timeline the tracker derived. `event_count` and
-- `last_event_at` version the row: an upsert built from fewer events is stale and ignored.
CREATE TABLE consignments (
    consignment_id    text PRIMARY KEY,
    carrier_id        text NOT NULL,
    state             text NOT NULL CHECK (state IN (
                          'announced', 'declared', 'rejected', 'in_transit',
                          'at_location', 'completed', 'cancelled')),
    current_location  text,
    first_event_at    timestamptz NOT NULL,
    last_event_at     timestamptz NOT NULL,
    event_count       integer NOT NULL CHECK (event_count >= 0),
    route_id          text,
    declared_route    text[] NOT NULL DEFAULT '{}',
    tir_carnet        text,
    mrn               text,
    permit_id         text,
    vehicle_plates    text[] NOT NULL DEFAULT '{}',
    container_numbers text[] NOT NULL DEFAULT '{}',
    anomaly_count     integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consignments_carrier_idx
    ON consignments (carrier_id, last_event_at DESC, consignment_id);
CREATE INDEX consignments_tir_carnet_idx ON consignments (tir_carnet) WHERE tir_carnet IS NOT NULL;
CREATE INDEX consignments_mrn_idx ON consignments (mrn) WHERE mrn IS NOT NULL;
CREATE INDEX consignments_permit_id_idx ON consignments (permit_id) WHERE permit_id IS NOT NULL;
CREATE INDEX consignments_vehicle_plates_idx ON consignments USING gin (vehicle_plates);
CREATE INDEX consignments_container_numbers_idx ON consignments USING gin (container_numbers);
CREATE INDEX consignments_at_location_idx
    ON consignments (current_location, last_event_at) WHERE state = 'at_location';
CREATE INDEX consignments_recent_idx ON consignments (last_event_at DESC, consignment_id);

-- Travel between consecutive locations (CPMM TFI4 speeds). Not a hypertable on either
-- backend: it is small (one row per hop) and read by consignment or by segment.
CREATE TABLE legs (
    consignment_id       text NOT NULL,
    carrier_id           text NOT NULL,
    from_location        text NOT NULL,
    to_location          text NOT NULL,
    mode                 text NOT NULL,
    departed_at          timestamptz NOT NULL,
    arrived_at           timestamptz NOT NULL,
    distance_km          double precision,
    travel_seconds       integer NOT NULL,
    origin_dwell_seconds integer,
    swod_kmh             double precision,
    swd_kmh              double precision,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consignment_id, departed_at, from_location, to_location)
);
CREATE INDEX legs_segment_time_idx ON legs (from_location, to_location, departed_at);
CREATE INDEX legs_departed_brin ON legs USING brin (departed_at);

-- Raised once per dedup_key, however often the tracker re-derives the same condition.
CREATE TABLE alerts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           text NOT NULL,
    consignment_id text,
    carrier_id     text,
    location       text,
    occurred_at    timestamptz NOT NULL,
    raised_at      timestamptz NOT NULL,
    detail         text NOT NULL DEFAULT '',
    dedup_key      text NOT NULL UNIQUE
);
CREATE INDEX alerts_raised_idx ON alerts (raised_at, id);
CREATE INDEX alerts_location_idx ON alerts (location, raised_at, id);
CREATE INDEX alerts_kind_idx ON alerts (kind, raised_at, id);
CREATE INDEX alerts_consignment_idx ON alerts (consignment_id, raised_at);
CREATE INDEX alerts_carrier_idx ON alerts (carrier_id, raised_at, id);

-- Only a SHA-256 of each key is stored; the plain key is shown once, at creation.
CREATE TABLE api_keys (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name              text NOT NULL,
    role              text NOT NULL CHECK (role IN ('publisher', 'carrier', 'operator', 'admin')),
    key_prefix        text NOT NULL UNIQUE,
    key_hash          text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    allowed_locations text[],
    carrier_id        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    revoked_at        timestamptz,
    CONSTRAINT api_keys_carrier_scope CHECK (role <> 'carrier' OR carrier_id IS NOT NULL),
    CONSTRAINT api_keys_publisher_scope CHECK (role <> 'publisher' OR allowed_locations IS NOT NULL)
);
