"""The ERPNext preset (exporter/presets/erpnext.yml) on a real MariaDB server.

The tables are built from ERPNext v15's own DocType definitions (tests/exporter/presets/erpnext/,
see SOURCE.md there) exactly as Frappe builds them, filled with a small realistic
dataset, and every metric the preset maps is compared with what this file computes in
Python from the rows it inserted, following the rules docs/presets/erpnext.md states.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

from exporter.business_catalogue import METRICS
from exporter.config import load_config
from exporter.presets import load_preset
from servicekit.config import ConfigError
from tests.conftest import ROOT
from tests.exporter.presets import MAPPED, NOW, SERVICE_LEVEL_MAPPED, collect_with_schema, hours_ago
from tests.exporter.presets.erpnext import schema
from tests.exporter.test_business import of

pytestmark = [pytest.mark.mariadb, pytest.mark.timeout(180)]

STORES, GOODS, US = "Stores - AEU", "Finished Goods - AEU", "Stores - AUS"
STATUSES = ("open", "fulfilled", "cancelled", "backordered")
# The dataset below has no delivery date on any order, so its service-level counters
# (SERVICE_LEVEL_MAPPED) are 0 for every channel and its ratios absent;
# test_service_level_exactly checks every figure on orders that have one.


# ---------------------------------------------------------------- the dataset


def bin_(item, warehouse, actual, reserved=0, rate=0):
    value = Decimal(str(actual)) * Decimal(str(rate)) if actual > 0 else Decimal(0)
    return {
        "name": f"BIN-{item}-{warehouse}",
        "item_code": item,
        "warehouse": warehouse,
        "actual_qty": actual,
        "reserved_qty": reserved,
        "projected_qty": actual - reserved,
        "valuation_rate": rate,
        "stock_value": value,
        "stock_uom": "Nos",
        "docstatus": 0,
    }


def reorder(n, item, warehouse, level, qty=10):
    return {
        "name": f"IR-{n}",
        "parent": item,
        "parenttype": "Item",
        "parentfield": "reorder_levels",
        "idx": 1,
        "warehouse": warehouse,
        "warehouse_reorder_level": level,
        "warehouse_reorder_qty": qty,
        "material_request_type": "Purchase",
    }


def order(name, order_type, docstatus, status, per_delivered, created, skip_delivery_note=0):
    return {
        "name": name,
        "order_type": order_type,
        "docstatus": docstatus,
        "status": status,
        "per_delivered": per_delivered,
        "skip_delivery_note": skip_delivery_note,
        "creation": created,
        "modified": created,
        "transaction_date": created.date(),
        "company": "Acme EU",
        "customer": "C-1",
        "currency": "EUR",
        "naming_series": "SAL-ORD-.YYYY.-",
        "delivery_status": None,
    }


def so_line(parent, idx, item, warehouse, qty, delivered=0, by_supplier=0, docstatus=1):
    """A Sales Order Item; `warehouse` None leaves the line without one."""
    return {
        "name": f"{parent}-{idx}",
        "parent": parent,
        "parenttype": "Sales Order",
        "parentfield": "items",
        "idx": idx,
        "item_code": item,
        "warehouse": warehouse,
        "qty": qty,
        "delivered_qty": delivered,
        "delivered_by_supplier": by_supplier,
        "docstatus": docstatus,
    }


_sle_count = 0


def sle(voucher_type, voucher_no, detail, item, warehouse, qty, posted, cancelled=0):
    global _sle_count
    _sle_count += 1
    return {
        "name": f"SLE-{_sle_count:04d}",
        "voucher_type": voucher_type,
        "voucher_no": voucher_no,
        "voucher_detail_no": detail,
        "item_code": item,
        "warehouse": warehouse,
        "actual_qty": qty,
        "posting_date": posted.date(),
        "posting_time": posted.time(),
        "posting_datetime": posted,
        "is_cancelled": cancelled,
        "company": "Acme EU",
        "docstatus": 1,
        "creation": posted,
    }


def dataset() -> dict[str, list[dict]]:
    items = [
        {"name": "APPLE", "item_code": "APPLE", "disabled": 0, "is_stock_item": 1, "has_variants": 0},
        {"name": "BREAD", "item_code": "BREAD", "disabled": 0, "is_stock_item": 1, "has_variants": 0},
        {"name": "CHEESE", "item_code": "CHEESE", "disabled": 0, "is_stock_item": 1, "has_variants": 0},
        {"name": "NOVAL", "item_code": "NOVAL", "disabled": 0, "is_stock_item": 1, "has_variants": 0},
        {"name": "RETIRED", "item_code": "RETIRED", "disabled": 1, "is_stock_item": 1, "has_variants": 0},
        {"name": "TSHIRT", "item_code": "TSHIRT", "disabled": 0, "is_stock_item": 1, "has_variants": 1},
        {"name": "TSHIRT-RED", "item_code": "TSHIRT-RED", "disabled": 0, "is_stock_item": 1, "variant_of": "TSHIRT"},
        {"name": "TSHIRT-BLUE", "item_code": "TSHIRT-BLUE", "disabled": 0, "is_stock_item": 1, "variant_of": "TSHIRT"},
    ]
    for item in items:
        item.update(item_name=item["name"].title(), item_group="Products", stock_uom="Nos")
    return {
        "tabCompany": [
            {
                "name": "Acme EU",
                "company_name": "Acme EU",
                "abbr": "AEU",
                "default_currency": "EUR",
                "country": "Germany",
            },
            {
                "name": "Acme US",
                "company_name": "Acme US",
                "abbr": "AUS",
                "default_currency": "USD",
                "country": "United States",
            },
        ],
        "tabWarehouse": [
            {"name": "All Warehouses - AEU", "warehouse_name": "All Warehouses", "company": "Acme EU", "is_group": 1},
            {
                "name": STORES,
                "warehouse_name": "Stores",
                "company": "Acme EU",
                "is_group": 0,
                "parent_warehouse": "All Warehouses - AEU",
            },
            {
                "name": GOODS,
                "warehouse_name": "Finished Goods",
                "company": "Acme EU",
                "is_group": 0,
                "parent_warehouse": "All Warehouses - AEU",
            },
            {"name": US, "warehouse_name": "Stores", "company": "Acme US", "is_group": 0},
        ],
        "tabItem": items,
        "tabItem Reorder": [
            reorder(1, "APPLE", STORES, 40),  # 100 - 70 = 30 available: low
            reorder(2, "BREAD", STORES, 5),  # 12 - 2 = 10: not low
            reorder(3, "BREAD", US, 0, qty=20),  # level 0 is no level: never low
            reorder(4, "RETIRED", STORES, 500),  # disabled item: not counted at all
            reorder(5, "TSHIRT", GOODS, 25),  # template: RED inherits it, BLUE has its own
            reorder(6, "TSHIRT-BLUE", STORES, 3),
            reorder(7, "APPLE", US, 8),  # 8 - 0 = 8 <= 8: low (boundary)
        ],
        "tabBin": [
            bin_("APPLE", STORES, 100, reserved=70, rate=2.5),
            bin_("APPLE", GOODS, 0, rate=2.5),
            bin_("APPLE", US, 8, rate=3),
            bin_("BREAD", STORES, 12, reserved=2, rate=1.25),
            bin_("BREAD", US, 4, reserved=9, rate=1.5),  # over-reserved: out of stock
            bin_("CHEESE", STORES, -3, rate=6),  # negative: skipped from sums
            bin_("NOVAL", GOODS, 7, rate=0),  # no valuation: no value
            bin_("RETIRED", STORES, 50, rate=9),  # disabled item
            bin_("TSHIRT-RED", GOODS, 20, reserved=1, rate=4),  # 19 <= template's 25: low
            bin_("TSHIRT-BLUE", GOODS, 2, rate=4),  # own rows only for Stores: not low
            bin_("TSHIRT-BLUE", STORES, 3, rate=4.2),  # 3 <= 3: low
        ],
        "tabSales Order": [
            order("SO-01", "Sales", 1, "To Deliver and Bill", 0, hours_ago(1)),
            order("SO-02", "Sales", 1, "Completed", 100, hours_ago(2)),
            order("SO-03", "Sales", 1, "To Deliver and Bill", 40, hours_ago(3)),
            order("SO-04", "Sales", 2, "Cancelled", 0, hours_ago(4)),
            order("SO-05", "Sales", 1, "Closed", 50, hours_ago(5)),  # closed before fully delivered
            order("SO-06", "Sales", 1, "To Bill", 100, hours_ago(30)),  # fulfilled, before the window
            order("SO-07", "Sales", 0, "Draft", 0, hours_ago(1)),  # draft: no order yet
            order("SO-08", "Sales", 1, "Closed", 100, hours_ago(6)),  # closed after full delivery
            order("SO-09", "Shopping Cart", 1, "On Hold", 0, hours_ago(7)),
            order("SO-10", "Shopping Cart", 1, "Completed", 100, hours_ago(8)),
            order("SO-11", "Shopping Cart", 1, "To Bill", 0, hours_ago(2), skip_delivery_note=1),
            order("SO-12", "Maintenance", 2, "Cancelled", 0, hours_ago(3)),
            order("SO-13", "", 1, "Completed", 100, hours_ago(4)),  # no order type: Sales, the default
        ],
        # Lines still to deliver: APPLE at Finished Goods (0 available: SO-01 waits on a
        # stock-out), BREAD at Stores (10 available) and TSHIRT-BLUE at Stores (3).
        "tabSales Order Item": [
            so_line("SO-01", 1, "APPLE", GOODS, 2),
            so_line("SO-01", 2, "BREAD", STORES, 1),
            so_line("SO-03", 1, "BREAD", STORES, 5, delivered=2),
            so_line("SO-09", 1, "TSHIRT-BLUE", STORES, 1),
        ],
        "tabStock Ledger Entry": [
            sle("Purchase Receipt", "PR-1", "PRI-1", "APPLE", STORES, 100, datetime(2026, 11, 20, 9, 0)),
            sle("Purchase Receipt", "PR-2", "PRI-2", "BREAD", STORES, -2, datetime(2026, 11, 20, 9, 30)),  # return
            sle("Purchase Invoice", "PI-1", "PII-1", "BREAD", US, 13, datetime(2026, 11, 20, 10, 0)),
            sle("Delivery Note", "DN-1", "DNI-1", "APPLE", STORES, -5, datetime(2026, 11, 21, 8, 15)),
            sle("Delivery Note", "DN-2", "DNI-2", "APPLE", STORES, 1, datetime(2026, 11, 21, 9, 0)),  # return
            sle("Sales Invoice", "SI-1", "SII-1", "BREAD", US, -9, datetime(2026, 11, 21, 10, 0)),
            # A material transfer: one line, out of Stores and into Finished Goods.
            sle("Stock Entry", "STE-1", "SED-1", "TSHIRT-RED", STORES, -20, datetime(2026, 11, 21, 11, 0)),
            sle("Stock Entry", "STE-1", "SED-1", "TSHIRT-RED", GOODS, 20, datetime(2026, 11, 21, 11, 0)),
            sle("Stock Entry", "STE-2", "SED-2", "NOVAL", GOODS, 7, datetime(2026, 11, 21, 12, 0)),  # receipt
            sle("Stock Entry", "STE-3", "SED-3", "CHEESE", STORES, -3, datetime(2026, 11, 21, 12, 30)),  # issue
            # A manufacture: raw material out and product in, on lines of their own.
            sle("Stock Entry", "STE-4", "SED-4a", "BREAD", STORES, -1, datetime(2026, 11, 21, 13, 0)),
            sle("Stock Entry", "STE-4", "SED-4b", "TSHIRT-BLUE", STORES, 3, datetime(2026, 11, 21, 13, 0)),
            sle("Stock Reconciliation", "SR-1", "SRI-1", "APPLE", US, 8, datetime(2026, 11, 22, 7, 0)),
            sle("Stock Reconciliation", "SR-2", "SRI-2", "BREAD", STORES, 0, datetime(2026, 11, 22, 7, 5)),
            sle("Subcontracting Receipt", "SCR-1", "SCRI-1", "TSHIRT-BLUE", GOODS, 2, datetime(2026, 11, 22, 8, 0)),
            sle("Delivery Note", "DN-3", "DNI-3", "BREAD", STORES, -4, datetime(2026, 11, 22, 14, 5, 30, 250000)),
            # DN-4 was cancelled: its entry is flagged and a flagged reversal added. It is the
            # newest posting, yet no movement.
            sle("Delivery Note", "DN-4", "DNI-4", "APPLE", STORES, -2, datetime(2026, 11, 23, 9, 0), cancelled=1),
            sle("Delivery Note", "DN-4", "DNI-4", "APPLE", STORES, 2, datetime(2026, 11, 23, 9, 0), cancelled=1),
            # A cancelled transfer leaves no transfer behind either.
            sle("Stock Entry", "STE-5", "SED-5", "APPLE", STORES, -1, datetime(2026, 11, 20, 6, 0), cancelled=1),
            sle("Stock Entry", "STE-5", "SED-5", "APPLE", GOODS, 1, datetime(2026, 11, 20, 6, 0), cancelled=1),
        ],
    }


# ------------------------------------------------- expectations, computed in Python


def _available(b) -> float:
    return float(b["actual_qty"]) - float(b["reserved_qty"])


def _stock_rows(data):
    items = {i["name"]: i for i in data["tabItem"]}
    return [(b, items[b["item_code"]]) for b in data["tabBin"] if not items[b["item_code"]].get("disabled")]


def _reorder_level(data, item, warehouse):
    """The item's level for the warehouse; a variant without rows of its own uses its template's."""
    rows = [r for r in data["tabItem Reorder"] if r["parenttype"] == "Item"]
    owner = item["name"]
    if not any(r["parent"] == owner for r in rows) and item.get("variant_of"):
        owner = item["variant_of"]
    levels = [float(r["warehouse_reorder_level"]) for r in rows if r["parent"] == owner and r["warehouse"] == warehouse]
    level = max(levels) if levels else 0.0
    return level if level > 0 else None


def _channel(o):
    return o["order_type"] or "Sales"


def _order_status(o):
    if o["docstatus"] == 2:
        return "cancelled"
    if o["per_delivered"] >= 100:
        return "fulfilled"
    if o["status"] == "Closed":
        return "cancelled"
    return "backordered" if o["per_delivered"] > 0 else "open"


def _movement_kind(row, entries):
    qty, voucher = row["actual_qty"], row["voucher_type"]
    if voucher in ("Delivery Note", "Sales Invoice", "POS Invoice"):
        return "sale" if qty < 0 else "return" if qty > 0 else "adjustment"
    if voucher in ("Purchase Receipt", "Purchase Invoice", "Subcontracting Receipt"):
        return "receipt" if qty > 0 else "adjustment"
    if voucher == "Stock Entry":
        paired = any(
            o is not row
            and o["voucher_no"] == row["voucher_no"]
            and o["voucher_detail_no"] == row["voucher_detail_no"]
            and o["actual_qty"] * qty < 0
            for o in entries
        )
        if qty != 0 and paired:
            return "transfer_in" if qty > 0 else "transfer_out"
        if qty > 0:
            return "receipt"
    return "adjustment"


def _stockout_exposed(data) -> dict[tuple, float]:
    """Per channel, the open and backordered orders with a line still to deliver from our
    stock (qty > 0, 0 <= delivered_qty < qty, not drop-shipped, a warehouse set) of an
    enabled stock item whose Bin there has available <= 0, or no Bin there; 0 for every
    channel with an order."""
    items = {i["name"]: i for i in data.get("tabItem", [])}
    available = {(b["item_code"], b["warehouse"]): _available(b) for b in data.get("tabBin", [])}

    def waits_on_a_stockout(line) -> bool:
        item = items.get(line["item_code"])
        qty, delivered = float(line["qty"]), float(line.get("delivered_qty", 0))
        return (
            line["parenttype"] == "Sales Order"
            and qty > 0
            and 0 <= delivered < qty
            and not line.get("delivered_by_supplier")
            and bool(line.get("warehouse"))
            and item is not None
            and bool(item.get("is_stock_item", 1))
            and not item.get("disabled")
            and available.get((line["item_code"], line["warehouse"]), 0.0) <= 0
        )

    out: dict[tuple, float] = {}
    for o in data["tabSales Order"]:
        if o["docstatus"] not in (1, 2) or o["skip_delivery_note"]:
            continue
        key = (_channel(o),)
        out.setdefault(key, 0)
        lines = [line for line in data.get("tabSales Order Item", []) if line["parent"] == o["name"]]
        if _order_status(o) in ("open", "backordered") and any(waits_on_a_stockout(x) for x in lines):
            out[key] += 1
    return out


def expected(data, since: datetime) -> dict[str, dict[tuple, float]]:
    out: dict[str, dict[tuple, float]] = {name: {} for name in MAPPED + SERVICE_LEVEL_MAPPED}
    warehouses = {w["name"]: w for w in data["tabWarehouse"]}
    currency = {c["name"]: c["default_currency"] for c in data["tabCompany"]}

    def add(metric, key, value):
        out[metric][key] = out[metric].get(key, 0) + value

    for b, item in _stock_rows(data):
        where, actual, available = (b["warehouse"],), float(b["actual_qty"]), _available(b)
        add("inventory_skus", where, 1)
        add("inventory_on_hand_units", where, actual if actual >= 0 else 0)
        add("inventory_available_units", where, available if actual >= 0 else 0)
        money = currency[warehouses[b["warehouse"]]["company"]]
        has_value = actual > 0 and float(b["valuation_rate"]) > 0
        add("inventory_stock_value", (money, b["warehouse"]), float(b["stock_value"]) if has_value else 0)
        level = _reorder_level(data, item, b["warehouse"])
        add("inventory_low_stock_skus", where, 1 if level is not None and 0 < available <= level else 0)
        add("inventory_out_of_stock_skus", where, 1 if available <= 0 else 0)

    orders = [o for o in data["tabSales Order"] if o["docstatus"] in (1, 2) and not o["skip_delivery_note"]]
    for channel in {_channel(o) for o in orders}:
        for status in STATUSES:
            out["inventory_orders"][(channel, status)] = 0
    for o in orders:
        add("inventory_orders", (_channel(o), _order_status(o)), 1)
    window: dict[str, list[int]] = {}
    for o in orders:
        if o["docstatus"] == 1 and _order_status(o) != "cancelled" and o["creation"] >= since:
            window.setdefault(_channel(o), []).append(1 if _order_status(o) == "fulfilled" else 0)
    for channel, fulfilled in window.items():
        out["inventory_order_fulfillment_ratio"][(channel,)] = sum(fulfilled) / len(fulfilled)
    for o in orders:
        add("inventory_backorders", (_channel(o),), 1 if _order_status(o) == "backordered" else 0)
        if _order_status(o) == "backordered":
            age = (NOW - o["creation"]).total_seconds()
            key = (_channel(o),)
            out["inventory_backorder_oldest_age_seconds"][key] = max(
                age, out["inventory_backorder_oldest_age_seconds"].get(key, age)
            )

    for o in orders:
        add("inventory_orders_created_total", (_channel(o),), 1)
        add("inventory_orders_fulfilled_total", (_channel(o),), 1 if _order_status(o) == "fulfilled" else 0)
        assert o.get("delivery_date") is None  # no promise: in no service-level figure
        for counter in ("due", "on_time", "in_full", "otif"):
            add(f"inventory_orders_{counter}_total", (_channel(o),), 0)

    out["inventory_orders_stockout_exposed"] = _stockout_exposed(data)

    standing = [e for e in data["tabStock Ledger Entry"] if not e["is_cancelled"]]
    for e in standing:
        add("inventory_stock_movements_total", (_movement_kind(e, standing), e["voucher_type"]), 1)
    newest = max(e["posting_datetime"] for e in standing)
    out["inventory_last_stock_movement_timestamp_seconds"][()] = newest.replace(tzinfo=UTC).timestamp()
    return out


# ------------------------------------------------------------------ the database


@pytest.fixture
def erpnext_url(empty_mariadb_url):
    """An empty MariaDB database with ERPNext's tables, as Frappe creates them."""
    engine = create_engine(empty_mariadb_url.replace("mysql://", "mysql+pymysql://", 1))
    with engine.begin() as conn:
        tables = schema.create_schema(lambda sql: conn.exec_driver_sql(sql))
    engine.dispose()
    return empty_mariadb_url, tables


def load(url: str, data: dict[str, list[dict]]) -> None:
    engine = create_engine(url.replace("mysql://", "mysql+pymysql://", 1))
    with engine.begin() as conn:
        for table, rows in data.items():
            for row in rows:  # rows differ in their columns
                columns = list(row)
                conn.execute(
                    text(
                        f"INSERT INTO `{table}` ({', '.join(f'`{c}`' for c in columns)}) "
                        f"VALUES ({', '.join(':' + c for c in columns)})"
                    ),
                    row,
                )
    engine.dispose()


async def collect_preset(url: str, tmp_path, fulfillment_window: str = "24h") -> dict[tuple, float]:
    return await collect_with_schema(
        url, "erpnext", tmp_path, f"business:\n  fulfillment_window: {fulfillment_window}\n"
    )


# ----------------------------------------------------------------------- tests


def test_dataset_figures_are_the_ones_worked_out_by_hand():
    # The Python reading of the rows, checked once against figures worked out by hand from
    # the dataset's comments, so that the tests below compare two independent derivations.
    want = expected(dataset(), since=NOW - timedelta(hours=24))
    stores, goods = (STORES,), (GOODS,)
    # Stores: APPLE, BREAD, CHEESE, TSHIRT-BLUE (RETIRED is disabled); Goods: APPLE, NOVAL, RED, BLUE.
    assert want["inventory_skus"] == {stores: 4, goods: 4, (US,): 2}
    # Stores: 100 + 12 + 3, CHEESE's -3 left out; available 30 + 10 + 3. US: 8 + 4; 8 + (4 - 9).
    assert want["inventory_on_hand_units"] == {stores: 115, goods: 0 + 7 + 20 + 2, (US,): 12}
    assert want["inventory_available_units"] == {stores: 43, goods: 0 + 7 + 19 + 2, (US,): 3}
    # 100 x 2.5 + 12 x 1.25 + 3 x 4.2; NOVAL has no valuation: 20 x 4 + 2 x 4; 8 x 3 + 4 x 1.5.
    assert want["inventory_stock_value"] == {
        ("EUR", STORES): pytest.approx(277.6),
        ("EUR", GOODS): 88.0,
        ("USD", US): 30.0,
    }
    # Stores: APPLE (30 <= 40), BLUE (3 <= 3); Goods: RED (19 <= the template's 25); US: APPLE (8 <= 8).
    assert want["inventory_low_stock_skus"] == {stores: 2, goods: 1, (US,): 1}
    assert want["inventory_out_of_stock_skus"] == {stores: 1, goods: 1, (US,): 1}  # CHEESE, APPLE 0, BREAD
    # Sales: SO-01 open; SO-02, 06, 08, 13 fulfilled; SO-03 backordered; SO-04 and the closed SO-05 cancelled.
    assert {s: n for (c, s), n in want["inventory_orders"].items() if c == "Sales"} == {
        "open": 1,
        "fulfilled": 4,
        "backordered": 1,
        "cancelled": 2,
    }
    # In 24h, SO-05 (closed) left out and SO-06 too old: SO-02, 08, 13 of SO-01, 02, 03, 08, 13.
    assert want["inventory_order_fulfillment_ratio"] == {("Sales",): 3 / 5, ("Shopping Cart",): 1 / 2}
    # Backorders: SO-03 (40 % delivered, 3 hours old); none on the other channels, 0 there.
    assert want["inventory_backorders"] == {("Sales",): 1, ("Shopping Cart",): 0, ("Maintenance",): 0}
    assert want["inventory_backorder_oldest_age_seconds"] == {("Sales",): 3 * 3600}
    # SO-01 (open) waits on APPLE, 0 available at Finished Goods; SO-03's BREAD (10 at
    # Stores) and SO-09's TSHIRT-BLUE (3 at Stores) are in stock; Maintenance has only SO-12.
    assert want["inventory_orders_stockout_exposed"] == {("Sales",): 1, ("Shopping Cart",): 0, ("Maintenance",): 0}
    assert want["inventory_stock_movements_total"] == {
        ("receipt", "Purchase Receipt"): 1,
        ("adjustment", "Purchase Receipt"): 1,
        ("receipt", "Purchase Invoice"): 1,
        ("sale", "Delivery Note"): 2,
        ("return", "Delivery Note"): 1,
        ("sale", "Sales Invoice"): 1,
        ("transfer_out", "Stock Entry"): 1,
        ("transfer_in", "Stock Entry"): 1,
        ("receipt", "Stock Entry"): 2,
        ("adjustment", "Stock Entry"): 2,
        ("adjustment", "Stock Reconciliation"): 2,
        ("receipt", "Subcontracting Receipt"): 1,
    }
    # DN-3, not the later cancelled DN-4.
    assert want["inventory_last_stock_movement_timestamp_seconds"] == {
        (): datetime(2026, 11, 22, 14, 5, 30, 250000, tzinfo=UTC).timestamp()
    }


def test_tables_are_frappes_from_the_doctype_json(erpnext_url):
    url, tables = erpnext_url
    engine = create_engine(url.replace("mysql://", "mysql+pymysql://", 1))
    try:
        with engine.connect() as conn:
            for table, columns in tables.items():
                found = [row[0] for row in conn.exec_driver_sql(f"SHOW COLUMNS FROM `{table}`")]
                assert found == columns, table
            bin_columns = {row[0]: row[1] for row in conn.exec_driver_sql("SHOW COLUMNS FROM `tabBin`")}
            item_reorder = [row[0] for row in conn.exec_driver_sql("SHOW COLUMNS FROM `tabItem Reorder`")]
    finally:
        engine.dispose()
    assert set(tables) == {
        "tabBin",
        "tabCompany",
        "tabDelivery Note",
        "tabDelivery Note Item",
        "tabItem",
        "tabItem Reorder",
        "tabSales Order",
        "tabSales Order Item",
        "tabStock Ledger Entry",
        "tabWarehouse",
    }
    # Float -> decimal(21,9); Link -> varchar(140); layout fields and tables have no column.
    assert bin_columns["actual_qty"] == "decimal(21,9)" and bin_columns["warehouse"] == "varchar(140)"
    assert "reorder_levels" not in tables["tabItem"] and "details" not in tables["tabItem"]
    assert item_reorder[-3:] == ["parent", "parentfield", "parenttype"]  # a child table
    assert "_user_tags" in tables["tabBin"] and "_user_tags" not in tables["tabItem Reorder"]


async def test_every_mapped_metric_exactly(erpnext_url, tmp_path):
    url, _ = erpnext_url
    data = dataset()
    load(url, data)
    values = await collect_preset(url, tmp_path)
    # An age runs on: the exporter's clock is later than the dataset's NOW (set when the
    # test modules were imported, minutes before this test runs in a full suite).
    elapsed = (datetime.now(UTC).replace(tzinfo=None) - NOW).total_seconds() + 2
    want = expected(data, since=NOW - timedelta(hours=24))
    preset = load_preset("erpnext")
    assert set(preset.metrics) == set(want)
    for metric, series in want.items():
        got = of(values, metric)
        assert got.keys() == series.keys(), metric
        tolerance = elapsed if metric.endswith("_age_seconds") else 1e-6
        for key, value in series.items():
            assert got[key] == pytest.approx(value, abs=tolerance), (metric, key)
            if metric.endswith("_age_seconds"):
                assert got[key] >= value, (metric, key)
    # Nothing the preset does not map is published: no false zeros.
    for metric in set(METRICS) - set(preset.metrics):
        assert of(values, metric) == {}, metric
    quality = {check: n for (check,), n in of(values, "inventory_data_quality_issues").items() if n}
    assert quality == {}


async def test_the_fulfillment_window_reaches_older_orders(erpnext_url, tmp_path):
    url, _ = erpnext_url
    data = dataset()
    load(url, data)
    values = await collect_preset(url, tmp_path, fulfillment_window="48h")
    want = expected(data, since=NOW - timedelta(hours=48))["inventory_order_fulfillment_ratio"]
    assert want != expected(data, since=NOW - timedelta(hours=24))["inventory_order_fulfillment_ratio"]
    assert of(values, "inventory_order_fulfillment_ratio") == pytest.approx(want)


async def test_the_documented_grants_are_enough(erpnext_url, mariadb_server, tmp_path):
    # docs/presets/erpnext.md: a user with SELECT on its ten tables, and nothing more, reads every figure.
    url, _ = erpnext_url
    data = dataset()
    load(url, data)
    name = urlsplit(url).path.lstrip("/")
    user = f"monitor_{name}"
    doc = (ROOT / "docs" / "presets" / "erpnext.md").read_text()
    grants = re.findall(r"GRANT SELECT ON `_0a1b2c3d4e5f6a7b`(\.`[^`]+`) TO 'monitor'@'%';", doc)
    assert len(grants) == 10, grants
    mariadb_server.sql(
        f"CREATE USER '{user}'@'%';" + "".join(f"GRANT SELECT ON `{name}`{t} TO '{user}'@'%';" for t in grants)
    )
    try:
        values = await collect_preset(url.replace("//root@", f"//{user}@", 1), tmp_path)
    finally:
        mariadb_server.sql(f"DROP USER '{user}'@'%'")
    assert of(values, "inventory_exporter_query_success") == {
        ("business", metric): 1.0 for metric in MAPPED + SERVICE_LEVEL_MAPPED
    }
    want = expected(data, since=NOW - timedelta(hours=24))
    for metric in MAPPED:
        assert of(values, metric) == pytest.approx(want[metric]), metric


def test_statements_do_not_depend_on_the_session_time_zone(erpnext_url, mariadb_server):
    # The exporter's own sessions run in UTC; a statement run by anyone else (another
    # driver, --check-database against a server in another zone) must give the same
    # seconds. This session keeps the test server's zone, which is not UTC.
    url, _ = erpnext_url
    data = dataset()
    load(url, data)
    engine = create_engine(url.replace("mysql://", "mysql+pymysql://", 1))
    try:
        with engine.connect() as conn:
            zone = conn.exec_driver_sql("SELECT @@session.time_zone").scalar()
            sql = load_preset("erpnext").metrics["inventory_last_stock_movement_timestamp_seconds"]
            seconds = conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()
    assert zone == mariadb_server.TIME_ZONE != "+00:00"
    assert float(seconds) == expected(data, NOW)["inventory_last_stock_movement_timestamp_seconds"][()]


async def test_an_empty_erpnext_publishes_no_false_series(erpnext_url, tmp_path):
    url, _ = erpnext_url
    values = await collect_preset(url, tmp_path)
    for metric in METRICS:
        assert of(values, metric) == {}, metric


def test_the_preset_is_for_mysql_urls_only(tmp_path):
    assert load_preset("erpnext").dialects == ("mysql",)
    path = tmp_path / "exporter.yml"
    path.write_text("database:\n  url: postgresql://monitor@db/erpnext\n  schema: erpnext\n")
    with pytest.raises(ConfigError, match="erpnext"):
        load_config(path)


# ------------------------------------------- the service level, on promised orders

# The exporter's clock in the service-level test (ERPNext's naive datetimes, read as UTC);
# the trailing window (service_level_window, 24h) starts at 2026-11-26 12:00.
CLOCK = datetime(2026, 11, 27, 12, 0, 0)


def service_level_dataset() -> dict[str, list[dict]]:
    """Every edge of docs/metrics.md's service level in ERPNext's terms (docs/presets/erpnext.md):
    the promise is kept by the end of the Sales Order's delivery_date, the delivery is the
    last submitted, non-return Delivery Note against the order. S* are Sales orders, C*
    Shopping Cart ones, X* Sales orders and C3, C4 Shopping Cart ones for the stock-out
    exposure (no promise: in no service-level figure but the order counters and
    backorders); dates are 2026-11-<day>."""
    orders: list[dict] = []
    items: list[dict] = []
    notes: list[dict] = []
    note_items: list[dict] = []

    def day(n: int) -> date:
        return date(2026, 11, n)

    def so(
        name,
        promise,
        per_delivered=0,
        lines=(),
        order_type="Sales",
        docstatus=1,
        status="To Deliver and Bill",
        created=datetime(2026, 11, 24, 12),
    ):
        row = order(name, order_type, docstatus, status, per_delivered, created)
        row["delivery_date"] = promise
        orders.append(row)
        # A line: (qty, delivered_qty), of APPLE without a warehouse, or (qty,
        # delivered_qty, item, warehouse[, delivered_by_supplier]).
        for idx, line in enumerate(lines, start=1):
            qty, delivered, item, warehouse, by_supplier = (*line, *("APPLE", None, 0)[len(line) - 2 :])
            row = so_line(name, idx, item, warehouse, qty, delivered, by_supplier, docstatus)
            row["delivery_date"] = promise
            items.append(row)

    def dn(name, against, posted, qty=1, docstatus=1, is_return=0):
        notes.append(
            {
                "name": name,
                "docstatus": docstatus,
                "is_return": is_return,
                "posting_date": posted.date(),
                "posting_time": posted.time(),
                "company": "Acme EU",
                "customer": "C-1",
                "creation": posted,
            }
        )
        note_items.append(
            {
                "name": f"{name}-1",
                "parent": name,
                "parenttype": "Delivery Note",
                "parentfield": "items",
                "idx": 1,
                "item_code": "APPLE",
                "qty": qty,
                "against_sales_order": against,
                "so_detail": f"{against}-1",
                "docstatus": docstatus,
            }
        )

    # S1: due the 27th, delivered on the 27th 09:00 (6 of 5, then 1 returned): on time. The
    # return (posted 11:00) and a cancelled note (11:30) are no deliveries.
    so("S1", day(27), 100, [(5, 5), (3, 3)])
    dn("DN-S1", "S1", datetime(2026, 11, 27, 9), qty=9)
    dn("DN-S1-RET", "S1", datetime(2026, 11, 27, 11), qty=-1, is_return=1)
    dn("DN-S1-X", "S1", datetime(2026, 11, 27, 11, 30), docstatus=2)
    # S2: due the 26th; backordered (the 26th 15:00), the rest the 27th 08:00: late, in full.
    so("S2", day(26), 100, [(4, 4)])
    dn("DN-S2a", "S2", datetime(2026, 11, 26, 15), qty=2)
    dn("DN-S2b", "S2", datetime(2026, 11, 27, 8), qty=2)
    # S3: due the 29th (ahead), delivered early on the 27th 10:00, over-shipped 12 of 10.
    so("S3", day(29), 100, [(10, 12)])
    dn("DN-S3", "S3", datetime(2026, 11, 27, 10), qty=12)
    # S4: due the 26th, partly delivered on the 26th 20:00 (4 of 10, 2 of 2): backordered,
    # due and late; created the 25th 12:00.
    so("S4", day(26), 50, [(10, 4), (2, 2)], created=datetime(2026, 11, 25, 12))
    dn("DN-S4", "S4", datetime(2026, 11, 26, 20), qty=6)
    # S5: cancelled, its promise passed: in no figure.
    so("S5", day(25), 0, [(3, 0)], docstatus=2, status="Cancelled")
    # S6: no delivery date: no promise.
    so("S6", None, 0, [(2, 0)])
    # S7: due the 25th, delivered in full on the 25th 18:00: on time, before the window.
    so("S7", day(25), 100, [(2, 2)])
    dn("DN-S7", "S7", datetime(2026, 11, 25, 18), qty=2)
    # S8: due the 25th (kept by the 26th 00:00, before the window), delivered late on the
    # 26th 13:00 (in it): decided at its promise, out of the window.
    so("S8", day(25), 100, [(3, 3)])
    dn("DN-S8", "S8", datetime(2026, 11, 26, 13), qty=3)
    # S9: due the 26th, delivered at its last second, 23:59:59: on time, in the window.
    so("S9", day(26), 100, [(6, 6)], created=datetime(2026, 11, 25, 9))
    dn("DN-S9", "S9", datetime(2026, 11, 26, 23, 59, 59), qty=6)
    # S10: closed before it was fully delivered: cancelled, in no figure.
    so("S10", day(26), 50, [(2, 1)], status="Closed")
    dn("DN-S10", "S10", datetime(2026, 11, 26, 10), qty=1)
    # S11: due the 26th, delivered at midnight after it (the 27th 00:00): late, in full.
    so("S11", day(26), 100, [(1, 1)])
    dn("DN-S11", "S11", datetime(2026, 11, 27, 0), qty=1)
    # S12: due the 26th, fully delivered with no Delivery Note (a Sales Invoice that updated
    # stock): not fulfilled here, so due at its promise, late, not in full.
    so("S12", day(26), 100, [(2, 2)])
    # S13: due the 27th, delivered on the 27th 11:00 and marked fully delivered although one
    # line is short (1 of 2; the other over, 3 of 2): on time, not in full.
    so("S13", day(27), 100, [(2, 1), (2, 3)])
    dn("DN-S13", "S13", datetime(2026, 11, 27, 11), qty=4)
    # C1: due the 24th, nothing delivered: due and late, before the window. C2: cancelled.
    so("C1", day(24), 0, [(4, 0)], order_type="Shopping Cart")
    so("C2", day(26), 0, [(1, 0)], order_type="Shopping Cart", docstatus=2, status="Cancelled")

    # Stock-out exposure. APPLE, the item of every line above, is an enabled stock item with
    # no Bin anywhere, but those lines have no warehouse: S4, S6 and C1 wait on nothing
    # exposed. Available (actual - reserved) at Stores: OUT 0 (50 at Finished Goods),
    # HELD 4 - 4 = 0, FULL 10 - 2 = 8, NOBIN no Bin (9 at Finished Goods), RETIRED 0 but
    # disabled, SERVICE no Bin but no stock item.
    stock = [
        bin_("OUT", STORES, 0),
        bin_("OUT", GOODS, 50),
        bin_("HELD", STORES, 4, reserved=4),
        bin_("FULL", STORES, 10, reserved=2),
        bin_("NOBIN", GOODS, 9),
        bin_("RETIRED", STORES, 0),
    ]
    products = [
        {"name": name, "item_code": name, "disabled": disabled, "is_stock_item": is_stock}
        for name, disabled, is_stock in (
            ("APPLE", 0, 1),
            ("OUT", 0, 1),
            ("HELD", 0, 1),
            ("FULL", 0, 1),
            ("NOBIN", 0, 1),
            ("RETIRED", 1, 1),
            ("SERVICE", 0, 0),
        )
    ]
    for product in products:
        product.update(item_name=product["name"].title(), item_group="Products", stock_uom="Nos")
    later = datetime(2026, 11, 26, 12)  # after S4: S4 stays the oldest backorder
    # X1: open, 3 OUT at Stores: exposed (its 50 at Finished Goods do not help).
    so("X1", None, 0, [(3, 0, "OUT", STORES)], created=later)
    # X2: open, 2 HELD at Stores, all of its stock reserved: exposed.
    so("X2", None, 0, [(2, 0, "HELD", STORES)], created=later)
    # X3: backordered, FULL delivered (2 of 2), OUT still to deliver (0 of 2): exposed.
    so("X3", None, 50, [(2, 2, "FULL", STORES), (2, 0, "OUT", STORES)], created=later)
    # X4: backordered, OUT delivered (2 of 2), FULL (in stock) still to deliver: not exposed.
    so("X4", None, 50, [(2, 2, "OUT", STORES), (3, 0, "FULL", STORES)], created=later)
    # X5: fully delivered although its OUT line is short (1 of 2): fulfilled, not exposed.
    so("X5", None, 100, [(2, 1, "OUT", STORES)], status="To Bill", created=later)
    # X6: cancelled, X7: closed before full delivery (OUT 2 of 4): neither is exposed.
    so("X6", None, 0, [(2, 0, "OUT", STORES)], docstatus=2, status="Cancelled", created=later)
    so("X7", None, 50, [(4, 2, "OUT", STORES)], status="Closed", created=later)
    # X8: open, NOBIN at Stores, where it has no Bin: 0 available, exposed.
    so("X8", None, 0, [(1, 0, "NOBIN", STORES)], created=later)
    # X9: open, two lines out of stock (OUT and HELD at Stores): exposed, counted once.
    so("X9", None, 0, [(1, 0, "OUT", STORES), (1, 0, "HELD", STORES)], created=later)
    # C3: open, OUT at Stores drop-shipped (delivered by the supplier) and FULL in stock: not
    # exposed. C4: open, RETIRED (disabled) and SERVICE (no stock item) at Stores: not exposed.
    cart = "Shopping Cart"
    so("C3", None, 0, [(5, 0, "OUT", STORES, 1), (1, 0, "FULL", STORES)], order_type=cart, created=later)
    so("C4", None, 0, [(1, 0, "RETIRED", STORES), (1, 0, "SERVICE", STORES)], order_type=cart, created=later)
    return {
        "tabItem": products,
        "tabBin": stock,
        "tabSales Order": orders,
        "tabSales Order Item": items,
        "tabDelivery Note": notes,
        "tabDelivery Note Item": note_items,
    }


async def test_service_level_exactly(erpnext_url, tmp_path):
    url, _ = erpnext_url
    data = service_level_dataset()
    load(url, data)
    values = await collect_with_schema(url, "erpnext", tmp_path, now=CLOCK)
    sales, cart = ("Sales",), ("Shopping Cart",)
    # Worked out by hand from the comments of service_level_dataset:
    # due: S1, S2, S3, S4, S7, S8, S9, S11, S12, S13 = 10 (not S5 and S10, cancelled; S6
    # without a promise); C1 = 1.
    assert of(values, "inventory_orders_due_total") == {sales: 10, cart: 1}
    # on time: S1, S3 (early), S7, S9 (last second), S13 = 5; not S11 (midnight after).
    assert of(values, "inventory_orders_on_time_total") == {sales: 5, cart: 0}
    # in full: S1, S2, S3 (over), S7, S8, S9, S11 = 7; not S4, S12 (no note), S13 (short).
    assert of(values, "inventory_orders_in_full_total") == {sales: 7, cart: 0}
    # OTIF: S1, S3, S7, S9 = 4.
    assert of(values, "inventory_orders_otif_total") == {sales: 4, cart: 0}
    # Decided after the 26th 12:00: S1 (27th 09:00), S2 (promise kept by the 27th 00:00),
    # S3 (27th 10:00), S4 (27th 00:00), S9 (26th 23:59:59), S11 and S12 (27th 00:00), S13
    # (27th 11:00) = 8; S7 (25th 18:00) and S8 (26th 00:00) before, as C1 (25th 00:00).
    # On time: S1, S3, S9, S13 = 4 of 8; OTIF: S1, S3, S9 = 3 of 8.
    assert of(values, "inventory_order_on_time_ratio") == {sales: pytest.approx(4 / 8)}
    assert of(values, "inventory_order_otif_ratio") == {sales: pytest.approx(3 / 8)}
    # Lines filled/lines: S1 2/2, S2 1/1, S3 1/1, S4 1/2, S9 1/1, S11 1/1, S12 1/1, S13 1/2 = 9 of 11.
    assert of(values, "inventory_order_line_fill_ratio") == {sales: pytest.approx(9 / 11)}
    # Units, capped/ordered: S1 8/8, S2 4/4, S3 10/10, S4 6/12, S9 6/6, S11 1/1, S12 2/2,
    # S13 (1 + 2)/4 = 40 of 47.
    assert of(values, "inventory_order_unit_fill_ratio") == {sales: pytest.approx(40 / 47)}
    # Orders S1..S13 and X1..X9, C1..C4; fully delivered: S1, S2, S3, S7, S8, S9, S11,
    # S12, S13 and X5 (the X orders have no promise: in none of the figures above).
    assert of(values, "inventory_orders_created_total") == {sales: 22, cart: 4}
    assert of(values, "inventory_orders_fulfilled_total") == {sales: 10, cart: 0}
    # Backordered: S4, X3, X4 (S10 and X7 are closed); the oldest, S4, created two days
    # before now (X3 and X4 one day).
    assert of(values, "inventory_backorders") == {sales: 3, cart: 0}
    assert of(values, "inventory_backorder_oldest_age_seconds") == {sales: 2 * 86400}
    # Stock-out exposure: X1 (OUT, 0 at Stores; Finished Goods' 50 do not count), X2 (HELD,
    # all reserved), X3 (backordered, OUT still to deliver), X8 (NOBIN, no Bin at Stores),
    # X9 (OUT and HELD, once) = 5. Not: X4 (its OUT line delivered, FULL in stock), X5
    # (fulfilled), X6 (cancelled), X7 (closed), S4, S6 and C1 (lines without a warehouse),
    # C3 (OUT drop-shipped, FULL in stock), C4 (RETIRED disabled, SERVICE no stock item):
    # the Shopping Cart has waiting orders, none exposed.
    assert of(values, "inventory_orders_stockout_exposed") == {sales: 5, cart: 0}
    assert _stockout_exposed(data) == {sales: 5, cart: 0}  # the Python reading agrees
    assert {check: n for (check,), n in of(values, "inventory_data_quality_issues").items() if n} == {}
