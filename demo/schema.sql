-- The reference inventory schema (documented in docs/metrics.md, "The reference schema"),
-- portable between SQLite, PostgreSQL and MySQL/MariaDB. Timestamps are UTC ISO-8601
-- text, e.g. 2026-11-22T14:05:00Z. Identifiers, labels and timestamps are VARCHAR
-- because MySQL can neither key nor index TEXT (SQLite gives VARCHAR and TEXT the same
-- text affinity); free text stays TEXT. unit_cost has an explicit precision because
-- MySQL reads a bare NUMERIC as NUMERIC(10, 0), which would round costs to integers.
CREATE TABLE locations (
    id VARCHAR(255) PRIMARY KEY,
    name TEXT NOT NULL,
    kind VARCHAR(64) NOT NULL               -- warehouse | store | online
);
CREATE TABLE products (
    sku VARCHAR(255) PRIMARY KEY,
    name TEXT NOT NULL,
    category VARCHAR(255),
    unit_cost NUMERIC(18, 6) NOT NULL DEFAULT 0,
    currency VARCHAR(64) NOT NULL DEFAULT 'USD',
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE stock_levels (
    sku VARCHAR(255) REFERENCES products (sku),
    location_id VARCHAR(255) REFERENCES locations (id),
    on_hand INTEGER NOT NULL,
    reserved INTEGER NOT NULL DEFAULT 0,
    reorder_point INTEGER NULL,
    safety_stock INTEGER NULL,
    lead_time_days REAL NULL,
    updated_at VARCHAR(64) NOT NULL,
    PRIMARY KEY (sku, location_id)
);
CREATE TABLE orders (
    id VARCHAR(255) PRIMARY KEY,
    channel VARCHAR(64) NOT NULL,
    location_id VARCHAR(255) NULL,
    status VARCHAR(64) NOT NULL,            -- open | fulfilled | cancelled | backordered
    created_at VARCHAR(64) NOT NULL,
    promised_at VARCHAR(64) NULL,
    fulfilled_at VARCHAR(64) NULL
);
CREATE TABLE order_lines (
    order_id VARCHAR(255) REFERENCES orders (id),
    sku VARCHAR(255),
    quantity INTEGER NOT NULL,
    fulfilled_quantity INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE stock_movements (
    id INTEGER PRIMARY KEY,
    sku VARCHAR(255),
    location_id VARCHAR(255),
    quantity INTEGER NOT NULL,              -- signed
    kind VARCHAR(64) NOT NULL,              -- receipt | sale | return | adjustment | transfer_in | transfer_out
    source VARCHAR(64) NOT NULL,            -- shopify | pos | wms | manual | ...
    occurred_at VARCHAR(64) NOT NULL
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    movement_id INTEGER NULL REFERENCES stock_movements (id),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    recorded_at VARCHAR(64) NOT NULL
);
CREATE TABLE integration_syncs (
    id INTEGER PRIMARY KEY,
    integration VARCHAR(64) NOT NULL,
    started_at VARCHAR(64) NOT NULL,
    finished_at VARCHAR(64) NULL,
    status VARCHAR(64) NOT NULL,            -- running | success | failed
    records INTEGER NOT NULL DEFAULT 0,
    conflicts INTEGER NOT NULL DEFAULT 0,
    error TEXT NULL
);
CREATE TABLE purchase_orders (
    id VARCHAR(255) PRIMARY KEY,
    sku VARCHAR(255),
    location_id VARCHAR(255),
    quantity INTEGER NOT NULL,
    status VARCHAR(64) NOT NULL,            -- draft | sent | received | cancelled
    created_at VARCHAR(64) NOT NULL,
    received_at VARCHAR(64) NULL,           -- optional: when the goods arrived (analytics lead times)
    expected_at VARCHAR(64) NULL
);
-- The exporter's audit-gap and analytics queries look movements up by these.
CREATE INDEX audit_log_movement ON audit_log (movement_id);
CREATE INDEX stock_movements_occurred ON stock_movements (occurred_at);
CREATE INDEX stock_movements_sku_location ON stock_movements (sku, location_id);
CREATE INDEX orders_created ON orders (created_at);
