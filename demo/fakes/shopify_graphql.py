"""The GraphQL side of the fake Shopify: the vendored Admin API schema, Shopify's error
shape, its published cost rules and its bulk-query rules.

The schema is Shopify's own (introspected from a live store, vendored under
tests/vendor/shopify/<version>/ with its provenance in the README there), so a document
the real API would reject for an unknown field, a missing argument or a wrong type is
rejected here too, by graphql-core's standard validation.

Cost (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits): scalars and
enums 0, objects 1 (a list of objects counts once), a connection 2 plus `first` (or
`last`) times the cost of one of its nodes, interfaces and unions the most expensive
of their possible selections, a mutation 10. The requested cost is priced from the
document before execution; the actual cost from what was returned (a connection's size
is the number of nodes it returned). Shopify's live store prices some fields below the
defaults (see tests/vendor/shopify/README.md): these rules are its published upper bound.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_schema,
    get_named_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    parse,
    validate,
    value_from_ast_untyped,
)

ROOT = Path(__file__).resolve().parents[2]
VENDOR_DIR = ROOT / "tests" / "vendor" / "shopify"
# The version whose schema is vendored; the fake validates every request against it.
SCHEMA_VERSION = "2026-07"
MUTATION_COST = 10


def schema_path(version: str = SCHEMA_VERSION) -> Path:
    return VENDOR_DIR / version / "schema.graphql"


@cache
def load_schema(version: str = SCHEMA_VERSION) -> GraphQLSchema:
    """The vendored schema (about 3 s to build, so once per process).

    assume_valid: Shopify's schema deprecates some fields in implementations that the
    interface does not deprecate, which graphql-core's schema checks reject; documents
    are still validated against it in full."""
    return build_schema(schema_path(version).read_text(encoding="utf-8"), assume_valid=True)


# --- errors in Shopify's shape --------------------------------------------------------

# graphql-core's validation messages -> the codes Shopify (graphql-ruby) puts in extensions.
_CODES = [
    (re.compile(r"^Cannot query field"), "undefinedField"),
    (re.compile(r"^(Field|Argument) '.*' of type '.*' is required"), "missingRequiredArguments"),
    (re.compile(r"^Unknown argument"), "argumentNotAccepted"),
    (re.compile(r"^Variable '.*' of type '.*' used in position expecting"), "variableMismatch"),
    (re.compile(r"^Variable '.*' is never used"), "variableNotUsed"),
    (re.compile(r"^Variable '.*' is not defined"), "variableNotDefined"),
    (re.compile(r"^Unknown type"), "undefinedType"),
    (re.compile(r"must have a selection of subfields|must not have a selection"), "selectionMismatch"),
    (re.compile(r"^Unknown fragment"), "useAndDefineFragment"),
    (re.compile(r"^Fragment '.*' is never used"), "useAndDefineFragment"),
    (re.compile(r"^(Expected value|Int cannot|String cannot|Enum '.*' cannot)"), "argumentLiteralsIncompatible"),
    (re.compile(r"^Syntax Error"), "parseError"),
]


_UNDEFINED_FIELD = re.compile(r"^Cannot query field '(?P<field>\w+)' on type '(?P<type>\w+)'")
_MISSING_ARGUMENT = re.compile(r"^Argument '\w+\.(?P<field>\w+)\((?P<arg>\w+):\)' of type '.*' is required")


def _shopify_wording(message: str) -> tuple[str, dict[str, Any]]:
    """graphql-ruby's wording (Shopify's) for the two errors a typo usually causes."""
    match = _UNDEFINED_FIELD.match(message)
    if match:
        return (
            f"Field '{match['field']}' doesn't exist on type '{match['type']}'",
            {"code": "undefinedField", "typeName": match["type"], "fieldName": match["field"]},
        )
    match = _MISSING_ARGUMENT.match(message)
    if match:
        return (
            f"Field '{match['field']}' is missing required arguments: {match['arg']}",
            {
                "code": "missingRequiredArguments",
                "className": "Field",
                "name": match["field"],
                "arguments": match["arg"],
            },
        )
    return message, {}


def error_entry(error: GraphQLError, code: str | None = None) -> dict[str, Any]:
    message, extensions = _shopify_wording(error.message)
    if extensions:
        code = extensions["code"]
    entry: dict[str, Any] = {"message": message}
    if error.locations:
        entry["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        entry["path"] = list(error.path)
    if code is None:
        code = (error.extensions or {}).get("code") if error.extensions else None
    if code is None:
        code = next((c for pattern, c in _CODES if pattern.search(error.message)), "invalidQuery")
    entry["extensions"] = {**(error.extensions or {}), **extensions, "code": code}
    return entry


def check_document(query: str) -> tuple[DocumentNode | None, list[dict[str, Any]]]:
    """Parse and validate against the vendored schema: (document, []) or (None, errors)."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, [error_entry(exc, "parseError")]
    errors = validate(load_schema(), document)
    if errors:
        return None, [error_entry(e) for e in errors]
    return document, []


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((op for op in operations if op.name and op.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


# --- cost -----------------------------------------------------------------------------


class _Pricer:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]):
        self.schema = schema
        self.variables = variables
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def argument(self, node: FieldNode, name: str) -> Any:
        for arg in node.arguments or ():
            if arg.name.value == name:
                return value_from_ast_untyped(arg.value, self.variables)
        return None

    def selections(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType, data: Any) -> int:
        """Cost of a selection set on `parent`; `data` is the returned object (None: requested)."""
        if selection_set is None:
            return 0
        plain = 0
        by_condition: dict[str, int] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                plain += self.field(selection, parent, data)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition.name.value if selection.type_condition else parent.name
                inner = selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                condition, inner = fragment.type_condition.name.value, fragment.selection_set
            else:  # pragma: no cover - graphql-core has no other selection kinds
                continue
            target = self.schema.get_type(condition)
            if target is None:
                continue
            if data is not None and isinstance(data, dict) and data.get("__typename") not in (None, condition):
                if isinstance(target, GraphQLObjectType):
                    continue  # a fragment on another type selected nothing
            by_condition[condition] = by_condition.get(condition, 0) + self.selections(inner, target, data)
        # Interfaces and unions: the most expensive of the possible selections.
        return plain + (max(by_condition.values()) if by_condition else 0)

    def field(self, node: FieldNode, parent: GraphQLNamedType, data: Any) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        key = node.alias.value if node.alias else name
        value = None
        if data is not None:
            value = data.get(key) if isinstance(data, dict) else None
            if value is None:
                return 1  # resolved to null: the field was paid for, nothing under it
        if _is_connection(named):
            return self.connection(node, named, value)
        if _is_list(definition.type):
            first = value[0] if value else None
            if data is not None and first is None:
                return 1
            return 1 + self.selections(node.selection_set, named, first)
        return 1 + self.selections(node.selection_set, named, value)

    def connection(self, node: FieldNode, connection: GraphQLNamedType, value: Any) -> int:
        assert isinstance(connection, GraphQLObjectType)
        if value is None:
            size = self.argument(node, "first") or self.argument(node, "last") or 0
            return 2 + int(size) * self.node_cost(node, connection, None)
        nodes: list[Any] = list(value.get("nodes") or []) if "nodes" in value else []
        edges: list[Any] = list(value.get("edges") or []) if "edges" in value else []
        count = max(len(nodes), len(edges))
        total = 2
        for i in range(count):
            one = {
                "nodes": [nodes[i]] if i < len(nodes) else [],
                "edges": [edges[i]] if i < len(edges) else [],
            }
            total += self.node_cost(node, connection, one)
        return total

    def node_cost(self, node: FieldNode, connection: GraphQLObjectType, one: dict[str, Any] | None) -> int:
        """One node of a connection, as selected through `nodes` and/or `edges { node }`."""
        cost = 0
        for selection in _fields(node.selection_set, self.fragments):
            if selection.name.value == "nodes":
                node_type = get_named_type(connection.fields["nodes"].type)
                item = None if one is None else ((one.get("nodes") or [None])[0])
                if one is not None and item is None:
                    continue
                cost += 1 + self.selections(selection.selection_set, node_type, item)
            elif selection.name.value == "edges":
                edge_type = get_named_type(connection.fields["edges"].type)
                assert isinstance(edge_type, GraphQLObjectType)
                edge = None if one is None else ((one.get("edges") or [None])[0])
                if one is not None and edge is None:
                    continue
                for inner in _fields(selection.selection_set, self.fragments):
                    if inner.name.value == "node":
                        node_type = get_named_type(edge_type.fields["node"].type)
                        inner_key = inner.alias.value if inner.alias else "node"
                        item = None if edge is None else edge.get(inner_key)
                        cost += 1 + self.selections(inner.selection_set, node_type, item)
        return cost


def _fields(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]) -> list[FieldNode]:
    out: list[FieldNode] = []
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            out.extend(_fields(selection.selection_set, fragments))
        elif isinstance(selection, FragmentSpreadNode):
            out.extend(_fields(fragments[selection.name.value].selection_set, fragments))
    return out


def _is_connection(named: GraphQLNamedType) -> bool:
    return (
        isinstance(named, GraphQLObjectType)
        and named.name.endswith("Connection")
        and "pageInfo" in named.fields
        and ("edges" in named.fields or "nodes" in named.fields)
    )


def _is_list(type_: Any) -> bool:
    return is_list_type(type_.of_type if is_non_null_type(type_) else type_)


def query_cost(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
    data: dict[str, Any] | None = None,
) -> int:
    """Requested cost (data None) or actual cost (data: the result) by the published rules."""
    schema = load_schema()
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST * sum(1 for s in operation.selection_set.selections if isinstance(s, FieldNode))
    root = schema.query_type
    assert root is not None
    pricer = _Pricer(schema, document, variables)
    return pricer.selections(operation.selection_set, root, data if data is not None else None)


# --- bulk operations ------------------------------------------------------------------


def bulk_query_problems(query: str) -> list[str]:
    """Why Shopify would refuse `query` in bulkOperationRunQuery (messages as its store
    answers them: fixtures bulk-operation-run-query-validators/-user-error-codes in
    airhorns/shopify-draft-proxy, see tests/vendor/shopify/README.md)."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return [f"Invalid bulk query: {exc.message}"]
    errors = validate(load_schema(), document)
    if errors:
        return [f"Invalid bulk query: {errors[0].message}"]
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation != OperationType.QUERY:
        return ["Invalid operation type. Only `query` operations are supported."]
    schema = load_schema()
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    problems: list[str] = []
    top = _fields(operations[0].selection_set, fragments)
    if any(f.name.value in ("node", "nodes") for f in top):
        problems.append("Bulk queries cannot contain a top level `node` field.")
    found: list[tuple[str, int]] = []
    nodes_selected: list[str] = []
    without_id: list[str] = []
    in_list: list[str] = []

    def walk(selection_set: SelectionSetNode | None, parent: GraphQLNamedType, depth: int, under_list: bool) -> None:
        if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)):
            return
        for node in _fields(selection_set, fragments):
            if isinstance(parent, GraphQLUnionType) or node.name.value.startswith("__"):
                continue
            definition = parent.fields.get(node.name.value)
            if definition is None:
                continue
            named = get_named_type(definition.type)
            if _is_connection(named):
                assert isinstance(named, GraphQLObjectType)
                found.append((node.name.value, depth + 1))
                if under_list:
                    in_list.append(node.name.value)
                inner = _fields(node.selection_set, fragments)
                if any(f.name.value == "nodes" for f in inner):
                    nodes_selected.append(node.name.value)
                for edges in (f for f in inner if f.name.value == "edges"):
                    edge_type = get_named_type(named.fields["edges"].type)
                    assert isinstance(edge_type, GraphQLObjectType)
                    for item in (f for f in _fields(edges.selection_set, fragments) if f.name.value == "node"):
                        node_type = get_named_type(edge_type.fields["node"].type)
                        item_fields = _fields(item.selection_set, fragments)
                        has_id = any(f.name.value == "id" and f.alias is None for f in item_fields)
                        has_nested = _has_connection(item.selection_set, node_type, schema, fragments)
                        if has_nested and not has_id:
                            without_id.append(node.name.value)
                        walk(item.selection_set, node_type, depth + 1, under_list)
            elif not is_leaf_type(named):
                walk(node.selection_set, named, depth, under_list or _is_list(definition.type))

    root = schema.query_type
    assert root is not None
    walk(operations[0].selection_set, root, 0, False)
    if not found:
        problems.append("Bulk queries must contain at least one connection.")
    if nodes_selected:
        problems.append(
            "All connection fields in a bulk query must select their contents using 'edges' > 'node', e.g: "
            f"'{nodes_selected[0]} {{ edges {{ node {{'. Selecting via 'nodes' is not supported. "
            f"Invalid connection fields: {', '.join(repr(n) for n in nodes_selected)}."
        )
    if len(found) > 5:
        problems.append("Bulk queries cannot contain more than 5 connections.")
    if any(depth > 2 for _, depth in found):
        problems.append("Bulk queries cannot contain connections with a nesting depth greater than 2.")
    if without_id:
        problems.append(
            "The parent 'node' field for a nested connection must select the 'id' field without an alias "
            f"and must be of 'ID' return type. Connection fields without 'id': {', '.join(without_id)}."
        )
    if in_list:
        problems.append("Queries that contain a connection field within a list field are not currently supported.")
    return problems


def _has_connection(
    selection_set: SelectionSetNode | None,
    parent: GraphQLNamedType,
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
) -> bool:
    if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
        return False
    for node in _fields(selection_set, fragments):
        definition = parent.fields.get(node.name.value)
        if definition is None:
            continue
        named = get_named_type(definition.type)
        if _is_connection(named):
            return True
        if not is_leaf_type(named) and _has_connection(node.selection_set, named, schema, fragments):
            return True
    return False
