"""deploy/ha: the compose file resolves, and every config it mounts passes its program's check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

HA = ROOT / "deploy" / "ha"
DOCKER_COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def compose() -> dict:
    result = run(DOCKER_COMPOSE, "-f", str(HA / "docker-compose.yml"), "config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_docker_compose_config_quiet_passes():
    result = run(DOCKER_COMPOSE, "-f", str(HA / "docker-compose.yml"), "config", "-q")
    assert result.returncode == 0 and result.stdout == "", result.stderr


def test_two_of_everything_that_must_not_fail_alone(compose):
    services = compose["services"]
    for pair in (
        ("prometheus-a", "prometheus-b"),
        ("alertmanager-a", "alertmanager-b"),
        ("enhancer-a", "enhancer-b"),
        ("exporter-shard-1", "exporter-shard-2"),
    ):
        assert set(pair) <= set(services)
    assert {services["prometheus-a"]["environment"]["REPLICA"], services["prometheus-b"]["environment"]["REPLICA"]} == {
        "a",
        "b",
    }
    peers = {
        name: [a for a in services[name]["command"] if a.startswith("--cluster.peer=")]
        for name in ("alertmanager-a", "alertmanager-b")
    }
    assert peers == {
        "alertmanager-a": ["--cluster.peer=alertmanager-b:9094"],
        "alertmanager-b": ["--cluster.peer=alertmanager-a:9094"],
    }
    # VictoriaMetrics deduplicates at the replicas' scrape interval
    scrape = yaml.safe_load((HA / "prometheus.yml").read_text())["global"]["scrape_interval"]
    assert f"-dedup.minScrapeInterval={scrape}" in services["victoriametrics"]["command"]
    # every reader queries the long-term store
    assert "victoriametrics:8428" in " ".join(services["enhancer-a"]["command"])
    assert yaml.safe_load((HA / "reporter.yml").read_text())["prometheus"]["url"] == "http://victoriametrics:8428"
    datasource = yaml.safe_load((HA / "grafana" / "datasources" / "victoriametrics.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://victoriametrics:8428"
    # the replicas mount the shipped rules and the file_sd targets
    mounts = services["prometheus-a"]["volumes"]
    sources = {m["source"] if isinstance(m, dict) else m.split(":")[0] for m in mounts}
    assert str(ROOT / "prometheus" / "rules") in sources and str(HA / "targets") in sources


def test_the_replica_config_and_the_rules_pass_promtool(tmp_path):
    result = run("promtool", "check", "config", str(HA / "prometheus.yml"), env={"REPLICA": "a"})
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((HA / "prometheus.yml").read_text())
    assert config["global"]["external_labels"]["replica"] == "${REPLICA}"
    drops = [c for c in config["alerting"]["alert_relabel_configs"] if c["action"] == "labeldrop"]
    assert [c["regex"] for c in drops] == ["replica"]
    assert [c["regex"] for c in config["remote_write"][0]["write_relabel_configs"]] == ["replica"]
    for target in yaml.safe_load((HA / "targets" / "exporters.yml").read_text()):
        assert "tenant" not in target.get("labels", {}), "tenant comes from the exporters' constant_labels"


@pytest.mark.parametrize("shard", ["exporter-shard-1.yml", "exporter-shard-2.yml"])
def test_exporter_shards_pass_check_config_and_carry_a_tenant(shard):
    env = {"DEMO_SHOPIFY_TOKEN": "x", "DEMO_SQUARE_TOKEN": "x", "DEMO_ODOO_TOKEN": "x"}
    result = run(sys.executable, "-m", "exporter", "--config", str(HA / shard), "--check-config", env=env)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load((HA / shard).read_text())["constant_labels"]["tenant"]


def test_the_reporter_config_passes_check_config():
    result = run(sys.executable, "-m", "reporter", "--config", str(HA / "reporter.yml"), "--check-config")
    assert result.returncode == 0, result.stderr
