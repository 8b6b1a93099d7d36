"""moto's server (as `moto_server` runs it), with DynamoDB requests taken one at a time.

moto undoes a failed TransactWriteItems by putting back a copy of each table that it took
when the transaction began (moto 5.2.5, moto/dynamodb/models/__init__.py,
`transact_write_items`). Its server is threaded, so every write that another request made
to those tables in between is silently undone: an order acknowledged with a 201 later
reads as 404, and an SMS already recorded as sent comes back to the outbox. On AWS each
DynamoDB request is atomic. Serialising DynamoDB requests gives moto that property; S3
and Secrets Manager stay concurrent.

    python emulator_server.py -H 127.0.0.1 -p 4566
"""

import argparse
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class OneDynamoDbRequestAtATime:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return self.app(environ, start_response)
        with self.lock:
            # The whole answer is produced under the lock: moto builds it eagerly.
            return list(self.app(environ, start_response))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    run_simple(
        args.host,
        args.port,
        OneDynamoDbRequestAtATime(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
