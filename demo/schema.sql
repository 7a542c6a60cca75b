-- The reference inventory schema (DESIGN.md section 4), portable between SQLite and
-- PostgreSQL. Timestamps are UTC ISO-8601 text, e.g. 2026-11-22T14:05:00Z.
CREATE TABLE locations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL                      -- warehouse | store | online
);
CREATE TABLE products (
    sku TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT,
    unit_cost NUMERIC NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT 'USD',
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE stock_levels (
    sku TEXT REFERENCES products,
    location_id TEXT REFERENCES locations,
    on_hand INTEGER NOT NULL,
    reserved INTEGER NOT NULL DEFAULT 0,
    reorder_point INTEGER NULL,
    safety_stock INTEGER NULL,
    lead_time_days REAL NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (sku, location_id)
);
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    location_id TEXT NULL,
    status TEXT NOT NULL,                   -- open | fulfilled | cancelled | backordered
    created_at TEXT NOT NULL,
    promised_at TEXT NULL,
    fulfilled_at TEXT NULL
);
CREATE TABLE order_lines (
    order_id TEXT REFERENCES orders,
    sku TEXT,
    quantity INTEGER NOT NULL,
    fulfilled_quantity INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE stock_movements (
    id INTEGER PRIMARY KEY,
    sku TEXT,
    location_id TEXT,
    quantity INTEGER NOT NULL,              -- signed
    kind TEXT NOT NULL,                     -- receipt | sale | return | adjustment | transfer_in | transfer_out
    source TEXT NOT NULL,                   -- shopify | pos | wms | manual | ...
    occurred_at TEXT NOT NULL
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    movement_id INTEGER NULL REFERENCES stock_movements,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE integration_syncs (
    id INTEGER PRIMARY KEY,
    integration TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NULL,
    status TEXT NOT NULL,                   -- running | success | failed
    records INTEGER NOT NULL DEFAULT 0,
    conflicts INTEGER NOT NULL DEFAULT 0,
    error TEXT NULL
);
CREATE TABLE purchase_orders (
    id TEXT PRIMARY KEY,
    sku TEXT,
    location_id TEXT,
    quantity INTEGER NOT NULL,
    status TEXT NOT NULL,                   -- draft | sent | received | cancelled
    created_at TEXT NOT NULL,
    expected_at TEXT NULL
);
-- The exporter's audit-gap and analytics queries look movements up by these.
CREATE INDEX audit_log_movement ON audit_log (movement_id);
CREATE INDEX stock_movements_occurred ON stock_movements (occurred_at);
CREATE INDEX stock_movements_sku_location ON stock_movements (sku, location_id);
CREATE INDEX orders_created ON orders (created_at);
