"""Odoo 18.0's PostgreSQL tables for the models in models.json, created the way Odoo's ORM creates them.

Odoo publishes no DDL: at module installation the ORM creates each model's table from
its field declarations. This module repeats that, for the fields extracted into
models.json, following Odoo 18.0's own code (repository odoo/odoo at the commit named in
models.json; line numbers are those of that version):

| what | Odoo 18.0 source | here |
| --- | --- | --- |
| table name: `_name` with dots as underscores | odoo/models.py#L815 (`_build_model_attributes`) | `table` in models.json |
| `CREATE TABLE t (id SERIAL NOT NULL, <columns>, PRIMARY KEY(id))` | odoo/tools/sql.py#L265 (`create_model_table`) | `_create_table` |
| a column is `<type> NOT NULL` when the field is required | odoo/models.py#L3441 (`_auto_init`, `make_type`) | `_create_table` |
| columns ordered by type for alignment | odoo/tools/sql.py#L252 (`SQL_ORDER_BY_TYPE`) | `COLUMN_ORDER` |
| magic columns `create_uid`, `create_date`, `write_uid`, `write_date` (`_log_access`, default `_auto`) | odoo/models.py#L285-L293 (`MetaModel.__init__`) | `MAGIC_FIELDS` |
| column type of each field class, jsonb when translated or company-dependent | odoo/fields.py (table below) | `column_type` |
| many2one foreign key `ON DELETE` (default `restrict` when required, else `set null`; none for company-dependent fields) | odoo/fields.py#L3189-L3197, #L3221 (`Many2one.setup_nonrelated`, `update_db_foreign_key`), odoo/tools/sql.py#L476 | `_foreign_keys` |
| index `<table>__<column>_index`: btree, `WHERE col IS NOT NULL` for `btree_not_null`, GIN trigram only when the database has pg_trgm's `word_similarity`, none for translated fields but trigram | odoo/modules/registry.py#L629-L679 (`check_indexes`), odoo/modules/db.py#L173 (`has_trigram`), odoo/tools/sql.py#L548, #L717-L731 | `_indexes` |
| `_sql_constraints`: `ALTER TABLE t ADD CONSTRAINT t_<name> <definition>` | odoo/models.py#L3502 (`_add_sql_constraints`), odoo/tools/sql.py#L442 | `_constraints` |
| indexes created by a model's `init()` | the model's file (`init_indexes` in models.json) | `_init_indexes` |

Column types (odoo/fields.py, 18.0):

| field class | column | source |
| --- | --- | --- |
| any field with `translate` or `company_dependent` | `jsonb` | odoo/fields.py#L772-L774 (`Field.column_type`) |
| Boolean | `bool` | odoo/fields.py#L1504 |
| Integer | `int4` | odoo/fields.py#L1524 |
| Float | `numeric` when `digits` is given (even 0), else `double precision` (float8) | odoo/fields.py#L1617-L1624 |
| Monetary | `numeric` | odoo/fields.py#L1685 |
| Char | `VARCHAR(size)`, `VARCHAR` without size | odoo/fields.py#L2059-L2061, odoo/tools/sql.py#L594 (`pg_varchar`) |
| Text, Html | `text` | odoo/fields.py#L2091, #L2112 |
| Date | `date` | odoo/fields.py#L2253 |
| Datetime | `timestamp` (without time zone; Odoo stores UTC) | odoo/fields.py#L2359 |
| Selection | `VARCHAR` | odoo/fields.py#L2821 |
| Many2one | `int4` | odoo/fields.py#L3164 |

What is left out, on purpose: the many columns of other fields and modules that the
preset neither reads nor has to fill (a real database has them; the statements never
name them), the tables of models the preset does not read (res_partner, res_users,
uom_uom, product_category, ...: a many2one to them is a plain int4 column here, with no
foreign key since there is no table to reference), column and table comments, and Odoo's
`ir_*` reflection rows. Boolean columns get no DEFAULT (odoo/tools/sql.py#L322 adds
`DEFAULT false` only for a type spelled BOOLEAN, and Odoo spells it bool).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

MODELS_JSON = Path(__file__).with_name("models.json")

# odoo/tools/sql.py#L252: SQL_ORDER_BY_TYPE, 16 for any other type.
COLUMN_ORDER = {
    "int4": 1,
    "varchar": 2,
    "date": 3,
    "jsonb": 4,
    "text": 5,
    "numeric": 6,
    "bool": 7,
    "timestamp": 8,
    "float8": 9,
}

# odoo/models.py#L285-L293: added to every model with _log_access (default: _auto).
MAGIC_FIELDS = [
    {"name": "create_uid", "type": "many2one", "relation": "res.users"},
    {"name": "create_date", "type": "datetime"},
    {"name": "write_uid", "type": "many2one", "relation": "res.users"},
    {"name": "write_date", "type": "datetime"},
]

_FIXED = {
    "boolean": ("bool", "bool"),
    "integer": ("int4", "int4"),
    "monetary": ("numeric", "numeric"),
    "text": ("text", "text"),
    "html": ("text", "text"),
    "date": ("date", "date"),
    "datetime": ("timestamp", "timestamp"),
    "selection": ("varchar", "VARCHAR"),
    "many2one": ("int4", "int4"),
}


def load_models(path: Path = MODELS_JSON) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))["models"]


def column_type(field: dict) -> tuple[str, str]:
    """(udt name, DDL type) of a stored field, as odoo/fields.py 18.0 computes `column_type`."""
    if field.get("translate") or field.get("company_dependent"):
        return ("jsonb", "jsonb")
    kind = field["type"]
    if kind == "float":
        return (
            ("numeric", "numeric")
            if "digits" in field and field["digits"] is not None
            else ("float8", "double precision")
        )
    if kind == "char":
        size = field.get("size")
        return ("varchar", f"VARCHAR({size})" if size else "VARCHAR")
    return _FIXED[kind]


def make_identifier(identifier: str) -> str:
    """odoo/tools/sql.py#L717: PostgreSQL's 63-character limit, with a crc32 suffix."""
    if len(identifier) > 63:
        return f"{identifier[:54]}_{zlib.crc32(identifier.encode()):08x}"
    return identifier


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def stored_fields(model: dict) -> list[dict]:
    """The model's columns but id: its declared fields, then the magic ones it does not declare."""
    declared = {f["name"] for f in model["fields"]}
    magic = [] if model.get("log_access") is False else [f for f in MAGIC_FIELDS if f["name"] not in declared]
    return list(model["fields"]) + magic


def _create_table(model: dict) -> str:
    columns = sorted(stored_fields(model), key=lambda f: COLUMN_ORDER.get(column_type(f)[0], 16))
    specs = ["id SERIAL NOT NULL"]
    for field in columns:
        specs.append(
            f"{_quote(field['name'])} {column_type(field)[1]}" + (" NOT NULL" if field.get("required") else "")
        )
    specs.append("PRIMARY KEY(id)")
    return f"CREATE TABLE {_quote(model['table'])} ({', '.join(specs)})"


def _constraints(model: dict) -> list[str]:
    return [
        f"ALTER TABLE {_quote(model['table'])} ADD CONSTRAINT {_quote(make_identifier(model['table'] + '_' + c['name']))} "
        f"{c['definition']}"
        for c in model.get("sql_constraints", [])
    ]


def _ondelete(field: dict) -> str:
    if field.get("ondelete"):
        return field["ondelete"]
    if field.get("related"):  # a related field is not set up as a plain many2one: update_db_foreign_key's 'set null'
        return "set null"
    return "restrict" if field.get("required") else "set null"


def _foreign_keys(model: dict, tables: dict[str, str]) -> list[str]:
    out = []
    for field in stored_fields(model):
        if field["type"] != "many2one" or field.get("company_dependent"):
            continue
        target = tables.get(field["relation"])
        if target is None:  # a model this schema does not build: no table to reference
            continue
        out.append(
            f"ALTER TABLE {_quote(model['table'])} ADD FOREIGN KEY ({_quote(field['name'])}) "
            f"REFERENCES {_quote(target)}(id) ON DELETE {_ondelete(field)}"
        )
    return out


def _indexes(model: dict, has_trigram: bool) -> list[str]:
    out = []
    table = model["table"]
    for field in stored_fields(model):
        index = field.get("index")
        if not index:
            continue
        assert index in ("btree", "btree_not_null", "trigram", True), (table, field["name"], index)
        if not ((not field.get("translate") and index != "trigram") or (index == "trigram" and has_trigram)):
            continue
        name = make_identifier(f"{table}__{field['name']}_index")
        column = _quote(field["name"])
        if index == "trigram":
            if field.get("translate"):
                column = f"(jsonb_path_query_array({column}, '$.*')::text)"
            expression, method, where = f"{column} gin_trgm_ops", "gin", ""
        elif index == "btree_not_null" and field.get("company_dependent"):
            expression, method, where = f"({column} IS NOT NULL)", "btree", f"{column} IS NOT NULL"
        else:
            expression, method = column, "btree"
            where = f"{column} IS NOT NULL" if index == "btree_not_null" else ""
        out.append(
            f"CREATE INDEX {_quote(name)} ON {_quote(table)} USING {method} ({expression})"
            + (f" WHERE {where}" if where else "")
        )
    return out


def _init_indexes(model: dict) -> list[str]:
    return [item["sql"] for item in model.get("init_indexes", [])]


def ddl(models: dict | None = None, has_trigram: bool = False) -> list[str]:
    """Every statement, in the ORM's order: tables, constraints, then foreign keys and indexes."""
    models = load_models() if models is None else models
    tables = {name: model["table"] for name, model in models.items()}
    statements = [_create_table(m) for m in models.values()]
    for m in models.values():
        statements += _constraints(m)
    for m in models.values():
        statements += _foreign_keys(m, tables)
    for m in models.values():
        statements += _indexes(m, has_trigram) + _init_indexes(m)
    return statements


if __name__ == "__main__":  # print the DDL, e.g. to read it or to build a scratch database
    print(";\n".join(ddl()) + ";")
