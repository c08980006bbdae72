"""How MongoDB-wire operations by `_id` scale with collection size on the configured server.

    python benchmarks/ferretdb_lookups.py [--sizes 200,5000,20000]

Prints milliseconds per operation. On FerretDB as this project builds it (patched, see
score_devenv/ferretdb.py) lookups, updates and deletes by `_id` stay near 1 ms at any size;
a query on any other field still reads the whole collection, which is why hot paths here
address documents by `_id` only.
"""
from __future__ import annotations

import argparse
import os
import time
import uuid

import pymongo


def per_op_ms(fn, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        fn(i)
    return (time.perf_counter() - started) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", default=os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/"))
    parser.add_argument("--sizes", default="200,5000,20000")
    args = parser.parse_args()
    client = pymongo.MongoClient(args.uri)
    database = client[f"bench_lookups_{uuid.uuid4().hex[:6]}"]
    print(f"server: {args.uri} ({client.server_info().get('version')})")
    print(f"{'documents':>10} {'find _id':>9} {'find _id+v':>11} {'update _id':>11} "
          f"{'delete _id':>11} {'find field':>11}   (ms per operation)")
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            collection = database[f"c{size}"]
            collection.insert_many([{"_id": f"d{i}", "version": 1, "k": i, "body": "x" * 800}
                                    for i in range(size)])
            # Probe the far end of the table: a scan would have to read all of it.
            last = [f"d{size - 1 - i}" for i in range(100)]
            row = (
                per_op_ms(lambda i: collection.find_one({"_id": last[i]}), 100),
                per_op_ms(lambda i: collection.find_one({"_id": last[i], "version": 1}), 100),
                per_op_ms(lambda i: collection.update_one({"_id": last[i]},
                                                          {"$set": {"v": 2}}), 100),
                per_op_ms(lambda i: collection.delete_one({"_id": last[i]}), 100),
                per_op_ms(lambda i: collection.find_one({"k": -1}), 5),
            )
            print(f"{size:>10} " + " ".join(f"{v:>11.2f}" for v in row))
    finally:
        client.drop_database(database.name)


if __name__ == "__main__":
    main()
