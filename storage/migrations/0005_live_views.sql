-- Shared by both backends: what is in progress right now (plain views, always current).

CREATE VIEW stays_in_progress AS
SELECT
    s.consignment_id,
    s.carrier_id,
    s.location,
    s.visit,
    s.country,
    s.mode,
    s.direction,
    s.arrived_at,
    s.released_at,
    s.inspection_started_at,
    s.inspection_completed_at,
    extract(epoch FROM now() - s.arrived_at)::bigint AS waiting_seconds
FROM stays AS s
WHERE s.status = 'in_progress';

CREATE VIEW location_queue_now AS
SELECT
    s.location,
    s.country,
    count(*) AS in_progress_count,
    count(*) FILTER (WHERE s.released_at IS NULL) AS awaiting_release_count,
    min(s.arrived_at) AS oldest_arrived_at,
    extract(epoch FROM now() - min(s.arrived_at))::bigint AS max_waiting_seconds,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM now() - s.arrived_at))
        AS median_waiting_seconds
FROM stays AS s
WHERE s.status = 'in_progress'
GROUP BY s.location, s.country;

CREATE VIEW crossings_in_progress AS
SELECT
    c.consignment_id,
    c.carrier_id,
    c.border_id,
    c.from_location,
    c.to_location,
    c.direction,
    c.mode,
    c.arrived_at,
    extract(epoch FROM now() - c.arrived_at)::bigint AS elapsed_seconds
FROM crossings AS c
WHERE c.status = 'in_progress';
