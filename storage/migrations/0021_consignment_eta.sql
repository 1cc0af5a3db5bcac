-- Each consignment's latest ETA (corridor.eta), recorded by the webhook dispatcher on
-- every consignment update, for the dashboards: SQL cannot run the rule itself.
-- One row per consignment still under way; a finished one has none.
CREATE TABLE consignment_eta (
    consignment_id  text PRIMARY KEY,
    as_of           timestamptz NOT NULL,
    destination     text NOT NULL,
    arrival_p50     timestamptz,
    arrival_p90     timestamptz,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    parts           integer NOT NULL,   -- parts of the journey ahead it looked at
    fewest_samples  integer,            -- the thinnest part's recent observations
    basis           jsonb NOT NULL,     -- every part: kind, location, to_location, samples
    unavailable     text,
    reason          text,
    CHECK ((arrival_p50 IS NULL) = (unavailable IS NOT NULL))
);
