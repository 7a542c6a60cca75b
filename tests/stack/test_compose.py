"""docker-compose.yml and the Dockerfile: valid for docker-compose, pinned, healthchecked, and
every config file a container reads exists and passes its program's own check.

No Docker engine is needed: `docker-compose config` validates and resolves the file, and
the configs are checked with the same programs the containers run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
DOCKER_COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"


def _mounts(service: dict) -> list[tuple[str, str, str]]:
    """(type, source, target) of each volume; docker-compose v1 prints the short form."""
    out = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            out.append((volume["type"], volume.get("source", ""), volume["target"]))
        else:
            source, target = volume.split(":")[:2]
            out.append(("bind" if source.startswith(("/", ".")) else "volume", source, target))
    return out


def _compose_config() -> dict:
    result = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE), "config"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def compose():
    if not os.access(DOCKER_COMPOSE, os.X_OK):
        pytest.fail("docker-compose not found: install Debian's docker-compose package (make test does)")
    return _compose_config()


def test_docker_compose_config_quiet_passes():
    result = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE), "config", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_the_stack_has_every_service_and_each_a_healthcheck(compose):
    services = compose["services"]
    assert set(services) == {"demo", "exporter", "enhancer", "prometheus", "alertmanager", "grafana"}
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"


def test_official_images_are_pinned(compose):
    expected = {
        "prometheus": "prom/prometheus:v2.",
        "alertmanager": "prom/alertmanager:v0.",
        "grafana": "grafana/grafana-oss:",
    }
    for name, prefix in expected.items():
        image = compose["services"][name]["image"]
        assert image.startswith(prefix), image
        tag = image.rsplit(":", 1)[1]
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: {image} is not pinned to a release"


def test_python_services_build_the_repository_image(compose):
    for name in ("demo", "exporter", "enhancer"):
        service = compose["services"][name]
        assert service["build"]["context"] == str(ROOT)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    user = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0"), "the image must run as a non-root user"


def test_bind_mounts_exist(compose):
    for name, service in compose["services"].items():
        for kind, source, _ in _mounts(service):
            if kind == "bind":
                assert os.path.exists(source), f"{name}: {source} does not exist"


def test_grafana_provisioning_is_mounted(compose):
    grafana = compose["services"]["grafana"]
    mounts = {target: source for _, source, target in _mounts(grafana)}
    assert mounts["/etc/grafana/provisioning"] == str(ROOT / "grafana" / "provisioning")
    dashboards = mounts["/var/lib/grafana/dashboards"]
    assert dashboards == str(ROOT / "grafana" / "dashboards")
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "grafana" / "dashboards" / os.path.basename(home)).exists()
    providers = yaml.safe_load((ROOT / "grafana" / "provisioning" / "dashboards" / "inventory.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def _container_path(compose: dict, service: str, flag: str) -> str:
    args = compose["services"][service]["command"]
    return next(a.split("=", 1)[1] for a in args if a.startswith(flag + "="))


def _host_path(compose: dict, service: str, container_path: str) -> str:
    for kind, source, target in _mounts(compose["services"][service]):
        if kind == "bind" and container_path.startswith(target + "/"):
            return source + container_path[len(target) :]
    raise AssertionError(f"{container_path} is not on a bind mount of {service}")


def test_prometheus_and_alertmanager_configs_pass_their_checks(compose, tmp_path):
    prometheus_yml = _host_path(compose, "prometheus", _container_path(compose, "prometheus", "--config.file"))
    result = subprocess.run(
        ["promtool", "check", "config", "--syntax-only", prometheus_yml], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    alertmanager_yml = _host_path(compose, "alertmanager", _container_path(compose, "alertmanager", "--config.file"))
    result = subprocess.run(["amtool", "check-config", alertmanager_yml], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_exporter_docker_config_is_valid(compose):
    exporter = compose["services"]["exporter"]
    config_path = exporter["command"][exporter["command"].index("--config") + 1]
    assert config_path.startswith("/app/")
    host_path = ROOT / config_path.removeprefix("/app/")
    env = {**os.environ, **exporter["environment"]}
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config", str(host_path), "--check-config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(host_path.read_text())
    assert config["database"]["url"] == "sqlite:////data/inventory.db"
    assert "/data" in {target for _, _, target in _mounts(exporter)}
    # Every integration of the docker config points at the demo container's fake of that kind.
    for integration in config["integrations"]:
        module = __import__(f"demo.fakes.{integration['kind']}", fromlist=["DEFAULT_TOKEN"])
        assert exporter["environment"][integration["token_env"]] == module.DEFAULT_TOKEN
        assert integration["locations"] == module.DEFAULT_LOCATION_MAP


def test_enhancer_command_renders_a_valid_config(compose, tmp_path):
    """Run the container's own shell command against the repository's enhancer.yml."""
    command = compose["services"]["enhancer"]["command"]
    assert command[:2] == ["sh", "-c"]
    script = command[2].replace("/app/", f"{ROOT}/").replace("/tmp/enhancer.yml", str(tmp_path / "enhancer.yml"))
    script = script.replace("exec python", f"exec {sys.executable}").replace(
        "--config " + str(tmp_path / "enhancer.yml"), "--config " + str(tmp_path / "enhancer.yml") + " --check-config"
    )
    result = subprocess.run(["sh", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    rendered = (tmp_path / "enhancer.yml").read_text()
    assert "127.0.0.1" not in rendered, "an address of the local demo is left in the docker config"
    config = yaml.safe_load(rendered)
    assert config["prometheus"]["url"] == "http://prometheus:9090"
    assert config["state"] == "/data/enhancer-state.db"
    assert "demo:8080" in config["allowed_hosts"]
