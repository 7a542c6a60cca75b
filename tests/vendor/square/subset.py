"""Cut the vendored api.json out of Square's full OpenAPI document (see README.md).

    python tests/vendor/square/subset.py FULL_API_JSON > tests/vendor/square/api.json

Keeps the operations the connector and the fake use, every schema they reach through
`$ref`, and Error/ErrorCategory/ErrorCode; everything kept is byte-for-byte Square's
text (re-serialised with two-space indentation), nothing is edited.
"""

from __future__ import annotations

import json
import sys
from typing import Any

OPERATIONS = {
    "/v2/locations": ["get"],
    "/v2/inventory/counts/batch-retrieve": ["post"],
    "/v2/catalog/batch-retrieve": ["post"],
}
ALWAYS = ["Error", "ErrorCategory", "ErrorCode"]
TOP_LEVEL = ["openapi", "info", "servers", "x-fern-global-headers"]


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node)) if node else set()
    return set()


def subset(full: dict[str, Any]) -> dict[str, Any]:
    paths = {path: {m: full["paths"][path][m] for m in methods} for path, methods in OPERATIONS.items()}
    schemas = full["components"]["schemas"]
    wanted: set[str] = set(ALWAYS)
    todo = [*ALWAYS, *(ref.rsplit("/", 1)[1] for ref in _refs(paths))]
    while todo:
        name = todo.pop()
        wanted.add(name)
        for ref in _refs(schemas[name]):
            prefix, _, target = ref.rpartition("/")
            if prefix != "#/components/schemas":
                raise SystemExit(f"unexpected $ref {ref}")
            if target not in wanted:
                todo.append(target)
    out = {key: full[key] for key in TOP_LEVEL if key in full}
    out["paths"] = paths
    out["components"] = {
        "securitySchemes": full["components"]["securitySchemes"],
        "schemas": {name: schemas[name] for name in schemas if name in wanted},
    }
    return out


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as source:
        json.dump(subset(json.load(source)), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
