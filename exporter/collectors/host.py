"""Host metrics from psutil, plus prometheus_client's process and platform metrics."""

from __future__ import annotations

import asyncio
import re

import psutil
from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.collectors.base import CollectorBase
from exporter.config import HostConfig


class HostCollector(CollectorBase):
    name = "host"

    def __init__(self, config: HostConfig):
        self.interval = config.interval
        self.timeout = config.timeout
        self.mountpoints = config.mountpoints
        self.ignored_interfaces = re.compile(config.ignored_interfaces)
        # cpu_percent(None) measures since the previous call; this call starts the clock.
        psutil.cpu_percent(interval=None)

    async def collect(self) -> list[Metric]:
        return await asyncio.to_thread(self._collect)

    def _collect(self) -> list[Metric]:
        cpu = GaugeMetricFamily(
            "inventory_host_cpu_utilization_ratio", "Share of CPU time not idle since the last collection (0..1)."
        )
        cpu.add_metric([], psutil.cpu_percent(interval=None) / 100.0)

        memory = psutil.virtual_memory()
        mem_used = GaugeMetricFamily(
            "inventory_host_memory_used_bytes", "Memory in use: total minus available.", unit="bytes"
        )
        mem_used.add_metric([], memory.total - memory.available)
        mem_total = GaugeMetricFamily("inventory_host_memory_total_bytes", "Physical memory.", unit="bytes")
        mem_total.add_metric([], memory.total)

        disk_used = GaugeMetricFamily(
            "inventory_host_disk_used_bytes", "Bytes used on the filesystem.", labels=["mountpoint"], unit="bytes"
        )
        disk_total = GaugeMetricFamily(
            "inventory_host_disk_total_bytes", "Size of the filesystem.", labels=["mountpoint"], unit="bytes"
        )
        for mountpoint in self._mountpoints():
            try:
                usage = psutil.disk_usage(mountpoint)
            except OSError:
                continue  # unmounted between listing and reading
            disk_used.add_metric([mountpoint], usage.used)
            disk_total.add_metric([mountpoint], usage.total)

        received = CounterMetricFamily(
            "inventory_host_network_received_bytes",
            "Bytes received by the interface.",
            labels=["interface"],
            unit="bytes",
        )
        transmitted = CounterMetricFamily(
            "inventory_host_network_transmitted_bytes",
            "Bytes sent by the interface.",
            labels=["interface"],
            unit="bytes",
        )
        for interface, counters in sorted(psutil.net_io_counters(pernic=True).items()):
            if self.ignored_interfaces.search(interface):
                continue
            received.add_metric([interface], counters.bytes_recv)
            transmitted.add_metric([interface], counters.bytes_sent)

        families: list[Metric] = [cpu, mem_used, mem_total, disk_used, disk_total, received, transmitted]
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            families.extend(collector.collect())
        return families

    def _mountpoints(self) -> list[str]:
        if self.mountpoints:
            return list(self.mountpoints)
        seen: dict[str, str] = {}
        for partition in psutil.disk_partitions(all=False):
            # One entry per device: bind mounts of the same filesystem would repeat it.
            seen.setdefault(partition.device, partition.mountpoint)
        return sorted(seen.values())
