"""Drive realistic traffic through the demo inventory API, with a fault now and then.

    python -m demo.simulator --api http://127.0.0.1:8080 [--config .demo/exporter.yml]
                             [--seed 7] [--rate 1.0] [--duration N]
                             [--fault-at 20s:api_errors] [--no-faults] [--no-random-faults]

Traffic: POS sales at the stores, online orders (placed on hold, shipped a little
later), wholesale orders from the warehouse, catalogue and stock reads, receipts that
refill a store or online shelf as soon as a sale leaves it at its reorder point or under
the 5 units it sells from (and warehouse SKUs about to run dry), and a sync run per integration every 20 s written to
integration_syncs through POST /syncs. The warehouse also works through the seed's backlog
of online orders (BKL-...) whose promises fall due in the first half hour, too slowly to
ship them all in time: late orders, falling on-time and OTIF figures, and
InventoryOTIFBelowTarget for online (customer service level, docs/metrics.md). Wholesale
orders of SKUs short at the warehouse ship partly and wait as backorders.

Faults (`--fault-at WHEN:KIND[:ARG[:ARG]]`, WHEN like 20s, 2m, 1m30s after start):
  api_errors[:SECONDS]               5xx on a quarter of requests and a failing /health (default 120 s)
  latency[:SECONDS[:DELAY]]          DELAY (default 6 s) added to every request: p95 over
                                     InventoryAPISlowResponses' 5 s (for: 5m) and /health past the probe's
                                     timeout (default 420 s, long enough for the alert to fire)
  stockout[:LOCATION]                the best-seller of LOCATION (default store-north; its SKU with the highest
                                     reorder point) sold out, restocked after 11 min
  stalled_sync[:INTEGRATION]         the integration's sync hangs for 25 min (default odoo)
  drift[:INTEGRATION[:LOCATION]]     the integration's remote stock drifts for 80 SKUs (needs --config
                                     with integrations and a fake that has /_control); stays until reconciled

Without --fault-at the default schedule front-loads faults so that the demo shows an
alert within two minutes: api_errors at 5 s, stockout at 15 s, stalled_sync at 3 min,
drift at 5 min, then (unless --no-random-faults) a random fault every 4 to 8 minutes.
The same --seed gives the same traffic mix and the same fault schedule.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

log = logging.getLogger("demo.simulator")

STORES = ("store-north", "store-south")
INTEGRATIONS = ("shopify", "square", "odoo")
FAULT_KINDS = ("api_errors", "latency", "stockout", "stalled_sync", "drift")
SYNC_PERIOD_SECONDS = 20.0
# Store and online SKUs are sold while at least this many are available (and refilled below it).
RETAIL_MIN_SELLABLE = 5
# A SKU with this many or fewer available is about to run dry: the sweep refills it anywhere.
RUNNING_DRY = 2
# Longer than two cycles of the exporter's analytics collector (every 5 min), which
# publishes the selling stock-outs InventoryOutOfStock{kind="selling"} reads.
RESTOCK_AFTER_SECONDS = 660.0
STALL_SECONDS = 1500.0
# Added to every request by the latency fault: over the 5 s p95 of InventoryAPISlowResponses
# (a smaller delay, such as 1.5 s, slows the shop down without any alert firing).
LATENCY_DELAY_SECONDS = 6.0
DRIFT_SKUS = 80
# The seed's carrier backlog (demo/seed.py, BKL-... orders promised over the demo's first
# half hour): the short-staffed warehouse picks them this much slower than they fall due
# (at 1.3 a real make demo held online OTIF at 0.90-0.91 and the alert never fired),
# so the first ones ship on time and the rest late.
BACKLOG_PREFIX = "BKL-"
BACKLOG_SLOWDOWN = 2.0

_DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    match = _DURATION_RE.match(text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r}: use 20s, 2m, 1m30s or seconds")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


@dataclass(frozen=True)
class Fault:
    at: float
    kind: str
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        return ":".join((self.kind, *self.args))


def parse_fault(spec: str) -> Fault:
    """'20s:api_errors', '1m:stockout:store-south', '300:drift:square:store-north'."""
    when, _, rest = spec.partition(":")
    parts = rest.split(":") if rest else []
    if not parts or parts[0] not in FAULT_KINDS:
        raise ValueError(f"invalid fault {spec!r}: expected WHEN:KIND[:ARG], KIND one of {', '.join(FAULT_KINDS)}")
    at = parse_duration(when)
    if parts[0] in ("api_errors", "latency") and len(parts) > 1:
        parse_duration(parts[1])
    if parts[0] == "latency" and len(parts) > 2:
        parse_duration(parts[2])
    return Fault(at, parts[0], tuple(parts[1:]))


DEFAULT_SCHEDULE = (
    Fault(5, "api_errors", ("120",)),
    Fault(15, "stockout", ("store-north",)),
    Fault(180, "stalled_sync", ("odoo",)),
    Fault(300, "drift", ("square", "store-south")),
)


@dataclass
class Integration:
    name: str
    url: str
    # database location -> remote location id
    remote_location: dict[str, str] = field(default_factory=dict)


def load_integrations(config_path: str | None) -> dict[str, Integration]:
    """Integrations (and their fakes' URLs) from the exporter config the orchestrator wrote."""
    if not config_path:
        return {}
    data = yaml.safe_load(Path(config_path).read_text()) or {}
    out = {}
    for item in data.get("integrations") or []:
        mapping = {db: remote for remote, db in (item.get("locations") or {}).items()}
        out[item["name"]] = Integration(item["name"], item["url"], mapping)
    return out


@dataclass
class Stats:
    requests: int = 0
    errors: int = 0
    orders: int = 0
    receipts: int = 0
    syncs: int = 0

    def line(self) -> str:
        return (
            f"{self.requests} requests ({self.errors} failed), {self.orders} orders, "
            f"{self.receipts} receipts, {self.syncs} sync runs"
        )


class Simulator:
    def __init__(
        self,
        api: str,
        *,
        seed: int,
        rate: float,
        faults: list[Fault],
        random_faults: bool,
        integrations: dict[str, Integration],
    ):
        self.api = api.rstrip("/")
        self.rng = random.Random(seed)
        self.rate = rate
        self.faults = sorted(faults, key=lambda f: f.at)
        self.random_faults = random_faults
        self.integrations = integrations
        self.stats = Stats()
        self.session: aiohttp.ClientSession | None = None
        # location -> SKUs with enough stock to sell without running dry before the next refresh
        self.sellable: dict[str, list[str]] = {}
        # (sku, location) kept out of normal traffic while a stock-out fault holds it at zero
        self.held: set[tuple[str, str]] = set()
        self.unrefilled: set[tuple[str, str]] = set()  # (sku, location) whose refill failed
        self.tasks: set[asyncio.Task] = set()
        self.limit = asyncio.Semaphore(32)
        self.started = 0.0

    # --- HTTP -----------------------------------------------------------------------
    async def call(self, method: str, path: str, json: Any = None, base: str | None = None) -> tuple[int, Any]:
        url = (base or self.api) + path
        async with self.limit:
            self.stats.requests += 1
            try:
                async with self.session.request(method, url, json=json, timeout=aiohttp.ClientTimeout(total=15)) as r:
                    body = await r.json(content_type=None) if r.content_type == "application/json" else await r.text()
                    if r.status >= 500:
                        self.stats.errors += 1
                    return r.status, body
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                self.stats.errors += 1
                log.debug("%s %s failed: %s", method, path, exc)
                return 0, None

    async def call_until_done(self, method: str, path: str, json: Any = None, attempts: int = 20) -> tuple[int, Any]:
        """call(), retried a second apart while the API answers 5xx or not at all: a fault's
        own requests must not be lost to another fault running at the same time (an
        api_errors burst fails a quarter of them)."""
        status, body = 0, None
        for _ in range(attempts):
            status, body = await self.call(method, path, json)
            if 0 < status < 500:
                break
            await asyncio.sleep(1.0)
        return status, body

    def spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # --- traffic --------------------------------------------------------------------
    async def refresh_sellable(self) -> None:
        for location, minimum in (
            ("store-north", RETAIL_MIN_SELLABLE),
            ("store-south", RETAIL_MIN_SELLABLE),
            ("online", RETAIL_MIN_SELLABLE),
            ("wh-main", 40),
        ):
            status, body = await self.call("GET", f"/stock?location={location}&min_available={minimum}&limit=2000")
            if status == 200:
                skus = [s["sku"] for s in body["stock"] if (s["sku"], location) not in self.held]
                if skus:
                    self.sellable[location] = skus

    def needs_refill(self, location: str, available: int, reorder_point: int | None) -> bool:
        """A store or online shelf is refilled once it is at its reorder point or has sold
        down to what the simulator stops selling, as its daily delivery from the warehouse
        would: the demo's traffic is many times the seeded day's, and a shelf left at a few
        units sits under the analytics' safety stock with nothing on order
        (InventoryBelowSafetyStock pending in a healthy demo, seen in CI). The warehouse,
        which the enhancer's purchase orders replenish, receives only when about to run dry."""
        if location == "wh-main":
            return available <= RUNNING_DRY
        return available <= max(reorder_point or 0, RETAIL_MIN_SELLABLE - 1)

    async def refill(self, sku: str, location: str, available: int, reorder_point: int | None) -> None:
        key = (sku, location)
        if key in self.held or not self.needs_refill(location, available, reorder_point):
            self.unrefilled.discard(key)
            return
        quantity = max(10, 2 * int(reorder_point or 5)) - min(available, 0)
        status, _ = await self.call("POST", "/receipts", {"sku": sku, "location": location, "quantity": quantity})
        if status == 201:
            self.stats.receipts += 1
            self.unrefilled.discard(key)
        else:
            self.unrefilled.add(key)  # an api_errors burst: the sweep tries again

    async def refill_after(self, location: str, body: dict) -> None:
        """Refill right after a sale: a periodic sweep alone leaves a shelf under its
        safety stock for up to its period, long enough for an analytics run to see it."""
        for line in body.get("lines", []):
            await self.refill(line["sku"], location, line["available"], line["reorder_point"])

    async def replenish(self) -> None:
        """Every 30 s: SKUs about to run dry (the warehouse's, and shelves the seed left
        nearly empty), a hundred a location at a time so that the first sweep is no burst of
        writes; then the refills that failed."""
        for location in ("store-north", "store-south", "online", "wh-main"):
            status, body = await self.call("GET", f"/stock?location={location}&max_available={RUNNING_DRY}&limit=100")
            if status == 200:
                for row in body["stock"]:
                    await self.refill(row["sku"], location, row["available"], row["reorder_point"])
        for sku, location in sorted(self.unrefilled):
            status, body = await self.call("GET", f"/products/{sku}")
            row = next((r for r in body["stock"] if r["location"] == location), None) if status == 200 else None
            if row is not None:
                await self.refill(sku, location, row["available"], row["reorder_point"])

    def pick(self, location: str) -> str | None:
        skus = self.sellable.get(location)
        return self.rng.choice(skus) if skus else None

    async def pos_sale(self) -> None:
        location = self.rng.choice(STORES)
        sku = self.pick(location)
        if sku:
            status, body = await self.call(
                "POST",
                "/orders",
                {
                    "channel": "pos",
                    "location": location,
                    "lines": [{"sku": sku, "quantity": self.rng.choice((1, 1, 1, 2))}],
                },
            )
            self.stats.orders += status == 201
            if status == 201:
                await self.refill_after(location, body)

    async def online_order(self) -> None:
        lines = []
        for _ in range(self.rng.choice((1, 1, 2, 3))):
            sku = self.pick("online")
            if sku and sku not in {line["sku"] for line in lines}:
                lines.append({"sku": sku, "quantity": 1})
        if not lines:
            return
        status, body = await self.call("POST", "/orders", {"channel": "online", "lines": lines, "hold": True})
        if status != 201:
            return
        self.stats.orders += 1
        await self.refill_after("online", body)
        if body["status"] == "open":
            # Picking and packing take a little while before the parcel ships; a short one, as
            # the demo's traffic is many times the seeded day's: a longer pick would leave as
            # many orders open as the seed has in its trailing day, and its fulfilment ratio
            # (InventoryFulfillmentBelowTarget, 96 %) would count them all as unfulfilled.
            await asyncio.sleep(self.rng.uniform(1, 4))
            await self.call("POST", f"/orders/{body['id']}/fulfill")

    async def wholesale_order(self) -> None:
        sku = self.pick("wh-main")
        if sku:
            status, _ = await self.call(
                "POST",
                "/orders",
                {"channel": "wholesale", "lines": [{"sku": sku, "quantity": 6 * self.rng.randint(1, 4)}]},
            )
            self.stats.orders += status == 201

    async def browse(self) -> None:
        choice = self.rng.random()
        location = self.rng.choice(("store-north", "store-south", "online", "wh-main"))
        if choice < 0.6:
            sku = self.pick(location) or "SKU-00001"
            await self.call("GET", f"/products/{sku}")
        elif choice < 0.85:
            await self.call("GET", f"/stock?location={location}&limit=50")
        elif choice < 0.95:
            await self.call("GET", f"/products?limit=50&offset={self.rng.randint(0, 2900)}")
        else:
            await self.call("GET", "/health")

    async def sync(self, integration: str) -> None:
        failed = self.rng.random() < 0.02
        status, _ = await self.call(
            "POST",
            "/syncs",
            {
                "integration": integration,
                "records": self.rng.randint(20, 400),
                "conflicts": int(self.rng.random() < 0.05),
                "failed": failed,
            },
        )
        self.stats.syncs += status == 201

    async def work_backlog(self) -> None:
        """Pick the seed's backlog of open online orders in promise order, one every
        BACKLOG_SLOWDOWN x (time left until the last promise / orders): the early ones
        ship before their promise, the later ones after it (late, still in full)."""
        backlog: list[tuple[str, str]] = []
        for number in range(1, 100_000):
            status, body = await self.call("GET", f"/orders/{BACKLOG_PREFIX}{number:06d}")
            if status != 200:
                break
            if body.get("status") == "open" and body.get("promised_at"):
                backlog.append((body["promised_at"], body["id"]))
        if not backlog:
            return
        backlog.sort()
        last_due = datetime.fromisoformat(backlog[-1][0].replace("Z", "+00:00")).timestamp()
        pace = BACKLOG_SLOWDOWN * max(60.0, last_due - time.time()) / len(backlog)
        log.info("backlog: %d open online orders to pick, one every %.1fs", len(backlog), pace)
        late = 0
        for promised, order_id in backlog:
            await asyncio.sleep(pace)
            status, body = await self.call("POST", f"/orders/{order_id}/fulfill")
            if status == 200 and body.get("fulfilled_at", "") > promised:
                late += 1
        log.info("backlog: picked %d orders, %d after their promise", len(backlog), late)

    # --- faults ---------------------------------------------------------------------
    async def inject(self, fault: Fault) -> None:
        log.info("fault %s starts (t=%.0fs, unix %.3f)", fault, time.monotonic() - self.started, time.time())
        handler = getattr(self, f"fault_{fault.kind}")
        try:
            await handler(*fault.args)
        except Exception as exc:  # a fault that cannot be injected must not stop the traffic
            log.warning("fault %s could not be injected: %s", fault, exc)

    async def fault_api_errors(self, seconds: str = "120") -> None:
        await self.call("POST", "/_control", {"error_ratio": 0.25, "unhealthy": True, "for": parse_duration(seconds)})

    async def fault_latency(self, seconds: str = "420", delay: str = str(LATENCY_DELAY_SECONDS)) -> None:
        await self.call("POST", "/_control", {"latency": parse_duration(delay), "for": parse_duration(seconds)})

    async def fault_stockout(self, location: str = "store-north") -> None:
        status, body = await self.call_until_done("GET", f"/stock?location={location}&min_available=1&limit=10000")
        if status != 200 or not body["stock"]:
            raise RuntimeError(f"no stock at {location} to sell out (HTTP {status})")
        # A best-seller: the stock-out alert fires on the sales a stock-out loses, and a slow
        # mover out for a while is normal. The highest reorder point marks the fastest seller.
        row = max(body["stock"], key=lambda r: (r["reorder_point"] or 0, r["sku"]))
        key = (row["sku"], location)
        self.held.add(key)
        if row["sku"] in self.sellable.get(location, []):
            self.sellable[location].remove(row["sku"])
        channel = "pos" if location in STORES else ("online" if location == "online" else "wholesale")
        status, _ = await self.call_until_done(
            "POST",
            "/orders",
            {"channel": channel, "location": location, "lines": [{"sku": row["sku"], "quantity": row["available"]}]},
        )
        log.info(
            "stockout: sold all %d of %s at %s (HTTP %d); restock in %.0fs",
            row["available"],
            row["sku"],
            location,
            status,
            RESTOCK_AFTER_SECONDS,
        )
        self.spawn(self._restock_later(key, max(10, 2 * int(row["reorder_point"] or 5))))

    async def _restock_later(self, key: tuple[str, str], quantity: int) -> None:
        await asyncio.sleep(RESTOCK_AFTER_SECONDS)
        status, _ = await self.call_until_done(
            "POST", "/receipts", {"sku": key[0], "location": key[1], "quantity": quantity}
        )
        self.held.discard(key)
        log.info("stockout over: received %d of %s at %s (HTTP %d)", quantity, key[0], key[1], status)

    async def fault_stalled_sync(self, integration: str = "odoo") -> None:
        await self.call("POST", "/_control", {"stall": integration})
        self.spawn(self._unstall_later(integration))

    async def _unstall_later(self, integration: str) -> None:
        await asyncio.sleep(STALL_SECONDS)
        status, body = await self.call("GET", "/_control")
        if status == 200 and integration in body.get("stalled", []):
            # Nobody fixed it: the on-call engineer restarts the sync by hand.
            await self.call("POST", "/actions/resync", {"integration": integration})
            log.info("stalled_sync over: %s resynced by hand after %.0fs", integration, STALL_SECONDS)

    async def fault_drift(self, integration: str = "square", location: str = "store-south") -> None:
        target = self.integrations.get(integration)
        if target is None:
            raise RuntimeError(f"integration {integration!r} is not in the exporter config given with --config")
        remote = target.remote_location.get(location)
        if remote is None:
            raise RuntimeError(f"{integration} has no remote location mapped to {location!r}")
        skus = self.sellable.get(location) or []
        # Enough SKUs (a shelf's worth) to pull the integration's accuracy under 98 %.
        chosen = self.rng.sample(skus, min(DRIFT_SKUS, len(skus)))
        drift = {f"{sku}@{remote}": -self.rng.randint(1, 4) for sku in chosen}
        status, _ = await self.call("POST", "/_control", {"drift": drift}, base=target.url.rstrip("/"))
        log.info(
            "drift: %s reports %d SKUs at %s short by 1-4 units (HTTP %d)", integration, len(drift), location, status
        )

    def random_fault(self, at: float) -> Fault:
        kind = self.rng.choice(("api_errors", "latency", "stockout", "stockout", "drift"))
        args = {
            "api_errors": (str(self.rng.randint(60, 150)),),
            "latency": (str(self.rng.randint(360, 480)),),
            "stockout": (self.rng.choice(("store-north", "store-south", "online")),),
            "drift": (
                self.rng.choice([n for n in self.integrations] or ["square"]),
                self.rng.choice(STORES + ("online",)),
            ),
        }[kind]
        return Fault(at, kind, args)

    # --- main loop ------------------------------------------------------------------
    async def run(self, duration: float | None) -> None:
        self.started = time.monotonic()
        async with aiohttp.ClientSession(headers={"User-Agent": "inventory-demo-simulator"}) as session:
            self.session = session
            await self.refresh_sellable()
            self.spawn(self.work_backlog())
            pending = list(self.faults)
            next_random = (
                (max((f.at for f in pending), default=0) + self.rng.uniform(240, 480)) if self.random_faults else None
            )
            next_refresh = next_replenish = 30.0
            next_sync = {name: self.rng.uniform(0, SYNC_PERIOD_SECONDS) for name in INTEGRATIONS}
            next_report = 30.0
            tick = 0.5
            while duration is None or time.monotonic() - self.started < duration:
                now = time.monotonic() - self.started
                while pending and pending[0].at <= now:
                    self.spawn(self.inject(pending.pop(0)))
                if next_random is not None and now >= next_random:
                    self.spawn(self.inject(self.random_fault(now)))
                    next_random = now + self.rng.uniform(240, 480)
                for action, per_second in (
                    (self.pos_sale, 0.6),
                    (self.online_order, 0.25),
                    (self.wholesale_order, 0.03),
                    (self.browse, 2.0),
                ):
                    for _ in range(self._poisson(per_second * self.rate * tick)):
                        self.spawn(action())
                for name, due in next_sync.items():
                    if now >= due:
                        self.spawn(self.sync(name))
                        next_sync[name] = due + SYNC_PERIOD_SECONDS
                if now >= next_refresh:
                    self.spawn(self.refresh_sellable())
                    next_refresh = now + 30
                if now >= next_replenish:
                    self.spawn(self.replenish())
                    next_replenish = now + 30
                if now >= next_report:
                    log.info("so far: %s", self.stats.line())
                    next_report = now + 60
                await asyncio.sleep(tick)
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        log.info("done: %s", self.stats.line())

    def _poisson(self, mean: float) -> int:
        # Knuth's method; means here are below 2.
        limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo.simulator",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument("--api", default="http://127.0.0.1:8080", help="base URL of the demo inventory API")
    parser.add_argument("--config", help="exporter config with the integrations (fakes) for drift faults")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=1.0, help="traffic multiplier")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument(
        "--fault-at",
        action="append",
        default=[],
        metavar="WHEN:KIND[:ARG]",
        help="schedule a fault (repeatable); replaces the default schedule",
    )
    parser.add_argument("--no-faults", action="store_true", help="no scheduled or random faults")
    parser.add_argument("--no-random-faults", action="store_true", help="only the scheduled faults")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        faults = [parse_fault(spec) for spec in args.fault_at]
    except ValueError as exc:
        parser.error(str(exc))
    if args.no_faults:
        faults = []
    elif not faults:
        faults = list(DEFAULT_SCHEDULE)
    simulator = Simulator(
        args.api,
        seed=args.seed,
        rate=args.rate,
        faults=faults,
        random_faults=not (args.no_faults or args.no_random_faults or args.fault_at),
        integrations=load_integrations(args.config),
    )
    log.info(
        "simulating traffic against %s; faults: %s%s",
        args.api,
        ", ".join(f"{f.at:g}s {f}" for f in faults) or "none",
        " then random" if simulator.random_faults else "",
    )
    try:
        asyncio.run(simulator.run(args.duration))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
