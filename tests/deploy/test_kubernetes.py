"""deploy/kubernetes/: valid objects, generated from the one source, wired to the services' real ports.

1. Every manifest, and every ConfigMap kustomize generates from config/*.yml, validates
   against its schema, strictly (an unknown field is an error): the Kubernetes v1.30 JSON
   schemas and the Prometheus Operator v0.93.0 CRDs vendored in tests/vendor/kubernetes/.
   Where kubectl is installed, so does the output of `kubectl kustomize`.
2. prometheusrule.yaml and dashboards/ are exactly what `python -m deploy.kubernetes.generate`
   writes now: the rule groups of prometheus/rules/*.yml and the files of grafana/dashboards/.
3. The objects fit together: ServiceMonitor -> Service -> Deployment labels and port names,
   the job label the alerts select, the ports and probe paths the services really serve,
   the uid of the Dockerfile, secrets only as references.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml
from prometheus_client import CollectorRegistry
from referencing import Registry, Resource

from deploy.kubernetes import generate
from enhancer.config import load_config as load_enhancer_config
from enhancer.server import build_app as enhancer_app
from exporter.config import load_config as load_exporter_config
from exporter.server import build_app as exporter_app
from servicekit.config import parse_listen
from tests.conftest import ROOT

K8S_DIR = ROOT / "deploy" / "kubernetes"
VENDOR = ROOT / "tests" / "vendor" / "kubernetes"
K8S_SCHEMAS = VENDOR / "v1.30.0-local-strict"
OPERATOR_CRDS = VENDOR / "prometheus-operator-v0.93.0"
OBJECT_META = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

Json = dict[str, Any]


# ---------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------

K8S_KINDS = {
    ("v1", "ConfigMap"): "configmap-v1.json",
    ("apps/v1", "Deployment"): "deployment-apps-v1.json",
    ("v1", "Namespace"): "namespace-v1.json",
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaim-v1.json",
    ("v1", "Secret"): "secret-v1.json",
    ("v1", "Service"): "service-v1.json",
}
CRDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitors.yaml",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_prometheusrules.yaml",
}

_DEFINITIONS = Resource.from_contents(json.loads((K8S_SCHEMAS / "_definitions.json").read_text()))
_REGISTRY = _DEFINITIONS @ Registry()


def strict(node: Any) -> Any:
    """A CRD's openAPIV3Schema with unknown fields refused, as kubeconform's strict mode does:
    the API server would prune them silently, so a typo would do nothing."""
    if isinstance(node, dict):
        node = {key: strict(value) for key, value in node.items()}
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict(value) for value in node]
    return node


def crd_schema(filename: str) -> Json:
    crd = yaml.safe_load((OPERATOR_CRDS / filename).read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = strict(version["schema"]["openAPIV3Schema"])
    # The CRD says only `metadata: {type: object}`; hold it to Kubernetes' ObjectMeta.
    schema["properties"]["metadata"] = {"$ref": OBJECT_META}
    return schema


def validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    if (api_version, kind) in K8S_KINDS:
        schema = json.loads((K8S_SCHEMAS / K8S_KINDS[api_version, kind]).read_text())
        return jsonschema.Draft202012Validator(schema, registry=_REGISTRY)
    if (api_version, kind) in CRDS:
        return jsonschema.Draft4Validator(crd_schema(CRDS[api_version, kind]), registry=_REGISTRY)
    raise AssertionError(f"no vendored schema for {api_version} {kind}: vendor it (tests/vendor/kubernetes/README.md)")


def problems(document: Json) -> list[str]:
    found = validator(document["apiVersion"], document["kind"]).iter_errors(document)
    return [f"{'.'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}" for error in found]


# ---------------------------------------------------------------------------------------
# The manifests
# ---------------------------------------------------------------------------------------


def load_documents(path: Path) -> list[Json]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


KUSTOMIZATION = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S_DIR.rglob("*.yaml") if p.name != "kustomization.yaml")


def generated_config_maps() -> list[Json]:
    """The ConfigMaps of configMapGenerator, as kustomize builds them (before the name hash)."""
    maps = []
    for entry in KUSTOMIZATION["configMapGenerator"]:
        data = {}
        for item in entry["files"]:
            key, _, source = item.rpartition("=")
            data[key or PurePosixPath(source).name] = (K8S_DIR / source).read_text(encoding="utf-8")
        maps.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": entry["name"]}, "data": data})
    return maps


MANIFESTS = {path.relative_to(K8S_DIR).as_posix(): load_documents(path) for path in manifest_files()}
OBJECTS = [doc for docs in MANIFESTS.values() for doc in docs] + generated_config_maps()


def only(kind: str, name: str, objects: list[Json] = OBJECTS) -> Json:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def container(deployment: Json) -> Json:
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return found


def config_map_data(name: str) -> dict[str, str]:
    return only("ConfigMap", name)["data"]


SERVICES = {
    # Service and job name -> how to load its config and build its HTTP app
    "inventory-exporter": (load_exporter_config, lambda: exporter_app(None)),
    "inventory-enhancer": (load_enhancer_config, lambda: enhancer_app(None, CollectorRegistry())),
}


def service_config(name: str, tmp_path: Path):
    """The service's config, read from the ConfigMap its Deployment mounts, by its own loader."""
    deployment = only("Deployment", name)
    args = container(deployment)["args"]
    config_path = PurePosixPath(args[args.index("--config") + 1])
    (mount,) = [m for m in container(deployment)["volumeMounts"] if PurePosixPath(m["mountPath"]) == config_path.parent]
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
    text = config_map_data(volume["configMap"]["name"])[config_path.name]
    local = tmp_path / config_path.name
    local.write_text(text)
    return SERVICES[name][0](local)


# ---------------------------------------------------------------------------------------
# 1. Schemas, strictly
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("document", OBJECTS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_object_validates_against_its_schema(document):
    assert problems(document) == []


def test_the_schemas_are_strict():
    """A misspelt field is refused, in the Kubernetes and in the Operator schemas alike."""
    deployment = json.loads(json.dumps(only("Deployment", "inventory-exporter")))
    container(deployment)["livenessProbe"]["httpGet"]["paht"] = "/-/healthy"
    assert any("paht" in p for p in problems(deployment))
    monitor = json.loads(json.dumps(only("ServiceMonitor", "inventory-exporter")))
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    assert any("intervall" in p for p in problems(monitor))
    rule = json.loads(json.dumps(only("PrometheusRule", generate.PROMETHEUS_RULE_NAME)))
    rule["spec"]["groups"][0]["rules"][0]["severity"] = "critical"
    assert any("severity" in p for p in problems(rule))
    rule["metadata"]["lables"] = {}
    assert any("lables" in p for p in problems(rule))


def test_kustomization_applies_every_manifest():
    """`kubectl apply -k` applies each file here: none is forgotten, none is missing."""
    top = {p.name for p in K8S_DIR.glob("*.yaml") if p.name != "kustomization.yaml"}
    resources = set(KUSTOMIZATION["resources"])
    assert resources == top | {generate.DASHBOARDS_SUBDIR}
    dashboards = yaml.safe_load((K8S_DIR / generate.DASHBOARDS_SUBDIR / "kustomization.yaml").read_text())
    assert set(dashboards["resources"]) == {p.name for p in (K8S_DIR / "dashboards").glob("*.yaml")} - {
        "kustomization.yaml"
    }
    assert not [doc for doc in OBJECTS if "namespace" in doc["metadata"]], "the kustomization sets the namespace"


KUBECTL = shutil.which("kubectl")


@pytest.fixture(scope="module")
def built() -> list[Json]:
    if not KUBECTL:
        pytest.skip("kubectl not installed: the kustomize build is not checked")
    result = subprocess.run(
        [KUBECTL, "kustomize", str(K8S_DIR)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_kustomize_build_validates_and_is_wired(built):
    assert [p for doc in built for p in problems(doc)] == []
    namespace = KUSTOMIZATION["namespace"]
    assert only("Namespace", namespace, built)
    assert all(doc["metadata"].get("namespace") == namespace for doc in built if doc["kind"] != "Namespace")
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in built}
    for deployment in (doc for doc in built if doc["kind"] == "Deployment"):
        for volume in deployment["spec"]["template"]["spec"]["volumes"]:
            if "configMap" in volume:  # the generated name, with its content hash, exists
                assert ("ConfigMap", volume["configMap"]["name"]) in names
            if "persistentVolumeClaim" in volume:
                assert ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]) in names
    dashboards = [doc for doc in built if doc["metadata"]["name"].startswith(generate.DASHBOARD_PREFIX)]
    assert {name for doc in dashboards for name in doc["data"]} == {p.name for p in generate.dashboard_files()}
    for doc in dashboards:  # kustomize keeps the JSON text as it is
        ((name, text),) = doc["data"].items()
        assert text == (generate.DASHBOARD_DIR / name).read_text()


def test_kube_prometheus_stack_selects_the_monitors_and_rules(built):
    """Its Prometheus selects ServiceMonitors and PrometheusRules by `release: <release name>`."""
    operator_objects = [doc for doc in built if doc["apiVersion"].startswith("monitoring.coreos.com/")]
    assert {doc["kind"] for doc in operator_objects} == {"ServiceMonitor", "PrometheusRule"}
    assert all(doc["metadata"]["labels"].get("release") for doc in operator_objects)
    (patch,) = KUSTOMIZATION["patches"]
    assert patch["target"]["group"] == "monitoring.coreos.com"


def test_objects_fit_the_client_side_apply_annotation():
    """`kubectl apply` (client side) keeps the whole object in an annotation of at most 256 KiB."""
    too_big = [doc["metadata"]["name"] for doc in OBJECTS if len(json.dumps(doc)) > 262144 - 4096]
    assert too_big == []


# ---------------------------------------------------------------------------------------
# 2. Generated from the one source
# ---------------------------------------------------------------------------------------


def test_committed_files_are_generated():
    stale = generate.stale_files(generate.OUTPUT_DIR, generate.outputs())
    assert stale == [], f"{stale} differ from the generator: run `python -m deploy.kubernetes.generate`"


def test_generator_check_mode_detects_a_hand_edit_and_a_leftover(tmp_path, capsys):
    assert generate.main(["--output", str(tmp_path)]) == 0
    assert generate.main(["--output", str(tmp_path), "--check"]) == 0
    rule = tmp_path / generate.PROMETHEUS_RULE_FILE
    rule.write_text(rule.read_text().replace("for: 1m", "for: 2m", 1))
    assert generate.main(["--output", str(tmp_path), "--check"]) == 1
    assert generate.main(["--output", str(tmp_path)]) == 0
    leftover = tmp_path / generate.DASHBOARDS_SUBDIR / "removed-dashboard.yaml"
    leftover.write_text("{}\n")
    assert generate.main(["--output", str(tmp_path), "--check"]) == 1
    assert "removed-dashboard.yaml" in capsys.readouterr().err
    assert generate.main(["--output", str(tmp_path)]) == 0
    assert not leftover.exists()


def test_prometheus_rule_holds_exactly_the_rule_groups():
    """Compared parsed: the groups of prometheus/rules/*.yml, in file-name order, nothing added."""
    expected = []
    for path in sorted((ROOT / "prometheus" / "rules").glob("*.yml")):
        expected.extend(yaml.safe_load(path.read_text())["groups"])
    assert expected
    (rule,) = load_documents(K8S_DIR / generate.PROMETHEUS_RULE_FILE)
    assert rule["spec"]["groups"] == expected
    assert rule["kind"] == "PrometheusRule"


def test_dashboard_config_maps_hold_exactly_the_dashboard_files():
    files = {p.name: p.read_text() for p in sorted((ROOT / "grafana" / "dashboards").glob("*.json"))}
    assert files
    maps = [
        doc
        for doc in OBJECTS
        if doc["kind"] == "ConfigMap" and generate.SIDECAR_LABEL in doc["metadata"].get("labels", {})
    ]
    held = {}
    for doc in maps:
        assert len(doc["data"]) == 1, "one dashboard per ConfigMap (each well below the 1 MiB of a ConfigMap)"
        held.update(doc["data"])
    assert held == files
    for name, text in held.items():
        assert json.loads(text) == json.loads(files[name])


def test_dashboards_carry_the_grafana_sidecar_label_of_kube_prometheus_stack():
    """kube-prometheus-stack's values.yaml: grafana.sidecar.dashboards.label grafana_dashboard,
    labelValue "1" (chart 88.5.3); a label value is a string, so "1", never 1."""
    maps = [doc for doc in OBJECTS if doc["metadata"]["name"].startswith(generate.DASHBOARD_PREFIX)]
    assert len(maps) == len(generate.dashboard_files())
    for doc in maps:
        assert doc["metadata"]["labels"]["grafana_dashboard"] == "1"


# ---------------------------------------------------------------------------------------
# 3. Wired together, and to the services as they really are
# ---------------------------------------------------------------------------------------


def scrape_job_names() -> set[str]:
    config = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    return {job["job_name"] for job in config["scrape_configs"]}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_monitor_selects_the_service_and_its_port(name):
    monitor, service, deployment = (only(kind, name) for kind in ("ServiceMonitor", "Service", "Deployment"))
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert "namespaceSelector" not in monitor["spec"], "the Service is in the ServiceMonitor's namespace"
    service_ports = {port["name"]: port for port in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in service_ports
    # The job label is the Service's name (no jobLabel, no relabeling): the alerts select it.
    assert "jobLabel" not in monitor["spec"]
    assert not any("relabelings" in e or "metricRelabelings" in e for e in monitor["spec"]["endpoints"])
    assert name in scrape_job_names()
    template = deployment["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    container_ports = {port["name"]: port for port in container(deployment)["ports"]}
    for port in service_ports.values():
        assert port["targetPort"] in container_ports
        assert port["port"] == container_ports[port["targetPort"]]["containerPort"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_ports_and_probes_are_the_services_own(name, tmp_path):
    """The port is the config's `listen` (the services' default too); the probe and scrape paths
    are routes the service's HTTP app really has."""
    config = service_config(name, tmp_path)
    default_port = parse_listen(type(config)().listen)[1]
    _, port = parse_listen(config.listen)
    assert port == default_port
    deployment, monitor = only("Deployment", name), only("ServiceMonitor", name)
    (container_port,) = container(deployment)["ports"]
    assert container_port["containerPort"] == port
    routes = {route.resource.canonical for route in SERVICES[name][1]().router.routes()}
    probes = container(deployment)
    assert probes["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert probes["startupProbe"]["httpGet"]["path"] == "/-/healthy"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    for probe in ("livenessProbe", "startupProbe", "readinessProbe"):
        assert probes[probe]["httpGet"]["path"] in routes
        assert probes[probe]["httpGet"]["port"] == container_port["name"]
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["path"] in routes


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_command_is_the_installed_program(name):
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    args = container(only("Deployment", name))["args"]
    assert args[0] in scripts and args[0] == name
    assert args[1] == "--config"


def test_image_is_the_project_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name in SERVICES:
        assert container(only("Deployment", name))["image"] == f"inventory-monitor:{version}"
    (image,) = KUSTOMIZATION["images"]
    assert image["name"] == "inventory-monitor" and image["newTag"] == version


DOCKERFILE_UID = int(re.search(r"useradd .*--uid (\d+)", (ROOT / "Dockerfile").read_text()).group(1))


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_runs_as_the_dockerfile_user_on_a_read_only_root(name, tmp_path):
    deployment = only("Deployment", name)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == DOCKERFILE_UID
    assert pod["automountServiceAccountToken"] is False
    security = container(deployment)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    writable = {m["mountPath"] for m in container(deployment)["volumeMounts"] if not m.get("readOnly")}
    assert "/tmp" in writable
    config = service_config(name, tmp_path)
    if name == "inventory-enhancer":
        # SQLite state on the claim, one replica, never two at once
        assert str(PurePosixPath(config.state).parent) in writable
        assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"


def _quantity(text: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
    return int(text[:-2]) * units[text[-2:]] if text[-2:] in units else int(text)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_resources_leave_room_for_the_memory_alert(name):
    """The memory limit is above InventoryProcessMemoryOverLimit's threshold: the alert fires
    before the container is killed."""
    resources = container(only("Deployment", name))["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys() and {"cpu", "memory"} <= resources["limits"].keys()
    threshold = re.search(
        r"threshold PROCESS_MEMORY_BYTES = (\d+)", (ROOT / "prometheus" / "rules" / "system.alerts.yml").read_text()
    )
    assert _quantity(resources["limits"]["memory"]) > int(threshold.group(1))
    assert _quantity(resources["requests"]["memory"]) <= _quantity(resources["limits"]["memory"])


def _secret_paths(node: Any) -> list[str]:
    """Every file a config names for a secret: token_file, password_file, credentials_file, a header's file."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if (
                isinstance(value, str)
                and (key == "file" or key.endswith("_file"))
                and key not in ("ca_file", "cert_file")
            ):
                found.append(value)
            found += _secret_paths(value)
    elif isinstance(node, list):
        for value in node:
            found += _secret_paths(value)
    return found


def test_no_secret_value_in_the_manifests():
    assert not [doc for doc in OBJECTS if doc["kind"] == "Secret"], "Secrets are created by the user, not shipped"
    for name in SERVICES:
        for env in container(only("Deployment", name)).get("env", []):
            assert "value" not in env, f"{name}: env {env['name']} is a literal; take it from a Secret"
            assert "secretKeyRef" in env["valueFrom"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_secrets_are_files_of_the_mounted_secret(name):
    """Every secret file the config names lies in the mounted Secret; env secrets come from that
    same Secret; docs/deploy-kubernetes.md names the Secret and each of its keys."""
    deployment = only("Deployment", name)
    pod = deployment["spec"]["template"]["spec"]
    secret_volumes = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    mounts = {
        m["mountPath"]: secret_volumes[m["name"]]
        for m in container(deployment)["volumeMounts"]
        if m["name"] in secret_volumes
    }
    assert len(set(mounts.values())) == 1
    (secret_name,) = set(mounts.values())
    data = config_map_data(_config_map_name(deployment))
    (text,) = data.values()
    # the examples in comments count too: uncommented, they must point at the Secret as well
    paths = _secret_paths(yaml.safe_load(text)) + re.findall(r"_file:\s*(\S+)", text)
    keys = set()
    for path in paths:
        parent = str(PurePosixPath(path).parent)
        assert parent in mounts, f"{name}: {path} is not in a mounted Secret ({sorted(mounts)})"
        keys.add(PurePosixPath(path).name)
    for env in container(deployment).get("env", []):
        ref = env["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret_name
        keys.add(ref["key"])
    assert keys, f"{name}: no secret is referenced; the Secret mount would be pointless"
    docs = (ROOT / "docs" / "deploy-kubernetes.md").read_text()
    assert secret_name in docs
    for key in keys:
        assert key in docs, f"docs/deploy-kubernetes.md does not say how to provide {key}"


def _config_map_name(deployment: Json) -> str:
    (name,) = [v["configMap"]["name"] for v in deployment["spec"]["template"]["spec"]["volumes"] if "configMap" in v]
    return name


def test_config_maps_are_generated_from_the_config_files():
    """configMapGenerator: a changed config gets a new name, so the Deployment rolls out."""
    generated = {entry["name"] for entry in KUSTOMIZATION["configMapGenerator"]}
    assert generated == {_config_map_name(only("Deployment", name)) for name in SERVICES}
