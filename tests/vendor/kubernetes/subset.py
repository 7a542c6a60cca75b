"""Cut the vendored Kubernetes schemas out of kubernetes-validate's v1.30.0-local-strict set
(see README.md).

    python tests/vendor/kubernetes/subset.py SCHEMA_DIR tests/vendor/kubernetes/v1.30.0-local-strict

SCHEMA_DIR is kubernetes_validate/kubernetes-json-schema/v1.30.0-local-strict of the wheel.
The kind files (KINDS) are copied byte for byte; `_definitions.json` keeps only the
definitions those kinds reach through `$ref` (each one as upstream wrote it, re-serialised
with two-space indentation), so the copy here is a few hundred KiB instead of 1.2 MiB.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

# The kinds deploy/kubernetes/ uses (tests/deploy/test_kubernetes.py names them too).
KINDS = [
    "configmap-v1.json",
    "deployment-apps-v1.json",
    "namespace-v1.json",
    "persistentvolumeclaim-v1.json",
    "secret-v1.json",
    "service-v1.json",
]
DEFINITIONS = "_definitions.json"
_PREFIX = "/api/_definitions.json#/$defs/"
_LOCAL_PREFIX = "#/$defs/"


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node)) if node else set()
    return set()


def _name(ref: str) -> str:
    for prefix in (_PREFIX, _LOCAL_PREFIX):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    raise SystemExit(f"unexpected $ref {ref!r}")


def subset(source: Path, target: Path) -> None:
    definitions = json.loads((source / DEFINITIONS).read_text())
    todo = [_name(ref) for kind in KINDS for ref in _refs(json.loads((source / kind).read_text()))]
    wanted: set[str] = set()
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        todo.extend(_name(ref) for ref in _refs(definitions["$defs"][name]))
    kept = dict(definitions)
    kept["$defs"] = {name: definitions["$defs"][name] for name in sorted(wanted)}
    target.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        shutil.copyfile(source / kind, target / kind)
    (target / DEFINITIONS).write_text(json.dumps(kept, indent=2, ensure_ascii=False) + "\n")
    print(f"{len(KINDS)} kinds, {len(wanted)} of {len(definitions['$defs'])} definitions", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    subset(Path(sys.argv[1]), Path(sys.argv[2]))
