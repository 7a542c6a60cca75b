"""Generate the demo inventory: a SQLite database in the reference schema (demo/schema.sql).

    python -m demo.seed --db .demo/inventory.db [--skus 3000] [--days 90] [--seed 42]

A few thousand SKUs over a warehouse (wh-main), two stores (store-north, store-south)
and an online location, with `--days` of history that hangs together: stock is simulated
day by day under a reorder-point policy, so sales, receipts from purchase orders,
warehouse-to-store transfers, returns and cycle-count adjustments add up to today's
on_hand. Orders come from three channels (pos at the stores, online, wholesale from the
warehouse); online and wholesale orders can be backordered when stock runs short, POS
sales cannot happen without stock. Integration syncs for shopify, square and odoo run
on their schedules up to now. A few audit_log rows are missing on purpose (an audit gap
for the exporter to find), some reorder settings are NULL, and two movements name a SKU
that no longer exists, because real data is like that.

The same --seed and --now give the same database. At start no SKU-location is out of
stock, so the first stock-out alert of the demo is the simulator's doing.
"""

from __future__ import annotations

import argparse
import math
import os
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

SCHEMA_PATH = Path(__file__).with_name("schema.sql")

# (id, name, kind); rows of the simulation are ordered by this list, warehouse first.
LOCATIONS = (
    ("wh-main", "Main warehouse", "warehouse"),
    ("store-north", "North store", "store"),
    ("store-south", "South store", "store"),
    ("online", "Online store", "online"),
)
# Share of the catalogue each location carries.
ASSORTMENT = {"wh-main": 1.0, "store-north": 0.6, "store-south": 0.55, "online": 0.45}
CHANNEL_OF_KIND = {"warehouse": "wholesale", "store": "pos", "online": "online"}
SALE_SOURCE = {"pos": "pos", "online": "shopify", "wholesale": "wms"}
# integration -> minutes between syncs
SYNC_SCHEDULE = {"shopify": 15, "square": 10, "odoo": 30}
INTEGRATIONS = tuple(SYNC_SCHEDULE)

CATEGORIES = (
    "apparel",
    "footwear",
    "accessories",
    "home",
    "kitchen",
    "garden",
    "toys",
    "electronics",
    "beauty",
    "sports",
    "books",
    "grocery",
)
_ADJECTIVES = (
    "Classic",
    "Organic",
    "Compact",
    "Deluxe",
    "Everyday",
    "Heavy-duty",
    "Mini",
    "Pro",
    "Recycled",
    "Slim",
    "Smart",
    "Vintage",
    "Waterproof",
    "Wireless",
    "Premium",
    "Eco",
)
_NOUNS = {
    "apparel": ("T-shirt", "Hoodie", "Jacket", "Jeans", "Scarf"),
    "footwear": ("Sneaker", "Boot", "Sandal", "Slipper", "Loafer"),
    "accessories": ("Backpack", "Wallet", "Belt", "Cap", "Sunglasses"),
    "home": ("Lamp", "Cushion", "Blanket", "Frame", "Candle"),
    "kitchen": ("Kettle", "Pan", "Knife set", "Mug", "Blender"),
    "garden": ("Hose", "Planter", "Shears", "Seed kit", "Lantern"),
    "toys": ("Puzzle", "Robot kit", "Plush bear", "Board game", "Kite"),
    "electronics": ("Charger", "Headphones", "Speaker", "Power bank", "Cable"),
    "beauty": ("Shampoo", "Lotion", "Lip balm", "Soap", "Face mask"),
    "sports": ("Yoga mat", "Water bottle", "Dumbbell", "Jump rope", "Ball"),
    "books": ("Cookbook", "Notebook", "Novel", "Atlas", "Planner"),
    "grocery": ("Coffee", "Tea", "Honey", "Olive oil", "Granola"),
}
_STORE_ACTORS = ("till-1", "till-2", "till-3", "self-checkout")
_STAFF = ("amara.okafor", "ben.larsen", "chen.wei", "dana.ruiz", "elif.kaya")
_SYNC_ERRORS = {
    "shopify": "429 Too Many Requests: throttled (cost exceeded)",
    "square": "503 Service Unavailable from connect.squareup.com",
    "odoo": "XML-RPC fault: database is locked",
}

MOVEMENT_KINDS = ("receipt", "sale", "return", "adjustment", "transfer_in", "transfer_out")
_K = {kind: i for i, kind in enumerate(MOVEMENT_KINDS)}

DAY = 86400


def iso(epoch_seconds: np.ndarray) -> np.ndarray:
    """Unix seconds -> ISO-8601 UTC text with Z, vectorised."""
    text = np.datetime_as_string(np.asarray(epoch_seconds, dtype="int64").astype("datetime64[s]"), unit="s")
    return np.char.add(text, "Z")


def iso_one(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(int(epoch_seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Progress:
    """A one-line progress bar on stderr, drawn only on a terminal and only after a moment."""

    def __init__(self, total: float, label: str = "seeding", enabled: bool | None = None, delay: float = 0.4):
        self.total = total
        self.done = 0.0
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self.delay = delay
        self.drawn = False
        self.stage = ""

    def advance(self, amount: float, stage: str | None = None) -> None:
        self.done = min(self.total, self.done + amount)
        if stage is not None:
            self.stage = stage
        if not self.enabled or time.monotonic() - self.started < self.delay:
            return
        width = 30
        filled = int(width * self.done / self.total)
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {100 * self.done / self.total:5.1f}% {self.stage:<24}")
        sys.stderr.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


@dataclass
class SeedSummary:
    path: str
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        parts = ", ".join(f"{n} {t}" for t, n in self.counts.items())
        return f"seeded {self.path} in {self.seconds:.1f}s: {parts}"


@dataclass
class _Movements:
    """Columnar buffers of stock movements (row index, time, quantity, kind)."""

    rows: list = field(default_factory=list)
    times: list = field(default_factory=list)
    qtys: list = field(default_factory=list)
    kinds: list = field(default_factory=list)

    def add(self, rows, times, qtys, kind: str) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return
        self.rows.append(rows)
        self.times.append(np.asarray(times, dtype=np.int64))
        self.qtys.append(np.asarray(qtys, dtype=np.int64))
        self.kinds.append(np.full(rows.size, _K[kind], dtype=np.int8))

    def arrays(self):
        return (
            np.concatenate(self.rows),
            np.concatenate(self.times),
            np.concatenate(self.qtys),
            np.concatenate(self.kinds),
        )


def _sum_by(index: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """Integer sums of weights per index (np.bincount with weights returns floats)."""
    return np.rint(np.bincount(index, weights, minlength=length)).astype(np.int64)


def _business_time(rng: np.random.Generator, day_start: np.ndarray, n: int | None = None) -> np.ndarray:
    """A time during working hours (08:00-18:00 after the day window opens)."""
    size = n if n is not None else np.shape(day_start)
    return np.asarray(day_start) + rng.integers(8 * 3600, 18 * 3600, size=size)


def generate(
    db_path: str | Path,
    *,
    skus: int = 3000,
    days: int = 90,
    seed: int = 42,
    now: float | None = None,
    progress: bool | None = None,
) -> SeedSummary:
    """Write a fresh demo database at db_path (replacing any file there)."""
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    now = int(time.time() if now is None else now)
    bar = Progress(100, enabled=progress)
    # Day d is the 24 h window ending (days - d - 1) days before now; the last one ends now.
    day_start = now - (days - np.arange(days)) * DAY

    # --- catalogue -------------------------------------------------------------------
    n = skus
    sku_ids = np.array([f"SKU-{i:05d}" for i in range(1, n + 1)])
    category_idx = rng.integers(0, len(CATEGORIES), size=n)
    adjective_idx = rng.integers(0, len(_ADJECTIVES), size=n)
    noun_idx = rng.integers(0, 5, size=n)
    names = [
        f"{_ADJECTIVES[a]} {_NOUNS[CATEGORIES[c]][k]} {i + 1}"
        for i, (a, c, k) in enumerate(zip(adjective_idx, category_idx, noun_idx))
    ]
    unit_cost = np.round(np.exp(rng.normal(math.log(12), 0.8, size=n)), 2)
    active = rng.random(n) >= 0.02
    popularity = np.exp(rng.normal(0.0, 0.9, size=n)) * active

    # --- SKU-location rows (warehouse rows first: row i < n is the warehouse row of SKU i)
    row_sku_parts, row_loc_parts = [], []
    for loc_index, (loc_id, _, _) in enumerate(LOCATIONS):
        carried = np.arange(n) if ASSORTMENT[loc_id] >= 1 else np.nonzero(rng.random(n) < ASSORTMENT[loc_id])[0]
        row_sku_parts.append(carried)
        row_loc_parts.append(np.full(carried.size, loc_index))
    row_sku = np.concatenate(row_sku_parts)
    row_loc = np.concatenate(row_loc_parts)
    rows = row_sku.size
    loc_kind = np.array([kind for _, _, kind in LOCATIONS])[row_loc]
    is_wh = loc_kind == "warehouse"
    is_store = loc_kind == "store"
    retail = ~is_wh

    # Orders per day at each row; units per order: retail 1-3, wholesale cases of 6.
    orders_per_day = popularity[row_sku] * np.select([is_store, loc_kind == "online"], [0.22, 0.16], 0.035)
    mean_units = np.where(is_wh, 6 * 4.0, 1.35)
    daily_units = orders_per_day * mean_units
    # The warehouse also feeds the other locations.
    wh_daily = daily_units[:n] + np.bincount(row_sku[retail], daily_units[retail], minlength=n)
    row_daily = np.where(is_wh, wh_daily[row_sku], daily_units)

    lead_time = np.where(is_wh, rng.integers(5, 22, size=rows), rng.integers(1, 4, size=rows)).astype(float)
    # Demand is Poisson-ish in orders, so its daily standard deviation is about sqrt(mean x units).
    # Wholesale orders come in cases of 6 x 1..7, so their variance per unit is ~30.
    sigma = np.sqrt(row_daily * np.where(is_wh, 30.0, 1.6))
    # The warehouse serves both wholesale and the shops, so it holds a higher service level.
    safety = np.ceil(np.where(is_wh, 2.33, 1.65) * sigma * np.sqrt(lead_time)).astype(np.int64)
    reorder_point = np.ceil(row_daily * lead_time).astype(np.int64) + safety
    order_qty = np.maximum(np.ceil(row_daily * np.where(is_wh, 30, 10)), np.where(is_wh, 12, 3)).astype(np.int64)
    stock = (reorder_point + 1 + rng.random(rows) * order_qty).astype(np.int64)
    bar.advance(5, "catalogue")

    # --- day-by-day simulation -------------------------------------------------------
    movements = _Movements()
    order_rows, order_times, order_units, order_filled, order_cancel = [], [], [], [], []
    po_rows, po_created, po_qty, po_arrival = [], [], [], []
    horizon = days + 40
    replenish_arrivals = np.zeros((horizon, rows), dtype=np.int64)
    return_arrivals = np.zeros((horizon, rows), dtype=np.int64)
    on_order = np.zeros(rows, dtype=np.int64)
    weekday = ((day_start // DAY) + 4) % 7  # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
    season_retail = np.where(weekday >= 5, 1.35, 0.93)
    season_wholesale = np.where(weekday >= 5, 0.25, 1.25)
    wh_rows_of_sku = np.arange(n)

    for d in range(days):
        # Arrivals first: goods received in the morning are on the shelf for the day.
        arriving = replenish_arrivals[d]
        stock += arriving + return_arrivals[d]
        on_order -= arriving

        # Demand: orders per row, then units per order, filled in order of arrival.
        rate = orders_per_day * np.where(is_wh, season_wholesale[d], season_retail[d])
        count = rng.poisson(rate)
        has = np.nonzero(count)[0]
        if has.size:
            idx = np.repeat(has, count[has])
            units = np.where(is_wh[idx], 6 * rng.integers(1, 8, size=idx.size), 1 + rng.poisson(0.35, size=idx.size))
            cancel = (~is_store[idx]) & (rng.random(idx.size) < 0.01)
            wanted = np.where(cancel, 0, units)
            ends = np.cumsum(wanted)
            group_first = np.searchsorted(idx, idx, side="left")
            before = ends - wanted - np.where(group_first > 0, ends[group_first - 1], 0)
            filled = np.clip(stock[idx] - before, 0, wanted)
            # Wholesale buyers see availability on the portal and order what is there (in cases).
            adjust = is_wh[idx] & (filled < wanted) & (filled >= 6)
            units = np.where(adjust, filled // 6 * 6, units)
            filled = np.where(adjust, units, filled)
            # At a till nobody buys what is not on the shelf: no stock, no POS order. Most
            # wholesale buyers skip what the portal shows as out of stock; a few backorder it.
            skipped = is_wh[idx] & (filled == 0) & ~cancel & (rng.random(idx.size) < 0.85)
            keep = (~is_store[idx] | (filled > 0)) & ~skipped
            units = np.where(is_store[idx], filled, units)
            idx, units, filled, cancel = idx[keep], units[keep], filled[keep], cancel[keep]
            times = day_start[d] + rng.integers(0, DAY, size=idx.size)
            stock -= _sum_by(idx, filled, rows)
            order_rows.append(idx)
            order_times.append(times)
            order_units.append(units)
            order_filled.append(filled)
            order_cancel.append(cancel)
            # Some retail sales come back within two weeks.
            back = np.nonzero(retail[idx] & (filled > 0) & (rng.random(idx.size) < 0.03))[0]
            back_day = d + rng.integers(1, 15, size=back.size)
            np.add.at(return_arrivals, (back_day, idx[back]), filled[back])
            in_range = back_day < days
            movements.add(
                idx[back][in_range],
                _business_time(rng, day_start[back_day[in_range]]),
                filled[back][in_range],
                "return",
            )

        # Cycle counts: shrinkage more often than surplus.
        counted = np.nonzero(rng.random(rows) < 0.002)[0]
        if counted.size:
            delta = rng.choice(np.array([-3, -2, -1, -1, -1, 1, 2]), size=counted.size)
            delta = np.maximum(delta, -stock[counted])
            nonzero = delta != 0
            stock[counted[nonzero]] += delta[nonzero]
            movements.add(
                counted[nonzero], _business_time(rng, day_start[d], int(nonzero.sum())), delta[nonzero], "adjustment"
            )

        # Replenishment of stores and online from the warehouse, as far as it has stock.
        position = stock + on_order
        need = np.nonzero(retail & (position <= reorder_point) & (popularity[row_sku] > 0))[0]
        if need.size:
            qty = order_qty[need] + reorder_point[need] - position[need]
            requested = _sum_by(row_sku[need], qty, n)
            ratio = np.divide(stock[:n], requested, out=np.ones(n), where=requested > 0).clip(0, 1)
            shipped = np.floor(qty * ratio[row_sku[need]]).astype(np.int64)
            ok = shipped > 0
            need, shipped = need[ok], shipped[ok]
            ship_time = _business_time(rng, day_start[d], need.size)
            stock[:n] -= _sum_by(row_sku[need], shipped, n)
            on_order[need] += shipped
            arrive = d + lead_time[need].astype(np.int64)
            np.add.at(replenish_arrivals, (arrive, need), shipped)
            movements.add(wh_rows_of_sku[row_sku[need]], ship_time, -shipped, "transfer_out")
            in_range = arrive < days
            movements.add(
                need[in_range], _business_time(rng, day_start[arrive[in_range]]), shipped[in_range], "transfer_in"
            )

        # Purchase orders for the warehouse from suppliers.
        position = stock + on_order
        need = np.nonzero(is_wh & (position <= reorder_point) & active[row_sku])[0]
        if need.size:
            qty = order_qty[need] + reorder_point[need] - position[need]
            arrive = d + lead_time[need].astype(np.int64) + rng.integers(-1, 3, size=need.size)
            on_order[need] += qty
            np.add.at(replenish_arrivals, (arrive, need), qty)
            po_rows.append(need)
            po_created.append(_business_time(rng, day_start[d], need.size))
            po_qty.append(qty)
            po_arrival.append(arrive)
            in_range = arrive < days
            movements.add(need[in_range], _business_time(rng, day_start[arrive[in_range]]), qty[in_range], "receipt")
        bar.advance(45 / days, "simulating history")

    # --- orders: statuses, times and their sale movements ------------------------------
    o_row = np.concatenate(order_rows)
    o_created = np.concatenate(order_times)
    o_units = np.concatenate(order_units)
    o_filled = np.concatenate(order_filled)
    o_cancel = np.concatenate(order_cancel)
    channel = np.array([CHANNEL_OF_KIND[k] for k in loc_kind])[o_row]
    is_pos = channel == "pos"
    # POS sales are handed over at once; online and wholesale ship after picking and packing.
    ship_delay = np.where(is_pos, 0, rng.exponential(np.where(channel == "online", 600, 900)).astype(np.int64) + 60)
    o_fulfilled_at = o_created + ship_delay
    complete = (o_filled == o_units) & ~o_cancel
    shipped_yet = o_fulfilled_at <= now
    status = np.where(
        o_cancel, "cancelled", np.where(~complete, "backordered", np.where(shipped_yet, "fulfilled", "open"))
    )
    # Backorders older than a week were settled: most shipped complete when goods arrived
    # (no second movement is modelled), the rest cancelled by the customer.
    settled = (status == "backordered") & (o_created < now - 7 * DAY)
    shipped_later = settled & (rng.random(status.size) < 0.6)
    status = np.where(shipped_later, "fulfilled", np.where(settled, "cancelled", status))
    o_fulfilled_at = np.where(
        shipped_later, o_created + rng.integers(2 * DAY, 6 * DAY, size=status.size), o_fulfilled_at
    )
    line_fulfilled = np.where(status == "open", 0, np.where(shipped_later, o_units, o_filled))
    # Open orders have their units reserved, not yet moved out.
    open_orders = status == "open"
    reserved = _sum_by(o_row[open_orders], o_filled[open_orders], rows)
    stock += reserved
    sale = (o_filled > 0) & ~open_orders
    sale_time = np.where(is_pos, o_created, o_fulfilled_at)
    movements.add(o_row[sale], sale_time[sale], -o_filled[sale], "sale")
    bar.advance(10, "orders")

    # Nothing is out of stock at start (so the demo's first stock-out is the simulator's):
    # anything at zero got an expedited receipt this morning.
    empty = np.nonzero(stock - reserved <= 0)[0]
    if empty.size:
        top_up = order_qty[empty] + reserved[empty] - stock[empty]
        stock[empty] += top_up
        movements.add(empty, np.full(empty.size, now - 3600), top_up, "receipt")

    # --- movements: chronological ids, sources, audit rows -----------------------------
    m_row, m_time, m_qty, m_kind = movements.arrays()
    order = np.argsort(m_time, kind="stable")
    m_row, m_time, m_qty, m_kind = m_row[order], m_time[order], m_qty[order], m_kind[order]
    m_count = m_row.size
    kind_names = np.array(MOVEMENT_KINDS)[m_kind]
    row_channel = np.array([CHANNEL_OF_KIND[k] for k in loc_kind])
    sale_source = np.array([SALE_SOURCE[c] for c in row_channel])[m_row]
    source = np.where(
        np.isin(m_kind, [_K["sale"], _K["return"]]), sale_source, np.where(m_kind == _K["adjustment"], "manual", "wms")
    )
    m_ids = np.arange(1, m_count + 1)
    loc_ids = np.array([loc for loc, _, _ in LOCATIONS])
    m_sku = sku_ids[row_sku[m_row]]
    m_loc = loc_ids[row_loc[m_row]]
    m_iso = iso(m_time)
    store_actor = np.array(_STORE_ACTORS)[rng.integers(0, len(_STORE_ACTORS), size=m_count)]
    actor = np.where(
        source == "pos",
        np.char.add(np.char.add(m_loc, ":"), store_actor),
        np.where(
            source == "shopify",
            "shopify-webhook",
            np.where(source == "manual", np.array(_STAFF)[rng.integers(0, 5, size=m_count)], "wms-sync"),
        ),
    )
    # The audit gap: a handful of recent movements whose audit rows were lost.
    recent = np.nonzero(m_time > now - 3 * DAY)[0]
    missing = rng.choice(recent, size=min(6, recent.size), replace=False) if recent.size else np.array([], int)
    audited = np.ones(m_count, dtype=bool)
    audited[missing] = False
    audit_time = iso(m_time + rng.integers(0, 5, size=m_count))
    bar.advance(10, "movements")

    # --- write -----------------------------------------------------------------------
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = db_path.with_name(db_path.name + ".tmp")
    for stale in (tmp_path, Path(f"{tmp_path}-journal")):
        stale.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp_path)
    conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
    conn.executescript(SCHEMA_PATH.read_text())
    counts: dict[str, int] = {}

    def insert(table: str, columns: str, data) -> None:
        data = list(data)
        marks = ",".join("?" * len(columns.split(",")))
        conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", data)
        counts[table] = counts.get(table, 0) + len(data)

    insert("locations", "id,name,kind", LOCATIONS)
    insert(
        "products",
        "sku,name,category,unit_cost,currency,active",
        zip(
            sku_ids.tolist(),
            names,
            np.array(CATEGORIES)[category_idx].tolist(),
            unit_cost.tolist(),
            ["USD"] * n,
            active.astype(int).tolist(),
        ),
    )

    # Reorder settings: most rows have them; some were never set up (NULL), as in real data.
    unset = rng.random(rows) < 0.08
    updated = iso(now - rng.integers(60, 6 * 3600, size=rows))
    insert(
        "stock_levels",
        "sku,location_id,on_hand,reserved,reorder_point,safety_stock,lead_time_days,updated_at",
        zip(
            sku_ids[row_sku].tolist(),
            loc_ids[row_loc].tolist(),
            stock.tolist(),
            reserved.tolist(),
            [None if u else int(v) for u, v in zip(unset, reorder_point)],
            [None if u else int(v) for u, v in zip(unset, safety)],
            [None if u else float(v) for u, v in zip(unset, lead_time)],
            updated.tolist(),
        ),
    )
    bar.advance(3, "stock levels")

    o_sort = np.argsort(o_created, kind="stable")
    o_ids = np.array([f"ORD-{i:07d}" for i in range(1, o_row.size + 1)])
    promised = o_created + np.where(is_pos, 0, np.where(channel == "online", 3 * DAY, 7 * DAY))
    fulfilled_at = np.where(status == "fulfilled", o_fulfilled_at, -1)[o_sort]
    o_created_iso = iso(o_created[o_sort])
    o_promised_iso = iso(promised[o_sort])
    o_fulfilled_iso = iso(np.maximum(fulfilled_at, 0))
    insert(
        "orders",
        "id,channel,location_id,status,created_at,promised_at,fulfilled_at",
        zip(
            o_ids.tolist(),
            channel[o_sort].tolist(),
            loc_ids[row_loc[o_row[o_sort]]].tolist(),
            status[o_sort].tolist(),
            o_created_iso.tolist(),
            [None if p else t for p, t in zip(is_pos[o_sort], o_promised_iso.tolist())],
            [t if f >= 0 else None for f, t in zip(fulfilled_at, o_fulfilled_iso.tolist())],
        ),
    )
    bar.advance(8, "orders")
    insert(
        "order_lines",
        "order_id,sku,quantity,fulfilled_quantity",
        zip(
            o_ids.tolist(),
            sku_ids[row_sku[o_row[o_sort]]].tolist(),
            o_units[o_sort].tolist(),
            line_fulfilled[o_sort].tolist(),
        ),
    )
    bar.advance(5, "order lines")

    insert(
        "stock_movements",
        "id,sku,location_id,quantity,kind,source,occurred_at",
        zip(
            m_ids.tolist(),
            m_sku.tolist(),
            m_loc.tolist(),
            m_qty.tolist(),
            kind_names.tolist(),
            source.tolist(),
            m_iso.tolist(),
        ),
    )
    # Movements of a discontinued SKU that was deleted from products: dirty, but old news.
    legacy_id = m_count + 1
    legacy = [
        (legacy_id + i, "SKU-LEGACY-0042", "store-north", -1, "sale", "pos", iso_one(now - (40 + i) * DAY))
        for i in range(2)
    ]
    insert("stock_movements", "id,sku,location_id,quantity,kind,source,occurred_at", legacy)
    bar.advance(8, "movements")
    insert(
        "audit_log",
        "movement_id,actor,action,recorded_at",
        zip(
            m_ids[audited].tolist(),
            actor[audited].tolist(),
            np.char.add("movement.", kind_names[audited]).tolist(),
            audit_time[audited].tolist(),
        ),
    )
    insert(
        "audit_log",
        "movement_id,actor,action,recorded_at",
        [(mid, "pos-migration", "movement.sale", t) for mid, _, _, _, _, _, t in legacy],
    )
    bar.advance(3, "audit log")

    po = _purchase_orders(rng, po_rows, po_created, po_qty, po_arrival, day_start, days, now, sku_ids, row_sku)
    insert("purchase_orders", "id,sku,location_id,quantity,status,created_at,expected_at", po)
    insert(
        "integration_syncs", "integration,started_at,finished_at,status,records,conflicts,error", _syncs(rng, now, days)
    )
    bar.advance(3, "syncs")
    conn.commit()
    conn.close()
    # WAL lets the API write while the exporter and the fakes read; set on the final file.
    conn = sqlite3.connect(tmp_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    os.replace(tmp_path, db_path)
    bar.advance(100, "done")
    bar.finish()
    return SeedSummary(str(db_path), time.monotonic() - started, counts)


def _purchase_orders(rng, po_rows, po_created, po_qty, po_arrival, day_start, days, now, sku_ids, row_sku):
    if not po_rows:
        return []
    rows = np.concatenate(po_rows)
    created = np.concatenate(po_created)
    qty = np.concatenate(po_qty)
    arrival = np.concatenate(po_arrival)
    expected = day_start[0] + arrival * DAY + 10 * 3600
    order = np.argsort(created, kind="stable")
    status = np.where(arrival < days, "received", "sent")
    return list(
        zip(
            [f"PO-{i:06d}" for i in range(1, rows.size + 1)],
            sku_ids[row_sku[rows[order]]].tolist(),
            ["wh-main"] * rows.size,
            qty[order].tolist(),
            status[order].tolist(),
            iso(created[order]).tolist(),
            iso(expected[order]).tolist(),
        )
    )


def _syncs(rng: np.random.Generator, now: int, days: int):
    out = []
    for integration, minutes in SYNC_SCHEDULE.items():
        period = minutes * 60
        # The newest run started one period or less ago and finished, so nothing is stale at start.
        starts = now - np.arange(days * DAY // period, 0, -1) * period + int(rng.integers(0, period // 2))
        starts = starts[starts < now - 90]
        duration = rng.integers(4, 80, size=starts.size)
        failed = rng.random(starts.size) < 0.015
        failed[-3:] = False
        records = rng.integers(20, 400, size=starts.size)
        conflicts = np.where(rng.random(starts.size) < 0.05, rng.integers(1, 4, size=starts.size), 0)
        started_iso = iso(starts)
        finished_iso = iso(starts + duration)
        for s, f, bad, rec, con in zip(started_iso.tolist(), finished_iso.tolist(), failed, records, conflicts):
            if bad:
                out.append((integration, s, f, "failed", 0, 0, _SYNC_ERRORS[integration]))
            else:
                out.append((integration, s, f, "success", int(rec), int(con), None))
    out.sort(key=lambda r: r[1])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.seed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=".demo/inventory.db", help="SQLite file to write (replaced)")
    parser.add_argument("--skus", type=int, default=3000)
    parser.add_argument("--days", type=int, default=90, help="days of history")
    parser.add_argument("--seed", type=int, default=42, help="random seed; same seed and --now, same data")
    parser.add_argument("--now", help="end of the history, ISO-8601 (default: now)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.skus < 10 or args.days < 2:
        parser.error("need at least 10 SKUs and 2 days")
    now = None
    if args.now:
        try:
            now = datetime.fromisoformat(args.now.replace("Z", "+00:00")).timestamp()
        except ValueError:
            parser.error(f"--now: not an ISO-8601 time: {args.now!r}")
    summary = generate(
        args.db, skus=args.skus, days=args.days, seed=args.seed, now=now, progress=False if args.no_progress else None
    )
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
