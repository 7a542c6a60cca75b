"""ERPNext's MariaDB tables, built from the vendored DocType JSON the way Frappe builds them.

Frappe creates one table `tab<DocType name>` per DocType from the DocType's JSON file:
standard columns first, then one column per field whose fieldtype has a database type,
then the indexes. This module repeats that, with nothing added: a column exists here
only because the JSON defines the field (or Frappe adds it to every table). What
follows Frappe's code is cited with the file and commit it was read from (frappe/frappe,
MIT licence; see SOURCE.md). Only the DDL rules are reproduced, no Frappe code is used.

Not reproduced: indexes that ERPNext adds from Python (`on_doctype_update()` hooks, e.g.
Bin's unique (item_code, warehouse)) and Frappe's own tables (tabDocType, tabSingles...):
neither is in the DocType JSON, and no statement of the preset needs them to exist.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

DOCTYPES = Path(__file__).resolve().parent / "doctypes"

# Frappe's MariaDB type map: fieldtype -> (column type, size).
# Source: frappe/frappe frappe/database/mariadb/database.py, MariaDBDatabase.setup_type_map,
# commit 006ebcbedeb41fb21babf0a6c11a709a0a3525eb. VARCHAR_LEN is 140
# (frappe/database/database.py, Database.VARCHAR_LEN, commit 0019bbc2636770e0cabcd6f0911b2dd9b40e4ae0).
#
# | fieldtype        | MariaDB type  |   | fieldtype      | MariaDB type  |
# | ---------------- | ------------- | - | -------------- | ------------- |
# | Currency         | decimal(21,9) |   | Data           | varchar(140)  |
# | Int              | int(11)       |   | Link           | varchar(140)  |
# | Long Int         | bigint(20)    |   | Dynamic Link   | varchar(140)  |
# | Float            | decimal(21,9) |   | Password       | text          |
# | Percent          | decimal(21,9) |   | Select         | varchar(140)  |
# | Check            | int(1)        |   | Rating         | decimal(3,2)  |
# | Small Text       | text          |   | Read Only      | varchar(140)  |
# | Long Text        | longtext      |   | Attach         | text          |
# | Code             | longtext      |   | Attach Image   | text          |
# | Text Editor      | longtext      |   | Signature      | longtext      |
# | Markdown Editor  | longtext      |   | Color          | varchar(140)  |
# | HTML Editor      | longtext      |   | Barcode        | longtext      |
# | Date             | date          |   | Geolocation    | longtext      |
# | Datetime         | datetime(6)   |   | Duration       | decimal(21,9) |
# | Time             | time(6)       |   | Icon           | varchar(140)  |
# | Text             | text          |   | Phone          | varchar(140)  |
# | Autocomplete     | varchar(140)  |   | JSON           | json          |
#
# Every other fieldtype (Section Break, Column Break, Tab Break, HTML, Button, Image,
# Fold, Heading, and the child-table fields Table and Table MultiSelect) is not in the
# map, so Frappe's get_definition() returns nothing and the field has no column.
VARCHAR_LEN = 140
TYPE_MAP: dict[str, tuple[str, str]] = {
    "Currency": ("decimal", "21,9"),
    "Int": ("int", "11"),
    "Long Int": ("bigint", "20"),
    "Float": ("decimal", "21,9"),
    "Percent": ("decimal", "21,9"),
    "Check": ("int", "1"),
    "Small Text": ("text", ""),
    "Long Text": ("longtext", ""),
    "Code": ("longtext", ""),
    "Text Editor": ("longtext", ""),
    "Markdown Editor": ("longtext", ""),
    "HTML Editor": ("longtext", ""),
    "Date": ("date", ""),
    "Datetime": ("datetime", "6"),
    "Time": ("time", "6"),
    "Text": ("text", ""),
    "Data": ("varchar", str(VARCHAR_LEN)),
    "Link": ("varchar", str(VARCHAR_LEN)),
    "Dynamic Link": ("varchar", str(VARCHAR_LEN)),
    "Password": ("text", ""),
    "Select": ("varchar", str(VARCHAR_LEN)),
    "Rating": ("decimal", "3,2"),
    "Read Only": ("varchar", str(VARCHAR_LEN)),
    "Attach": ("text", ""),
    "Attach Image": ("text", ""),
    "Signature": ("longtext", ""),
    "Color": ("varchar", str(VARCHAR_LEN)),
    "Barcode": ("longtext", ""),
    "Geolocation": ("longtext", ""),
    "Duration": ("decimal", "21,9"),
    "Icon": ("varchar", str(VARCHAR_LEN)),
    "Phone": ("varchar", str(VARCHAR_LEN)),
    "Autocomplete": ("varchar", str(VARCHAR_LEN)),
    "JSON": ("json", ""),
}

# Columns every table gets from CREATE TABLE itself; a field of the same name adds none
# (frappe/database/schema.py DBTable.get_column_definitions skips frappe.db.DEFAULT_COLUMNS).
STANDARD_COLUMNS = ("name", "creation", "modified", "modified_by", "owner", "docstatus", "idx")
CHILD_TABLE_COLUMNS = ("parent", "parentfield", "parenttype")
# Added as Text columns to every table that is not a child table
# (frappe/database/database.py Database.OPTIONAL_COLUMNS; DBTable.get_columns_from_docfields),
# plus _seen when the DocType has track_seen.
OPTIONAL_COLUMNS = ("_user_tags", "_comments", "_assign", "_liked_by")

# frappe/database/schema.py, commit 030cb71ed43131850198da22c16a5359c84224ae
NOT_NULL_TYPES = ("Check", "Int", "Currency", "Float", "Percent")
DECIMAL_TYPES = ("Currency", "Float", "Percent")
# Defaults Frappe resolves per document, never written into the DDL (Database.DEFAULT_SHORTCUTS).
DYNAMIC_DEFAULTS = ("_Login", "__user", "_Full Name", "Today", "__today", "now", "Now")


def _cint(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _flt(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _escape(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def column_type(fieldtype: str, length: Any = None, precision: Any = None) -> str | None:
    """frappe/database/schema.py get_definition(): the SQL type, or None for no column."""
    mapped = TYPE_MAP.get(fieldtype)
    if mapped is None:
        return None
    if fieldtype == "Int" and length and _cint(length) > 11:
        mapped = TYPE_MAP["Long Int"]
    coltype, size = mapped
    if size:
        if fieldtype in DECIMAL_TYPES:
            width = _cint(length) if length else 21
            scale = _cint(precision) if precision not in (None, "") else 9
            size = f"{width},{min(scale, width)}"
        if length:
            if coltype == "varchar":
                size = str(max(_cint(length), 64))
            elif coltype == "int" and _cint(length) < 11:
                size = str(_cint(length))
    return f"{coltype}({size})" if size else coltype


def column_definition(field: dict) -> str | None:
    """frappe/database/schema.py DbColumn.get_definition(): type, NOT NULL, DEFAULT, UNIQUE."""
    fieldtype = field["fieldtype"]
    sql = column_type(fieldtype, field.get("length"), field.get("precision"))
    if sql is None:
        return None
    null = fieldtype not in NOT_NULL_TYPES
    default: Any = None
    raw_default = field.get("default")
    if fieldtype in ("Check", "Int"):
        default = _cint(raw_default)
    elif fieldtype in DECIMAL_TYPES:
        default = _flt(raw_default)
    elif raw_default and raw_default not in DYNAMIC_DEFAULTS and not str(raw_default).startswith(":"):
        default = _escape(raw_default)
    if field.get("not_nullable") and null:
        raise NotImplementedError(f"{field['fieldname']}: not_nullable is not used by the vendored DocTypes")
    if not null:
        sql += " NOT NULL"
    if default is not None:
        sql += f" DEFAULT {default}"
    if field.get("unique") and TYPE_MAP[fieldtype][0] not in ("text", "longtext"):
        sql += " UNIQUE"
    return sql


def value_fields(doctype: dict) -> list[dict]:
    """The fields that get a column, in the JSON's order; virtual fields have none."""
    fields = [f for f in doctype["fields"] if not f.get("is_virtual")]
    if not doctype.get("istable"):
        fields += [{"fieldname": name, "fieldtype": "Text"} for name in OPTIONAL_COLUMNS]
        if doctype.get("track_seen"):
            fields.append({"fieldname": "_seen", "fieldtype": "Text"})
    return fields


def table_name(doctype: dict) -> str:
    return f"tab{doctype['name']}"


def create_table_sql(doctype: dict) -> str:
    """frappe/database/mariadb/schema.py MariaDBTable.create(), commit
    071e269548d182700498f44791772205a2cf47ab."""
    definitions: list[str] = []
    columns: dict[str, dict] = {}
    for field in value_fields(doctype):
        name = field["fieldname"]
        if name in STANDARD_COLUMNS or name in columns:
            continue
        sql = column_definition(field)
        if sql:
            definitions.append(f"`{name}` {sql}")
            columns[name] = field
    for name, field in columns.items():  # DBTable.get_index_definitions
        base_type = TYPE_MAP[field["fieldtype"]][0]
        if field.get("search_index") and not field.get("unique") and base_type not in ("text", "longtext"):
            definitions.append(f"index `{name}`(`{name}`)")
    if doctype.get("istable"):
        definitions += [
            f"parent varchar({VARCHAR_LEN})",
            f"parentfield varchar({VARCHAR_LEN})",
            f"parenttype varchar({VARCHAR_LEN})",
            "index parent(parent)",
        ]
    else:
        definitions.append("index creation(creation)")
    name_column = f"name varchar({VARCHAR_LEN}) primary key"
    if doctype.get("autoname") == "autoincrement":
        name_column = "name bigint primary key"
    body = ",\n".join(definitions)
    return (
        f"create table `{table_name(doctype)}` (\n{name_column},\ncreation datetime(6),\nmodified datetime(6),\n"
        f"modified_by varchar({VARCHAR_LEN}),\nowner varchar({VARCHAR_LEN}),\n"
        f"docstatus int(1) not null default '0',\nidx int(8) not null default '0',\n{body})\n"
        f"ENGINE={doctype.get('engine') or 'InnoDB'}\nROW_FORMAT=DYNAMIC\n"
        f"CHARACTER SET=utf8mb4\nCOLLATE=utf8mb4_unicode_ci"
    )


def load_doctypes() -> list[dict]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(DOCTYPES.glob("*.json"))]


def columns_of(doctype: dict) -> list[str]:
    """Every column Frappe gives the DocType's table, standard ones included."""
    names = list(STANDARD_COLUMNS)
    for field in value_fields(doctype):
        if field["fieldname"] not in names and column_definition(field):
            names.append(field["fieldname"])
    if doctype.get("istable"):
        names += list(CHILD_TABLE_COLUMNS)
    return names


def create_schema(execute: Callable[[str], Any]) -> dict[str, list[str]]:
    """Create every vendored DocType's table through `execute(sql)`; {table: columns}."""
    tables = {}
    for doctype in load_doctypes():
        execute(create_table_sql(doctype))
        tables[table_name(doctype)] = columns_of(doctype)
    return tables
