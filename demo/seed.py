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
stock, so the first stock-out alert of the demo is the simulator's doing. Customer service
level has history too: backorders shipped late or short, and a backlog of online orders
(ids BKL-...) whose promises fall due in the demo's first half hour, for the simulator to
pick in time or not.
"""

from __future__ import annotations

import argparse
import math
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
_LOCATION_IDS = np.array([loc for loc, _, _ in LOCATIONS])


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

    # The order of the steps is the order of the draws from rng: the same seed, the same data.
    catalogue = _catalogue(rng, skus)
    rows = _sku_locations(rng, skus)
    sim = _Simulation(rng, day_start, catalogue, rows, _reorder_policy(rng, catalogue, rows))
    bar.advance(5, "catalogue")
    for d in range(days):
        sim.day(d)
        bar.advance(45 / days, "simulating history")
    _wait_for_the_warehouse(sim, now)
    orders = _settle_orders(rng, sim, now)
    reserved = _book_sales(sim, orders)
    _top_up(sim, reserved, now)
    backlog = _backlog(rng, sim, orders, reserved, now)
    # A stream of its own, so that the data drawn after it is what it was before them.
    waiting = _waiting_backorders(np.random.default_rng([seed, 1]), sim, reserved, now)
    bar.advance(10, "orders")
    log = _movement_log(rng, sim, now)
    bar.advance(10, "movements")

    db_path = Path(db_path)
    with _fresh_database(db_path) as db:
        db.insert("locations", "id,name,kind", LOCATIONS)
        _insert_products(db, catalogue)
        _insert_stock_levels(db, rng, sim, reserved, now)
        bar.advance(3, "stock levels")
        _insert_orders(db, sim, orders)
        _insert_online_orders(db, sim, backlog, "open")
        _insert_online_orders(db, sim, waiting, "backordered")
        bar.advance(13, "orders")
        _insert_movements(db, log, now)
        bar.advance(11, "movements")
        db.insert("purchase_orders", "id,sku,location_id,quantity,status,created_at,expected_at", _purchase_orders(sim))
        db.insert(
            "integration_syncs",
            "integration,started_at,finished_at,status,records,conflicts,error",
            _syncs(rng, now, days),
        )
        bar.advance(3, "syncs")
    bar.advance(100, "done")
    bar.finish()
    return SeedSummary(str(db_path), time.monotonic() - started, db.counts)


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


class _Columns:
    """Named columnar buffers, appended to day by day and concatenated at the end."""

    def __init__(self, *names: str):
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in names}

    def add(self, **columns: np.ndarray) -> None:
        for name, values in columns.items():
            self.parts[name].append(values)

    def empty(self) -> bool:
        return not any(self.parts.values())

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(parts) for name, parts in self.parts.items()}


def _sum_by(index: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """Integer sums of weights per index (np.bincount with weights returns floats)."""
    return np.rint(np.bincount(index, weights, minlength=length)).astype(np.int64)


def _business_time(rng: np.random.Generator, day_start: np.ndarray, n: int | None = None) -> np.ndarray:
    """A time during working hours (08:00-18:00 after the day window opens)."""
    size = n if n is not None else np.shape(day_start)
    return np.asarray(day_start) + rng.integers(8 * 3600, 18 * 3600, size=size)


# --- catalogue, SKU-location rows and their reorder policy ------------------------------


@dataclass
class _Catalogue:
    sku_ids: np.ndarray
    names: list[str]
    category_idx: np.ndarray
    unit_cost: np.ndarray
    active: np.ndarray
    popularity: np.ndarray  # relative demand; 0 for inactive SKUs

    @property
    def size(self) -> int:
        return self.sku_ids.size


def _catalogue(rng: np.random.Generator, n: int) -> _Catalogue:
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
    return _Catalogue(sku_ids, names, category_idx, unit_cost, active, popularity)


@dataclass
class _Rows:
    """The SKU-location rows, warehouse rows first: row i < n is the warehouse row of SKU i."""

    sku: np.ndarray  # index into the catalogue
    loc: np.ndarray  # index into LOCATIONS
    kind: np.ndarray  # the location's kind

    def __post_init__(self) -> None:
        self.is_wh = self.kind == "warehouse"
        self.is_store = self.kind == "store"
        self.retail = ~self.is_wh
        self.channel = np.array([CHANNEL_OF_KIND[k] for k in self.kind])

    @property
    def size(self) -> int:
        return self.sku.size


def _sku_locations(rng: np.random.Generator, n: int) -> _Rows:
    sku_parts, loc_parts = [], []
    for loc_index, (loc_id, _, _) in enumerate(LOCATIONS):
        carried = np.arange(n) if ASSORTMENT[loc_id] >= 1 else np.nonzero(rng.random(n) < ASSORTMENT[loc_id])[0]
        sku_parts.append(carried)
        loc_parts.append(np.full(carried.size, loc_index))
    row_loc = np.concatenate(loc_parts)
    return _Rows(np.concatenate(sku_parts), row_loc, np.array([kind for _, _, kind in LOCATIONS])[row_loc])


@dataclass
class _Policy:
    """Demand and the reorder-point policy of each row."""

    orders_per_day: np.ndarray
    lead_time: np.ndarray  # days
    safety: np.ndarray
    reorder_point: np.ndarray
    order_qty: np.ndarray


def _reorder_policy(rng: np.random.Generator, catalogue: _Catalogue, rows: _Rows) -> _Policy:
    n, is_wh = catalogue.size, rows.is_wh
    # Orders per day at each row; units per order: retail 1-3, wholesale cases of 6.
    orders_per_day = catalogue.popularity[rows.sku] * np.select(
        [rows.is_store, rows.kind == "online"], [0.22, 0.16], 0.035
    )
    mean_units = np.where(is_wh, 6 * 4.0, 1.35)
    daily_units = orders_per_day * mean_units
    # The warehouse also feeds the other locations.
    wh_daily = daily_units[:n] + np.bincount(rows.sku[rows.retail], daily_units[rows.retail], minlength=n)
    row_daily = np.where(is_wh, wh_daily[rows.sku], daily_units)

    lead_time = np.where(is_wh, rng.integers(5, 22, size=rows.size), rng.integers(1, 4, size=rows.size)).astype(float)
    # Demand is Poisson-ish in orders, so its daily standard deviation is about sqrt(mean x units).
    # Wholesale orders come in cases of 6 x 1..7, so their variance per unit is ~30.
    sigma = np.sqrt(row_daily * np.where(is_wh, 30.0, 1.6))
    # The warehouse serves both wholesale and the shops, so it holds a higher service level.
    safety = np.ceil(np.where(is_wh, 2.33, 1.65) * sigma * np.sqrt(lead_time)).astype(np.int64)
    reorder_point = np.ceil(row_daily * lead_time).astype(np.int64) + safety
    order_qty = np.maximum(np.ceil(row_daily * np.where(is_wh, 30, 10)), np.where(is_wh, 12, 3)).astype(np.int64)
    return _Policy(orders_per_day, lead_time, safety, reorder_point, order_qty)


# --- day-by-day simulation ---------------------------------------------------------------


class _Simulation:
    """Stock of every row, day by day: arrivals, demand, cycle counts, transfers, purchase orders."""

    def __init__(
        self, rng: np.random.Generator, day_start: np.ndarray, catalogue: _Catalogue, rows: _Rows, policy: _Policy
    ):
        self.rng, self.day_start, self.days = rng, day_start, day_start.size
        self.catalogue, self.rows, self.policy = catalogue, rows, policy
        self.stock = (policy.reorder_point + 1 + rng.random(rows.size) * policy.order_qty).astype(np.int64)
        self.on_order = np.zeros(rows.size, dtype=np.int64)
        horizon = self.days + 40
        self.replenish_arrivals = np.zeros((horizon, rows.size), dtype=np.int64)
        self.return_arrivals = np.zeros((horizon, rows.size), dtype=np.int64)
        weekday = ((day_start // DAY) + 3) % 7  # Monday 0: 1970-01-01 was a Thursday (3); 5, 6 = Sat, Sun
        self.season_retail = np.where(weekday >= 5, 1.35, 0.93)
        self.season_wholesale = np.where(weekday >= 5, 0.25, 1.25)
        self.movements = _Movements()
        self.orders = _Columns("rows", "times", "units", "filled", "cancel")
        self.purchase_orders = _Columns("rows", "created", "qty", "arrival")
        # Replenishment orders of the stores and online on the warehouse (transfers).
        self.transfers = _Columns("rows", "created", "qty", "arrival")

    def day(self, d: int) -> None:
        # Arrivals first: goods received in the morning are on the shelf for the day.
        arriving = self.replenish_arrivals[d]
        self.stock += arriving + self.return_arrivals[d]
        self.on_order -= arriving
        self._demand(d)
        self._cycle_counts(d)
        self._replenish_retail(d)
        self._order_from_suppliers(d)

    def _demand(self, d: int) -> None:
        """Orders per row, then units per order, filled in order of arrival."""
        rng, rows, stock = self.rng, self.rows, self.stock
        rate = self.policy.orders_per_day * np.where(rows.is_wh, self.season_wholesale[d], self.season_retail[d])
        count = rng.poisson(rate)
        has = np.nonzero(count)[0]
        if not has.size:
            return
        idx = np.repeat(has, count[has])
        is_wh, is_store = rows.is_wh[idx], rows.is_store[idx]
        units = np.where(is_wh, 6 * rng.integers(1, 8, size=idx.size), 1 + rng.poisson(0.35, size=idx.size))
        cancel = (~is_store) & (rng.random(idx.size) < 0.01)
        wanted = np.where(cancel, 0, units)
        ends = np.cumsum(wanted)
        group_first = np.searchsorted(idx, idx, side="left")
        before = ends - wanted - np.where(group_first > 0, ends[group_first - 1], 0)
        filled = np.clip(stock[idx] - before, 0, wanted)
        # Wholesale buyers see availability on the portal and order what is there (in cases).
        adjust = is_wh & (filled < wanted) & (filled >= 6)
        units = np.where(adjust, filled // 6 * 6, units)
        filled = np.where(adjust, units, filled)
        # At a till nobody buys what is not on the shelf: no stock, no POS order. Most
        # wholesale buyers skip what the portal shows as out of stock (less than a case);
        # a few backorder it.
        skipped = is_wh & (filled < 6) & ~cancel & (rng.random(idx.size) < 0.85)
        keep = (~is_store | (filled > 0)) & ~skipped
        units = np.where(is_store, filled, units)
        idx, units, filled, cancel = idx[keep], units[keep], filled[keep], cancel[keep]
        times = self.day_start[d] + rng.integers(0, DAY, size=idx.size)
        stock -= _sum_by(idx, filled, rows.size)
        self.orders.add(rows=idx, times=times, units=units, filled=filled, cancel=cancel)
        self._returns(d, idx, filled)

    def _returns(self, d: int, idx: np.ndarray, filled: np.ndarray) -> None:
        """Some retail sales come back within two weeks."""
        rng = self.rng
        back = np.nonzero(self.rows.retail[idx] & (filled > 0) & (rng.random(idx.size) < 0.03))[0]
        back_day = d + rng.integers(1, 15, size=back.size)
        np.add.at(self.return_arrivals, (back_day, idx[back]), filled[back])
        in_range = back_day < self.days
        when = _business_time(rng, self.day_start[back_day[in_range]])
        self.movements.add(idx[back][in_range], when, filled[back][in_range], "return")

    def _cycle_counts(self, d: int) -> None:
        """Shrinkage more often than surplus."""
        rng, stock = self.rng, self.stock
        counted = np.nonzero(rng.random(self.rows.size) < 0.002)[0]
        if not counted.size:
            return
        delta = rng.choice(np.array([-3, -2, -1, -1, -1, 1, 2]), size=counted.size)
        delta = np.maximum(delta, -stock[counted])
        nonzero = delta != 0
        stock[counted[nonzero]] += delta[nonzero]
        when = _business_time(rng, self.day_start[d], int(nonzero.sum()))
        self.movements.add(counted[nonzero], when, delta[nonzero], "adjustment")

    def _replenish_retail(self, d: int) -> None:
        """Transfers to the stores and online from the warehouse, as far as it has stock."""
        rng, rows, policy, stock = self.rng, self.rows, self.policy, self.stock
        n = self.catalogue.size
        position = stock + self.on_order
        need = np.nonzero(rows.retail & (position <= policy.reorder_point) & (self.catalogue.popularity[rows.sku] > 0))[
            0
        ]
        if not need.size:
            return
        qty = policy.order_qty[need] + policy.reorder_point[need] - position[need]
        requested = _sum_by(rows.sku[need], qty, n)
        ratio = np.divide(stock[:n], requested, out=np.ones(n), where=requested > 0).clip(0, 1)
        shipped = np.floor(qty * ratio[rows.sku[need]]).astype(np.int64)
        ok = shipped > 0
        need, shipped = need[ok], shipped[ok]
        ship_time = _business_time(rng, self.day_start[d], need.size)
        stock[:n] -= _sum_by(rows.sku[need], shipped, n)
        self.on_order[need] += shipped
        arrive = d + policy.lead_time[need].astype(np.int64)
        np.add.at(self.replenish_arrivals, (arrive, need), shipped)
        # The warehouse row of SKU i is row i.
        self.movements.add(rows.sku[need], ship_time, -shipped, "transfer_out")
        self.transfers.add(rows=need, created=ship_time, qty=shipped, arrival=arrive)
        in_range = arrive < self.days
        when = _business_time(rng, self.day_start[arrive[in_range]])
        self.movements.add(need[in_range], when, shipped[in_range], "transfer_in")

    def _order_from_suppliers(self, d: int) -> None:
        """Purchase orders for the warehouse."""
        rng, policy = self.rng, self.policy
        position = self.stock + self.on_order
        need = np.nonzero(self.rows.is_wh & (position <= policy.reorder_point) & self.catalogue.active[self.rows.sku])[
            0
        ]
        if not need.size:
            return
        qty = policy.order_qty[need] + policy.reorder_point[need] - position[need]
        arrive = d + policy.lead_time[need].astype(np.int64) + rng.integers(-1, 3, size=need.size)
        self.on_order[need] += qty
        np.add.at(self.replenish_arrivals, (arrive, need), qty)
        created = _business_time(rng, self.day_start[d], need.size)
        self.purchase_orders.add(rows=need, created=created, qty=qty, arrival=arrive)
        in_range = arrive < self.days
        when = _business_time(rng, self.day_start[arrive[in_range]])
        self.movements.add(need[in_range], when, qty[in_range], "receipt")


# --- after the simulation: order statuses, sales, top-ups, the movement log --------------


@dataclass
class _Orders:
    row: np.ndarray
    created: np.ndarray
    units: np.ndarray
    filled: np.ndarray  # units that left the shelf (or are reserved, for open orders)
    channel: np.ndarray
    is_pos: np.ndarray
    status: np.ndarray
    fulfilled_at: np.ndarray
    line_fulfilled: np.ndarray


BACKORDER_SETTLED_SECONDS = 36 * 3600


def _settle_orders(rng: np.random.Generator, sim: _Simulation, now: int) -> _Orders:
    o = sim.orders.arrays()
    created, units, filled, cancel = o["times"], o["units"], o["filled"], o["cancel"]
    channel = sim.rows.channel[o["rows"]]
    is_pos = channel == "pos"
    # POS sales are handed over at once; online and wholesale ship after picking and packing.
    ship_delay = np.where(is_pos, 0, rng.exponential(np.where(channel == "online", 600, 900)).astype(np.int64) + 60)
    # By the demo's start the warehouse has shipped what it was picking (an order still open
    # in the seed would never ship: nobody in the demo picks it, and it would hold the
    # fulfilment ratio of the trailing day down). Its only open work is the carrier backlog.
    fulfilled_at = np.minimum(created + ship_delay, np.maximum(created, now - 1))
    complete = (filled == units) & ~cancel
    shipped_yet = fulfilled_at <= now
    status = np.where(
        cancel, "cancelled", np.where(~complete, "backordered", np.where(shipped_yet, "fulfilled", "open"))
    )
    # Backorders older than a day and a half were settled (a healthy shop does not keep a
    # customer waiting two days, the InventoryBackordersAging limit): about half shipped
    # complete when goods arrived, 2-6 days after the order (no second movement is modelled;
    # online promises 3 days, so many of those were late), a fifth shipped what was there
    # and closed the rest (a partial shipment: on time, not in full), the rest cancelled by
    # the customer. The younger ones are still open, waiting for stock.
    settled = (status == "backordered") & (created < now - BACKORDER_SETTLED_SECONDS)
    draw = rng.random(status.size)
    shipped_later = settled & (draw < 0.45)
    shipped_short = settled & (draw >= 0.45) & (draw < 0.65) & (filled > 0)
    status = np.where(shipped_later | shipped_short, "fulfilled", np.where(settled, "cancelled", status))
    # (Those settled within the last days shipped by now at the latest.)
    later = np.minimum(created + rng.integers(2 * DAY, 6 * DAY, size=status.size), now - 60)
    fulfilled_at = np.where(shipped_later, later, fulfilled_at)
    line_fulfilled = np.where(status == "open", 0, np.where(shipped_later, units, filled))
    return _Orders(o["rows"], created, units, filled, channel, is_pos, status, fulfilled_at, line_fulfilled)


# The carrier backlog: online orders of three days ago still in the warehouse, their promises
# falling due over the demo's first BACKLOG_DUE_SECONDS from BACKLOG_FIRST_DUE_SECONDS on.
# The simulator picks them at half the pace they fall due (demo/simulator.py): a few in time,
# the rest turn late, and online OTIF drops under its target (docs/demo.md).
BACKLOG_SHARE = 0.75  # of the last day's online orders
BACKLOG_FIRST_DUE_SECONDS = 300
BACKLOG_DUE_SECONDS = 1200
BACKLOG_PREFIX = "BKL-"
ONLINE_PROMISE_SECONDS = 3 * DAY


def _backlog(rng: np.random.Generator, sim: _Simulation, orders: _Orders, reserved: np.ndarray, now: int) -> list:
    """Open online orders placed three days ago (one unit of a SKU still above its reorder point once reserved
    here), promised from now + BACKLOG_FIRST_DUE_SECONDS; rows for _insert_online_orders."""
    online = orders.channel == "online"
    per_day = int(np.count_nonzero(online & (orders.created > now - DAY)))
    count = max(10, int(per_day * BACKLOG_SHARE))
    rows = sim.rows
    # Only SKUs the reservation leaves above their reorder point: the seed's last review
    # ordered everything at or below it, and a row pushed there afterwards would sit under
    # its safety stock with nothing on order (InventoryBelowSafetyStock) from the start.
    candidates = np.nonzero((rows.channel == "online") & (sim.stock - reserved - 1 > sim.policy.reorder_point))[0]
    if candidates.size == 0:
        return []
    picked = rng.choice(candidates, size=min(count, candidates.size), replace=False)
    due = now + BACKLOG_FIRST_DUE_SECONDS + np.sort(rng.integers(0, BACKLOG_DUE_SECONDS, size=picked.size))
    np.add.at(reserved, picked, 1)
    return [
        (f"{BACKLOG_PREFIX}{i:06d}", int(row), int(promised - ONLINE_PROMISE_SECONDS), int(promised))
        for i, (row, promised) in enumerate(zip(picked, due), start=1)
    ]


def _insert_online_orders(db: _Tables, sim: _Simulation, orders: list, status: str) -> None:
    """Online orders of one unit, (order id, row, created, promised) each, none shipped yet:
    the backlog (open) and the waiting backorders."""
    if not orders:
        return
    db.insert(
        "orders",
        "id,channel,location_id,status,created_at,promised_at,fulfilled_at",
        [
            (order_id, "online", location, status, iso_one(created), iso_one(promised), None)
            for order_id, location, created, promised in (
                (order_id, str(_LOCATION_IDS[sim.rows.loc[row]]), created, promised)
                for order_id, row, created, promised in orders
            )
        ],
    )
    db.insert(
        "order_lines",
        "order_id,sku,quantity,fulfilled_quantity",
        [(order_id, str(sim.catalogue.sku_ids[sim.rows.sku[row]]), 1, 0) for order_id, row, _, _ in orders],
    )


# Backorders a healthy shop has at any time: a couple of online orders of a day and a bit
# ago whose unit was short then and waits to be picked from the stock that has come in
# since (the demo API never ships a backorder, so they age through a long demo). Older
# than the fulfilment ratio's trailing day, younger than BACKORDER_SETTLED_SECONDS,
# promised days ahead: no figure is out of target at start, and the dashboards' backorder
# panels have data however small the catalogue. Nothing moved: the rest of the seed's data
# is what it would be without them.
WAITING_BACKORDERS = 2
WAITING_PREFIX = "BKO-"


def _waiting_backorders(rng: np.random.Generator, sim: _Simulation, reserved: np.ndarray, now: int) -> list:
    """WAITING_BACKORDERS online orders of one unit, none shipped; rows for _insert_online_orders."""
    rows = sim.rows
    # Rows that stay above their reorder point once the unit owed is taken.
    candidates = np.nonzero((rows.channel == "online") & (sim.stock - reserved - 1 > sim.policy.reorder_point))[0]
    if candidates.size == 0:
        return []
    picked = rng.choice(candidates, size=min(WAITING_BACKORDERS, candidates.size), replace=False)
    created = now - rng.integers(25 * 3600, 30 * 3600, size=picked.size)
    return [
        (f"{WAITING_PREFIX}{i:06d}", int(row), int(t), int(t) + ONLINE_PROMISE_SECONDS)
        for i, (row, t) in enumerate(zip(picked, created), start=1)
    ]


def _book_sales(sim: _Simulation, orders: _Orders) -> np.ndarray:
    """Sale movements of the orders that left; returns the units open orders reserve per row."""
    # Open orders have their units reserved, not yet moved out.
    open_orders = orders.status == "open"
    reserved = _sum_by(orders.row[open_orders], orders.filled[open_orders], sim.rows.size)
    sim.stock += reserved
    sale = (orders.filled > 0) & ~open_orders
    sale_time = np.where(orders.is_pos, orders.created, orders.fulfilled_at)
    sim.movements.add(orders.row[sale], sale_time[sale], -orders.filled[sale], "sale")
    return reserved


def _wait_for_the_warehouse(sim: _Simulation, now: int) -> None:
    """The stores' and online's requests that the warehouse, short itself, could not fill
    at the last review are open at the warehouse: replenishment orders sent two hours ago,
    due a lead time from now. A shelf at its reorder point is then waiting for goods, as
    in a healthy shop, not "nothing on order" (InventoryBelowSafetyStock) from the start."""
    rows, policy = sim.rows, sim.policy
    position = sim.stock + sim.on_order
    need = np.nonzero(rows.retail & (position <= policy.reorder_point) & (sim.catalogue.popularity[rows.sku] > 0))[0]
    if not need.size:
        return
    qty = policy.order_qty[need] + policy.reorder_point[need] - position[need]
    sim.on_order[need] += qty
    arrival = sim.days + policy.lead_time[need].astype(np.int64)
    sim.transfers.add(rows=need, created=np.full(need.size, now - 7200), qty=qty, arrival=arrival)


def _top_up(sim: _Simulation, reserved: np.ndarray, now: int) -> None:
    """Nothing is out of stock at start (so the demo's first stock-out is the simulator's):
    anything at zero got an expedited receipt this morning."""
    stock = sim.stock
    empty = np.nonzero(stock - reserved <= 0)[0]
    if empty.size:
        top_up = sim.policy.order_qty[empty] + reserved[empty] - stock[empty]
        stock[empty] += top_up
        sim.movements.add(empty, np.full(empty.size, now - 3600), top_up, "receipt")


@dataclass
class _MovementLog:
    """Every movement in time order with its id, source and audit row."""

    ids: np.ndarray
    sku: np.ndarray
    loc: np.ndarray
    qty: np.ndarray
    kind: np.ndarray  # names
    source: np.ndarray
    occurred_at: np.ndarray  # ISO text
    actor: np.ndarray
    audited: np.ndarray  # False for the audit gap
    audit_time: np.ndarray  # ISO text


def _movement_log(rng: np.random.Generator, sim: _Simulation, now: int) -> _MovementLog:
    rows = sim.rows
    m_row, m_time, m_qty, m_kind = sim.movements.arrays()
    order = np.argsort(m_time, kind="stable")
    m_row, m_time, m_qty, m_kind = m_row[order], m_time[order], m_qty[order], m_kind[order]
    m_count = m_row.size
    sale_source = np.array([SALE_SOURCE[c] for c in rows.channel])[m_row]
    source = np.where(
        np.isin(m_kind, [_K["sale"], _K["return"]]), sale_source, np.where(m_kind == _K["adjustment"], "manual", "wms")
    )
    m_loc = _LOCATION_IDS[rows.loc[m_row]]
    actor = _actors(rng, source, m_loc)
    # The audit gap: a handful of recent movements whose audit rows were lost.
    recent = np.nonzero(m_time > now - 3 * DAY)[0]
    missing = rng.choice(recent, size=min(6, recent.size), replace=False) if recent.size else np.array([], int)
    audited = np.ones(m_count, dtype=bool)
    audited[missing] = False
    audit_time = iso(m_time + rng.integers(0, 5, size=m_count))
    return _MovementLog(
        ids=np.arange(1, m_count + 1),
        sku=sim.catalogue.sku_ids[rows.sku[m_row]],
        loc=m_loc,
        qty=m_qty,
        kind=np.array(MOVEMENT_KINDS)[m_kind],
        source=source,
        occurred_at=iso(m_time),
        actor=actor,
        audited=audited,
        audit_time=audit_time,
    )


def _actors(rng: np.random.Generator, source: np.ndarray, loc: np.ndarray) -> np.ndarray:
    """Who recorded each movement: a till of the store, a webhook, staff or the WMS sync."""
    store_actor = np.array(_STORE_ACTORS)[rng.integers(0, len(_STORE_ACTORS), size=source.size)]
    staff = np.array(_STAFF)[rng.integers(0, 5, size=source.size)]
    return np.where(
        source == "pos",
        np.char.add(np.char.add(loc, ":"), store_actor),
        np.where(source == "shopify", "shopify-webhook", np.where(source == "manual", staff, "wms-sync")),
    )


# --- write -------------------------------------------------------------------------------


class _Tables:
    """Inserts into the database being written, counting rows per table."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.counts: dict[str, int] = {}

    def insert(self, table: str, columns: str, data) -> None:
        data = list(data)
        marks = ",".join("?" * len(columns.split(",")))
        self.conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", data)
        self.counts[table] = self.counts.get(table, 0) + len(data)


@contextmanager
def _fresh_database(db_path: Path) -> Iterator[_Tables]:
    """A new database in the schema, written beside db_path and moved over it when complete."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = db_path.with_name(db_path.name + ".tmp")
    for stale in (tmp_path, Path(f"{tmp_path}-journal")):
        stale.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp_path)
    try:
        conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        conn.executescript(SCHEMA_PATH.read_text())
        yield _Tables(conn)
        conn.commit()
    finally:
        conn.close()
    # WAL lets the API write while the exporter and the fakes read; set on the final file.
    conn = sqlite3.connect(tmp_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    os.replace(tmp_path, db_path)


def _insert_products(db: _Tables, catalogue: _Catalogue) -> None:
    db.insert(
        "products",
        "sku,name,category,unit_cost,currency,active",
        zip(
            catalogue.sku_ids.tolist(),
            catalogue.names,
            np.array(CATEGORIES)[catalogue.category_idx].tolist(),
            catalogue.unit_cost.tolist(),
            ["USD"] * catalogue.size,
            catalogue.active.astype(int).tolist(),
        ),
    )


def _insert_stock_levels(
    db: _Tables, rng: np.random.Generator, sim: _Simulation, reserved: np.ndarray, now: int
) -> None:
    rows, policy = sim.rows, sim.policy
    # Reorder settings: most rows have them; some were never set up (NULL), as in real data.
    unset = rng.random(rows.size) < 0.08
    updated = iso(now - rng.integers(60, 6 * 3600, size=rows.size))
    db.insert(
        "stock_levels",
        "sku,location_id,on_hand,reserved,reorder_point,safety_stock,lead_time_days,updated_at",
        zip(
            sim.catalogue.sku_ids[rows.sku].tolist(),
            _LOCATION_IDS[rows.loc].tolist(),
            sim.stock.tolist(),
            reserved.tolist(),
            [None if u else int(v) for u, v in zip(unset, policy.reorder_point)],
            [None if u else int(v) for u, v in zip(unset, policy.safety)],
            [None if u else float(v) for u, v in zip(unset, policy.lead_time)],
            updated.tolist(),
        ),
    )


def _insert_orders(db: _Tables, sim: _Simulation, orders: _Orders) -> None:
    """The orders and their (single) lines, numbered in order of creation."""
    o_sort = np.argsort(orders.created, kind="stable")
    o_ids = np.array([f"ORD-{i:07d}" for i in range(1, orders.row.size + 1)])
    is_pos = orders.is_pos
    promised = orders.created + np.where(is_pos, 0, np.where(orders.channel == "online", 3 * DAY, 7 * DAY))
    fulfilled_at = np.where(orders.status == "fulfilled", orders.fulfilled_at, -1)[o_sort]
    o_promised_iso = iso(promised[o_sort])
    o_fulfilled_iso = iso(np.maximum(fulfilled_at, 0))
    sorted_rows = orders.row[o_sort]
    db.insert(
        "orders",
        "id,channel,location_id,status,created_at,promised_at,fulfilled_at",
        zip(
            o_ids.tolist(),
            orders.channel[o_sort].tolist(),
            _LOCATION_IDS[sim.rows.loc[sorted_rows]].tolist(),
            orders.status[o_sort].tolist(),
            iso(orders.created[o_sort]).tolist(),
            [None if p else t for p, t in zip(is_pos[o_sort], o_promised_iso.tolist())],
            [t if f >= 0 else None for f, t in zip(fulfilled_at, o_fulfilled_iso.tolist())],
        ),
    )
    db.insert(
        "order_lines",
        "order_id,sku,quantity,fulfilled_quantity",
        zip(
            o_ids.tolist(),
            sim.catalogue.sku_ids[sim.rows.sku[sorted_rows]].tolist(),
            orders.units[o_sort].tolist(),
            orders.line_fulfilled[o_sort].tolist(),
        ),
    )


def _insert_movements(db: _Tables, log: _MovementLog, now: int) -> None:
    """The movements with their audit rows, and two of a SKU deleted since."""
    columns = "id,sku,location_id,quantity,kind,source,occurred_at"
    fields = (log.ids, log.sku, log.loc, log.qty, log.kind, log.source, log.occurred_at)
    db.insert("stock_movements", columns, zip(*(f.tolist() for f in fields)))
    # Movements of a discontinued SKU that was deleted from products: dirty, but old news.
    legacy_id = log.ids.size + 1
    legacy = [
        (legacy_id + i, "SKU-LEGACY-0042", "store-north", -1, "sale", "pos", iso_one(now - (40 + i) * DAY))
        for i in range(2)
    ]
    db.insert("stock_movements", columns, legacy)
    audited = log.audited
    db.insert(
        "audit_log",
        "movement_id,actor,action,recorded_at",
        zip(
            log.ids[audited].tolist(),
            log.actor[audited].tolist(),
            np.char.add("movement.", log.kind[audited]).tolist(),
            log.audit_time[audited].tolist(),
        ),
    )
    db.insert(
        "audit_log",
        "movement_id,actor,action,recorded_at",
        [(mid, "pos-migration", "movement.sale", t) for mid, _, _, _, _, _, t in legacy],
    )


def _purchase_orders(sim: _Simulation):
    """The warehouse's purchase orders from its suppliers, and the stores' and online's
    replenishment orders on the warehouse that are still in transit (status sent, at the
    receiving location): the goods on order that the exporter's analytics counts, so a
    shelf waiting for its delivery is not "nothing on order". Delivered transfers are in
    the movements (transfer_out, transfer_in), not here."""
    columns: dict[str, list[np.ndarray]] = {"rows": [], "created": [], "qty": [], "arrival": [], "sent": []}
    for source, all_of_them in ((sim.purchase_orders, True), (sim.transfers, False)):
        if source.empty():
            continue
        cols = source.arrays()
        keep = np.ones(cols["rows"].size, dtype=bool) if all_of_them else cols["arrival"] >= sim.days
        for name in ("rows", "created", "qty", "arrival"):
            columns[name].append(cols[name][keep])
        columns["sent"].append(cols["arrival"][keep] >= sim.days)
    if not columns["rows"]:
        return []
    rows, created, qty, arrival, sent = (np.concatenate(columns[name]) for name in columns)
    expected = sim.day_start[0] + arrival * DAY + 10 * 3600
    order = np.argsort(created, kind="stable")
    status = np.where(sent, "sent", "received")
    return list(
        zip(
            [f"PO-{i:06d}" for i in range(1, rows.size + 1)],
            sim.catalogue.sku_ids[sim.rows.sku[rows[order]]].tolist(),
            _LOCATION_IDS[sim.rows.loc[rows[order]]].tolist(),
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
        # The newest run started 5 to 10 minutes ago and finished, whatever the schedule: a
        # healthy shop's syncs are fresh at start, none near the 15-minute staleness alert
        # (InventoryIntegrationSyncStale), even after the demo's start-up.
        newest = now - int(rng.integers(300, 600))
        starts = newest - np.arange(days * DAY // period - 1, -1, -1) * period
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
