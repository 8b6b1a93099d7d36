"""moto's AWS emulator, served the way AWS serves it: each DynamoDB request atomic, and
connections kept alive.

1. DynamoDB requests one at a time. moto undoes a failed TransactWriteItems by putting back
   a copy of each table that it took when the transaction began (moto 5.2.5,
   moto/dynamodb/models/__init__.py, `transact_write_items`). Its server is threaded, so
   every write that another request made to those tables in between is silently undone: an
   order acknowledged with a 201 later reads as 404, and an SMS already recorded as sent
   comes back to the outbox. On AWS each DynamoDB request is atomic. Serialising DynamoDB
   requests gives moto that property; S3 and Secrets Manager stay concurrent.
2. Keep-alive. `moto_server` runs on Werkzeug's development server, which answers every
   request with `Connection: close` (werkzeug/serving.py: "Always close the connection"),
   so every SDK call would open a new TCP connection. AWS endpoints keep connections open
   and the SDK reuses them; waitress (a production WSGI server) does the same here, so the
   services' connection handling is exercised, and measured by bench/, as in production.
   `GET /__emulator/stats` says how many connections were accepted and how many requests
   each AWS operation got, so tests and the bench can check that clients reuse
   connections and count the calls a route makes.
3. Capacity. moto answers a constant `ConsumedCapacity`; each DynamoDB request is metered
   here instead (emulator_capacity.py): items read, and read and write units computed
   from the items' sizes as DynamoDB bills them, per table and operation, in the same
   `GET /__emulator/stats` (`dynamodb`).

    python emulator_server.py -H 127.0.0.1 -p 4566
"""

import argparse
import collections
import json
import threading
import urllib.parse

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress.channel import HTTPChannel
from waitress.server import create_server

import emulator_capacity

STATS_PATH = "/__emulator/stats"
# Items and bytes per table and index (`?prefix=` narrows): what storage DynamoDB bills.
SIZES_PATH = "/__emulator/sizes"


class Stats:
    """Connections accepted and requests per operation, since the start."""

    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = collections.Counter()

    def connection(self):
        with self.lock:
            self.connections += 1

    def request(self, environ):
        # DynamoDB and Secrets Manager name the operation in X-Amz-Target; S3 by method.
        operation = environ.get("HTTP_X_AMZ_TARGET") or "S3." + environ["REQUEST_METHOD"]
        with self.lock:
            self.requests[operation] += 1

    def json(self):
        with self.lock:
            counts = {"connections_accepted": self.connections, "requests": self.requests}
        return json.dumps({**counts, "dynamodb": meter.snapshot()}).encode()


stats = Stats()
meter = emulator_capacity.Meter()


class CountingChannel(HTTPChannel):
    def __init__(self, *args, **kwargs):
        stats.connection()
        super().__init__(*args, **kwargs)


class Emulator:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == STATS_PATH and environ["REQUEST_METHOD"] == "GET":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [stats.json()]
        if environ.get("PATH_INFO") == SIZES_PATH and environ["REQUEST_METHOD"] == "GET":
            prefix = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("prefix", [""])[0]
            with self.lock:
                sizes = emulator_capacity.table_sizes(prefix)
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(sizes).encode()]
        stats.request(environ)
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return self.app(environ, start_response)
        with self.lock:
            # The whole answer is produced under the lock: moto builds it eagerly.
            return meter.call(self.app, environ, start_response)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args()
    emulator_capacity.install()
    app = DomainDispatcherApplication(create_backend_app)
    server = create_server(
        Emulator(app),
        host=args.host,
        port=args.port,
        # Test suites run many requests at once; S3 and Secrets Manager run in parallel.
        threads=16,
        # Tests cut and restore the emulator through proxies; no one waits on a dead peer.
        channel_timeout=60,
        ident="moto",
    )
    server.channel_class = CountingChannel
    print(f"emulator: serving moto on http://{args.host}:{args.port}", flush=True)
    server.run()


if __name__ == "__main__":
    main()
