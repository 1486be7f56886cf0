-- paycode journal on PostgreSQL, version 1: the tables of the SQLite journal (docs/journal.md),
-- with the order's gateway and site, amounts as exact NUMERIC and times as epoch seconds.
CREATE TABLE orders (
    order_id       TEXT PRIMARY KEY,
    seq            BIGSERIAL NOT NULL,
    amount         NUMERIC NOT NULL,
    currency       TEXT NOT NULL,
    wallet         TEXT NOT NULL,
    code_masked    TEXT NOT NULL,
    lane           TEXT NOT NULL,
    gateway        TEXT NOT NULL DEFAULT '',
    site           TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    transaction_id TEXT,
    abandoned      BOOLEAN NOT NULL DEFAULT FALSE,
    abandon_reason TEXT NOT NULL DEFAULT '',
    deadline_at    DOUBLE PRECISION NOT NULL,
    created_at     DOUBLE PRECISION NOT NULL,
    updated_at     DOUBLE PRECISION NOT NULL
);
CREATE INDEX orders_created ON orders (created_at, seq);
CREATE INDEX orders_open ON orders (lane) WHERE status NOT IN ('SUCCESS', 'CLOSED', 'CANCEL', 'FAILED') OR abandoned;
CREATE TABLE attempts (
    id          BIGSERIAL PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES orders (order_id),
    request_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL DEFAULT 'pending',
    code        TEXT,
    status      TEXT,
    detail      TEXT NOT NULL DEFAULT '',
    sends       INTEGER NOT NULL DEFAULT 1,
    started_at  DOUBLE PRECISION NOT NULL,
    ended_at    DOUBLE PRECISION
);
CREATE INDEX attempts_order ON attempts (order_id, request_id);
CREATE TABLE transitions (
    id        BIGSERIAL PRIMARY KEY,
    order_id  TEXT NOT NULL REFERENCES orders (order_id),
    status    TEXT NOT NULL,
    time      DOUBLE PRECISION NOT NULL,
    note      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX transitions_order ON transitions (order_id);
CREATE TABLE refunds (
    order_id    TEXT NOT NULL REFERENCES orders (order_id),
    refund_id   TEXT NOT NULL,
    seq         BIGSERIAL NOT NULL,
    amount      NUMERIC NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (order_id, refund_id)
);
