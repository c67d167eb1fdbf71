#!/usr/bin/env python3
"""Runs operations with Confluent's reference client (confluent-kafka's SchemaRegistryClient)
for the interop tests: usage `confluent_client.py <registry url>`, a JSON list of operations on
standard input, a JSON list of results on standard output.

Operations:
  {"op": "register", "subject", "schema", "schemaType"?, "references"?} -> {"id"}
  {"op": "get", "id"}                -> {"schema", "schemaType", "references"}
  {"op": "latest", "subject"}        -> {"id", "version", "schema", "schemaType", "references"}
  {"op": "lookup", "subject", "schema", "schemaType"?, "references"?} -> {"id"} or {"error_code"}
References are {"name", "subject", "version"}, as in Confluent's API.
"""

import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError


def schema_of(op):
    refs = [SchemaReference(r["name"], r["subject"], r["version"]) for r in op.get("references") or []]
    return Schema(op["schema"], op.get("schemaType", "AVRO"), refs)


def described(schema):
    return {
        "schema": schema.schema_str,
        "schemaType": schema.schema_type,
        "references": [{"name": r.name, "subject": r.subject, "version": r.version} for r in schema.references or []],
    }


def run(client, op):
    kind = op["op"]
    if kind == "register":
        return {"id": client.register_schema(op["subject"], schema_of(op))}
    if kind == "get":
        return described(client.get_schema(op["id"]))
    if kind == "latest":
        registered = client.get_latest_version(op["subject"])
        return dict(described(registered.schema), id=registered.schema_id, version=registered.version)
    if kind == "lookup":
        try:
            return {"id": client.lookup_schema(op["subject"], schema_of(op)).schema_id}
        except SchemaRegistryError as e:
            return {"error_code": e.error_code, "status": e.http_status_code}
    raise ValueError("unknown op %r" % kind)


def main():
    client = SchemaRegistryClient({"url": sys.argv[1]})
    ops = json.load(sys.stdin)
    json.dump([run(client, op) for op in ops], sys.stdout)


if __name__ == "__main__":
    main()
