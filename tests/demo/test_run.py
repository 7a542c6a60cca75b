"""demo/run.py without the stack: the demo is not installed, its subprocesses still find it,
and each fake integration declares its own exporter settings."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

from demo.run import (
    BASE_PORTS,
    ROOT,
    Component,
    Settings,
    exporter_config,
    fake_modules,
    integration_settings,
)


def _env_without_pythonpath() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}


def test_demo_is_not_an_installed_top_level_package(tmp_path):
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert not [p for p in find["include"] if p.startswith("demo")]
    # From outside the checkout, `demo` must not import (a stale editable install maps it:
    # reinstall with `pip install -e .`).
    found = subprocess.run(
        [sys.executable, "-c", "import importlib.util; print(importlib.util.find_spec('demo'))"],
        cwd=tmp_path,
        env=_env_without_pythonpath(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.stdout.strip() == "None", found.stdout + found.stderr


def test_components_find_the_demo_from_the_checkout_whatever_the_callers_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    # -P: not even the working directory on sys.path; only the PYTHONPATH the component sets.
    component = Component("sink", [sys.executable, "-P", "-m", "demo.sink", "--help"], None)
    component.start()
    assert component.process.wait(60) == 0
    assert "PYTHONPATH" not in os.environ


def _settings(tmp_path: Path) -> Settings:
    return Settings(tmp_path, "127.0.0.1", dict(BASE_PORTS), False, "http://127.0.0.1:9877")


def _fake(**attributes) -> SimpleNamespace:
    return SimpleNamespace(DEFAULT_LOCATION_MAP={"1": "wh-main"}, DEFAULT_TOKEN="t", **attributes)


def test_integration_entries_take_what_the_fake_declares(tmp_path):
    declared = _fake(INTEGRATION_SETTINGS={"database": "db1", "username": "bot"})
    plain = _fake()
    config = exporter_config(_settings(tmp_path), {"odoo": declared, "shopify": plain})
    odoo, shopify = config["integrations"]
    assert odoo["database"] == "db1" and odoo["username"] == "bot"
    assert odoo["locations"] == {"1": "wh-main"} and odoo["token_env"] == "DEMO_ODOO_TOKEN"
    assert "database" not in shopify and "username" not in shopify
    # The declaration is copied: the exporter config never aliases the fake's module state.
    odoo["database"] = "changed"
    assert declared.INTEGRATION_SETTINGS["database"] == "db1"


def test_a_fake_without_integration_settings_adds_nothing():
    assert integration_settings(_fake(DATABASE="inventory", LOGIN="exporter")) == {}
    assert integration_settings(_fake(INTEGRATION_SETTINGS={"database": "a"})) == {"database": "a"}


def test_the_real_fakes_give_the_odoo_entry_its_database_and_login(tmp_path):
    fakes = fake_modules()
    entries = {e["kind"]: e for e in exporter_config(_settings(tmp_path), fakes)["integrations"]}
    assert set(entries) == {"shopify", "square", "odoo"}
    assert {"database", "username"} <= entries["odoo"].keys()
    assert integration_settings(fakes["odoo"]).items() <= entries["odoo"].items()
    for kind in ("shopify", "square"):
        assert "database" not in entries[kind] and "username" not in entries[kind]


def test_the_prometheus_link_is_a_page_the_installed_prometheus_serves(tmp_path):
    # Debian's build has no React UI: /alerts answers 404 there, /classic/alerts 200.
    from demo.run import PROMETHEUS_ALERT_PAGES, first_served
    from tests.conftest import free_port, wait_for

    port = free_port()
    (tmp_path / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
    process = subprocess.Popen(
        [
            "/usr/bin/prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _status(base + "/-/ready") == 200, 30, message="prometheus ready")
        chosen = first_served(base, PROMETHEUS_ALERT_PAGES)
        assert _status(base + chosen) == 200
        earlier = PROMETHEUS_ALERT_PAGES[: PROMETHEUS_ALERT_PAGES.index(chosen)]
        assert all(_status(base + path) != 200 for path in earlier)
    finally:
        process.terminate()
        process.wait(10)


def _status(url: str) -> int | None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def test_grafana_is_provisioned_with_this_demos_prometheus_and_the_shipped_dashboards(tmp_path, monkeypatch):
    import yaml

    from demo.run import grafana_component

    settings = _settings(tmp_path)
    # Neither a Grafana binary nor a Docker engine: the rendered pages only.
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert grafana_component(settings) is None
    # A grafana-server on PATH (a stand-in: this machine has no Grafana package).
    binary = tmp_path / "bin" / "grafana-server"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", str(binary.parent))
    component = grafana_component(settings)
    assert component is not None and component.argv[0] == str(binary)
    assert component.ready_url == settings.url("grafana", "/api/health")
    provisioning = Path(component.env["GF_PATHS_PROVISIONING"])
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["url"] == settings.url("prometheus") and source["uid"] == "prometheus"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "inventory.yml").read_text())["providers"]
    dashboards = Path(provider["options"]["path"])
    assert sorted(p.name for p in dashboards.glob("*.json")) == sorted(
        p.name for p in (Path(__file__).resolve().parents[2] / "grafana" / "dashboards").glob("*.json")
    )
    assert component.env["GF_SERVER_HTTP_PORT"] == str(settings.ports["grafana"])
