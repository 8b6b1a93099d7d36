"""What each DynamoDB request would cost on DynamoDB: items read, and read and write
capacity units computed from the items' sizes the way DynamoDB bills them. moto answers a
constant `ConsumedCapacity`, so the emulator (emulator_server.py) meters each request
itself, under its DynamoDB lock, and reports the sums in `GET /__emulator/stats`
(`dynamodb`: table -> operation -> counts). bench/ reads them per route.

The rules, from AWS's Developer Guide:
- item size: attribute names plus values; numbers 1 byte per two significant digits plus
  1; booleans and nulls 1; lists and maps 3 bytes plus 1 per element
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html);
- reads: 1 unit per 4 KB, strongly consistent; half for eventually consistent (the
  default); twice for transactional. GetItem and each item of BatchGetItem round up per
  item; Query and Scan add up the sizes of every item read (before the filter: a filter
  does not reduce what is read) and round up once; a missing item still costs the
  minimum; Select=COUNT costs the same
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html);
- writes: 1 unit per 1 KB of the larger of the item before and after; a failed condition
  still costs the write; BatchWriteItem bills each item as its own Put or Delete;
  TransactWriteItems twice (ConditionCheck counted as a transactional write of the
  checked item: an assumption, the guide does not say);
- global secondary indexes: a write that adds an item to an index, or removes one, costs
  one write of the projected item there; changing an indexed key costs two (delete and
  put); changing only projected attributes one; nothing when the index entry is unchanged
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Writes).
"""

import copy
import io
import json
import math
import threading

from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

READ_UNIT = 4096
WRITE_UNIT = 1024


def value_size(value):
    """Size in bytes of one attribute value (a DynamoType), without its name."""
    kind, raw = value.type, value.value
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        return number_size(raw)
    if kind == "B":
        return len(raw) if isinstance(raw, bytes) else math.ceil(len(raw) * 3 / 4)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(as_type(element)) for element in raw)
    if kind == "M":
        return 3 + sum(
            1 + len(name.encode()) + value_size(as_type(element)) for name, element in raw.items()
        )
    if kind == "SS":
        return sum(len(element.encode()) for element in raw)
    if kind == "NS":
        return sum(number_size(element) for element in raw)
    if kind == "BS":
        return sum(len(element) for element in raw)
    return len(str(raw).encode())


def as_type(value):
    return value if isinstance(value, DynamoType) else DynamoType(value)


def number_size(text):
    mantissa = text.lstrip("+-").lower().split("e")[0]
    digits = mantissa.replace(".", "").lstrip("0").rstrip("0")
    return math.ceil(len(digits) / 2) + 1


def item_size(attrs):
    """Size in bytes of an item given as {name: DynamoType}."""
    return sum(len(name.encode()) + value_size(as_type(value)) for name, value in attrs.items())


def read_units(size, consistent):
    units = max(1, math.ceil(size / READ_UNIT))
    return units if consistent else units / 2


def write_units(size):
    return max(1, math.ceil(size / WRITE_UNIT))


class Request:
    """What one DynamoDB request read and wrote, per table."""

    def __init__(self, operation, body):
        self.operation = operation
        self.body = body
        # table -> [items read, bytes read by Query/Scan]
        self.scanned = {}


# The request being metered: DynamoDB requests run one at a time (the emulator's lock).
current = threading.local()


class ReadRecorder:
    """Stands in for a Query's or Scan's filter: moto evaluates it on every item the
    request read (after the key condition and Limit, before the filter), so it sees what
    DynamoDB bills, then answers as the real filter would."""

    def __init__(self, inner, table):
        self.inner = inner
        self.table = table

    def expr(self, item):
        request = getattr(current, "request", None)
        if request is not None:
            counts = request.scanned.setdefault(self.table, [0, 0])
            counts[0] += 1
            counts[1] += item_size(item.attrs)
        return True if self.inner is None else self.inner.expr(item)


def _recording(method, position):
    def wrapper(self, *args, **kwargs):
        if "filter_expression" in kwargs:
            kwargs["filter_expression"] = ReadRecorder(kwargs["filter_expression"], self.name)
        elif len(args) > position:
            args = list(args)
            args[position] = ReadRecorder(args[position], self.name)
        else:
            kwargs["filter_expression"] = ReadRecorder(None, self.name)
        return method(self, *args, **kwargs)

    return wrapper


def install():
    """Wraps moto's Table.query and Table.scan (moto 5.2.5's signatures: the filter is
    the 10th and 4th positional argument after self)."""
    Table.query = _recording(Table.query, 9)
    Table.scan = _recording(Table.scan, 3)


class Meter:
    """Sums per table and operation: calls, items read, items returned, capacity units."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tables = {}

    def add(self, table, operation, calls=0, read=0, returned=0, rcu=0.0, wcu=0.0):
        with self.lock:
            entry = self.tables.setdefault(table, {}).setdefault(
                operation,
                {"calls": 0, "items_read": 0, "items_returned": 0, "read_units": 0.0,
                 "write_units": 0.0},
            )
            entry["calls"] += calls
            entry["items_read"] += read
            entry["items_returned"] += returned
            entry["read_units"] += rcu
            entry["write_units"] += wcu

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.tables))

    def call(self, app, environ, start_response):
        """Runs one DynamoDB request through `app`, metering it."""
        operation = environ["HTTP_X_AMZ_TARGET"].rsplit(".", 1)[-1]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            body = json.loads(raw or b"{}")
            backend = _backend(environ)
            writes = _writes(operation, body)
            before = [_snapshot(backend, table, key) for table, key, _ in writes]
        except Exception:  # not a request moto will accept either: nothing to meter
            return list(app(environ, start_response))
        request = Request(operation, body)
        status = []

        def capture(code, headers, *rest):
            status.append(code)
            return start_response(code, headers, *rest)

        current.request = request
        try:
            answer = list(app(environ, capture))
        finally:
            current.request = None
        try:
            self._account(backend, request, writes, before, status, answer)
        except Exception as error:  # metering must never break the emulator
            print(f"emulator: could not meter {operation}: {error!r}", flush=True)
        return answer

    def _account(self, backend, request, writes, before, status, answer):
        operation, body = request.operation, request.body
        ok = bool(status) and status[0].startswith("2")
        try:
            response = json.loads(b"".join(answer) or b"{}") if ok else {}
        except ValueError:
            response = {}
        if operation in ("Query", "Scan"):
            table = body.get("TableName", "?")
            label = operation
            if body.get("IndexName"):
                label += "@" + body["IndexName"]
            if body.get("Select") == "COUNT":
                label += " COUNT"
            read, size = request.scanned.get(table, [0, 0])
            rcu = read_units(size, body.get("ConsistentRead", False)) if ok else 0.0
            self.add(table, label, calls=1, read=read, returned=response.get("Count", 0), rcu=rcu)
            if "ExclusiveStartKey" not in body:
                self.add(table, label + " (first pages)", calls=1)
        elif operation == "GetItem":
            table = body.get("TableName", "?")
            item = _snapshot(backend, table, body.get("Key", {}))
            found = 1 if item is not None else 0
            size = item_size(item.attrs) if item is not None else 0
            self.add(table, operation, calls=1, read=found, returned=found,
                     rcu=read_units(size, body.get("ConsistentRead", False)))
        elif operation == "BatchGetItem":
            for table, spec in body.get("RequestItems", {}).items():
                consistent = spec.get("ConsistentRead", False)
                found, rcu = 0, 0.0
                for key in spec.get("Keys", []):
                    item = _snapshot(backend, table, key)
                    found += item is not None
                    rcu += read_units(item_size(item.attrs) if item else 0, consistent)
                self.add(table, operation, calls=1, read=found, returned=found, rcu=rcu)
        elif operation == "TransactGetItems":
            for entry in body.get("TransactItems", []):
                get = entry.get("Get", {})
                table = get.get("TableName", "?")
                item = _snapshot(backend, table, get.get("Key", {}))
                found = 1 if item is not None else 0
                size = item_size(item.attrs) if item is not None else 0
                self.add(table, operation, calls=1, read=found, returned=found,
                         rcu=2 * read_units(size, True))
        elif writes:
            factor = 2 if operation == "TransactWriteItems" else 1
            tables_called = set()
            for (table, key, kind), old in zip(writes, before):
                new = _snapshot(backend, table, key)
                old_size = item_size(old.attrs) if old is not None else 0
                new_size = item_size(new.attrs) if new is not None else 0
                wcu = factor * write_units(max(old_size, new_size))
                if kind != "ConditionCheck":
                    wcu += _index_writes(backend, table, old, new)
                calls = 0 if table in tables_called else 1
                tables_called.add(table)
                self.add(table, operation, calls=calls, wcu=wcu)
        else:
            table = body.get("TableName")
            if table:
                self.add(table, operation, calls=1)


def _backend(environ):
    auth = environ.get("HTTP_AUTHORIZATION", "")
    region = "us-east-1"
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) > 2:
            region = scope[2]
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region]


def _writes(operation, body):
    """(table, key attributes, kind) of every item a write request touches."""
    if operation == "PutItem":
        return [(body.get("TableName"), body.get("Item", {}), "Put")]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(body.get("TableName"), body.get("Key", {}), operation)]
    if operation == "BatchWriteItem":
        found = []
        for table, requests in body.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    found.append((table, request["PutRequest"].get("Item", {}), "Put"))
                elif "DeleteRequest" in request:
                    found.append((table, request["DeleteRequest"].get("Key", {}), "Delete"))
        return found
    if operation == "TransactWriteItems":
        found = []
        for entry in body.get("TransactItems", []):
            for kind, spec in entry.items():
                key = spec.get("Item") if kind == "Put" else spec.get("Key")
                found.append((spec.get("TableName"), key or {}, kind))
        return found
    return []


def _snapshot(backend, table_name, attrs):
    """A copy of the stored item with the key in `attrs`, or None."""
    table = backend.tables.get(table_name)
    if table is None or table.hash_key_attr not in attrs:
        return None
    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_key = None
    if table.range_key_attr:
        if table.range_key_attr not in attrs:
            return None
        range_key = DynamoType(attrs[table.range_key_attr])
    try:
        item = table.get_item(hash_key, range_key)
    except Exception:
        return None
    # Writes change moto's items in place: keep the item as it is now.
    return copy.deepcopy(item) if item is not None else None


def _index_writes(backend, table_name, old, new):
    table = backend.tables.get(table_name)
    units = 0
    for index in (table.global_indexes or []) if table else []:
        keys = [key["AttributeName"] for key in index.schema]

        def entry(snapshot):
            if snapshot is None or not all(k in snapshot.attrs for k in keys):
                return None
            projected = index.project(snapshot)
            return tuple(str(snapshot.attrs[k].value) for k in keys), projected.attrs

        before, after = entry(old), entry(new)
        if before and after:
            if before[0] != after[0]:
                units += write_units(item_size(before[1])) + write_units(item_size(after[1]))
            elif _plain(before[1]) != _plain(after[1]):
                units += write_units(item_size(after[1]))
        elif before:
            units += write_units(item_size(before[1]))
        elif after:
            units += write_units(item_size(after[1]))
    return units


def _plain(attrs):
    return {name: json.dumps(as_type(value).to_json(), sort_keys=True, default=str)
            for name, value in attrs.items()}


def table_sizes(prefix=""):
    """Per table whose name starts with `prefix`: items and their bytes as DynamoDB
    counts them, and per global secondary index its entries and projected bytes. DynamoDB
    bills storage for these plus 100 bytes of overhead per item and per index entry."""
    sizes = {}
    for backends in dynamodb_backends.values():
        for backend in backends.values():
            for name, table in list(backend.tables.items()):
                if not name.startswith(prefix):
                    continue
                items = table.all_items()
                entry = {"items": len(items), "bytes": sum(item_size(i.attrs) for i in items)}
                indexes = {}
                for index in table.global_indexes or []:
                    keys = [key["AttributeName"] for key in index.schema]
                    indexed = [i for i in items if all(k in i.attrs for k in keys)]
                    indexes[index.name] = {
                        "items": len(indexed),
                        "bytes": sum(item_size(index.project(i).attrs) for i in indexed),
                    }
                entry["indexes"] = indexes
                sizes[name] = entry
    return sizes
