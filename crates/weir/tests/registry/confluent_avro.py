#!/usr/bin/env python3
"""Writes and reads Avro records with Confluent's reference serdes (confluent-kafka's
AvroSerializer and AvroDeserializer) through a schema registry, for the end-to-end tests of
`weir run` with an HTTP registry (registry_run.rs).

Usage: confluent_avro.py <registry url> <topic> serialize|deserialize
  serialize:   stdin {"schema": <Avro schema text>, "records": [<record>, ...]}
               stdout [<hex of the framed bytes>, ...] (the schema is auto-registered under
               <topic>-value, as the serializer does by default)
  deserialize: stdin [<hex of framed bytes>, ...]
               stdout [<record>, ...] (the writer's schema fetched from the registry by id)
"""

import json
import sys

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext


def main():
    url, topic, op = sys.argv[1:4]
    client = SchemaRegistryClient({"url": url})
    ctx = SerializationContext(topic, MessageField.VALUE)
    job = json.load(sys.stdin)
    if op == "serialize":
        serializer = AvroSerializer(client, job["schema"])
        out = [serializer(record, ctx).hex() for record in job["records"]]
    elif op == "deserialize":
        deserializer = AvroDeserializer(client)
        out = [deserializer(bytes.fromhex(h), ctx) for h in job]
    else:
        raise SystemExit("unknown operation %r" % op)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
