-- Webhooks: carriers' endpoints, the deliveries owed to them (an outbox, in order per
-- consignment and endpoint) and what each endpoint was last told about a consignment.
-- The signing secrets are kept as they are: an HMAC needs them (docs/api.md, "Webhooks").
CREATE TABLE webhook_endpoints (
    id                        uuid PRIMARY KEY,
    carrier_id                text NOT NULL CHECK (carrier_id <> 'not-named'),
    url                       text NOT NULL,
    kinds                     text[] NOT NULL
                              CHECK (kinds <@ ARRAY['state', 'location', 'eta', 'alert']
                                     AND cardinality(kinds) > 0),
    eta_threshold_seconds     integer NOT NULL DEFAULT 3600 CHECK (eta_threshold_seconds > 0),
    description               text NOT NULL DEFAULT '',
    secret                    text NOT NULL,
    previous_secret           text,
    previous_secret_until     timestamptz,
    paused                    boolean NOT NULL DEFAULT false,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_carrier_idx ON webhook_endpoints (carrier_id, created_at);

CREATE TABLE webhook_deliveries (
    seq             bigserial PRIMARY KEY,
    id              text NOT NULL UNIQUE,  -- the webhook-id header, "msg_..."
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    consignment_id  text NOT NULL,
    event_type      text NOT NULL,
    dedup_key       text NOT NULL,
    body            text NOT NULL,  -- exactly the bytes signed and sent
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (endpoint_id, dedup_key)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order_idx
    ON webhook_deliveries (endpoint_id, consignment_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_dead_idx ON webhook_deliveries (endpoint_id, seq)
    WHERE status = 'dead';

CREATE TABLE webhook_notified (
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    consignment_id   text NOT NULL,
    state            text,
    current_location text,
    eta_p50          timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (endpoint_id, consignment_id)
);
