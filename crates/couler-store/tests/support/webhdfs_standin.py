#!/usr/bin/env python3
"""A stand-in WebHDFS server for Couler's integration tests.

No real HDFS can run on the machines Couler is built and tested on (Hadoop is in none of the
package registries they reach), yet the store speaks WebHDFS through Apache OpenDAL and a few
direct calls. This server answers the same REST API, following Hadoop's WebHDFS documentation
(https://hadoop.apache.org/docs/stable/hadoop-project-dist/hadoop-hdfs/WebHDFS.html) and, where
the documentation is silent, what the NameNode and DataNode code does. HDFS paths live as
plain files under --root.

    python3 webhdfs_standin.py --root DIR --port PORT [--host 127.0.0.1] [--list-batch N]

It listens on loopback only and prints `listening on PORT` once ready (port 0 picks a free one).

Operations: GETFILESTATUS, LISTSTATUS, LISTSTATUS_BATCH, OPEN (GET); MKDIRS, CREATE, RENAME
(PUT); APPEND, CONCAT (POST); DELETE (DELETE). CREATE, APPEND and OPEN take two steps as in
HDFS: the "namenode" answers 307 (or 200 {"Location": ...} with noredirect=true) pointing at a
"datanode" URL on this same server, marked `datanode=true`.

Kept faithful on purpose, because the tests are about exactly these:
- A file is visible under its final name from the moment the datanode step starts writing,
  and the bytes land in it as they arrive. An interrupted upload leaves the partial file in
  place, closed, as a real DataNode does when the client connection drops (it closes the
  HDFS stream, completing the file). So an in-place write is never atomic.
- While an upload is in progress the file is under construction: GETFILESTATUS and listings
  report only its completed 128 MiB blocks, APPEND answers AlreadyBeingCreatedException and
  CONCAT refuses it; a writer whose file was deleted or overwritten meanwhile fails.
- RENAME answers {"boolean": false}, not an error, when the source is missing, the
  destination exists or its parent is missing; onto a directory it moves the source inside.
- DELETE of a non-empty directory without recursive=true is refused; of a missing path it
  answers {"boolean": false}. CONCAT requires non-empty sources in the target's directory.
- Errors are {"RemoteException": {...}} with the exception classes and status codes HDFS uses.

Fault injection, for tests (not part of WebHDFS):
- POST /standin/fail {"op": "CREATE", "path_contains": "blobs/", "after_bytes": 5, "count": 1}:
  the next `count` datanode writes (CREATE or APPEND step 2; op may be "ANY") whose path
  contains the substring write `after_bytes` bytes of the body, then drop the connection
  without a response (a TCP reset), leaving the partial file in place.
- POST /standin/fail {"op": "ANY", "status": 500, "count": 2}: the next `count` requests of
  that op (either step) answer that status with a RemoteException (500: RuntimeException).
- POST /standin/fail {"op": "CREATE", "count": 0}: disarms the pending faults of that op
  (all of them for "ANY").
- GET /standin/requests: the WebHDFS requests received so far, e.g.
  [{"op": "CREATE", "path": "/x/y", "datanode": false}, ...].
- POST /standin/reset: clears that list and any pending faults.
"""

import argparse
import errno
import ipaddress
import json
import os
import shutil
import socket
import stat
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

BLOCK_SIZE = 134217728  # dfs.blocksize's default
CHUNK = 64 * 1024
OWNER = "hdfs"
JSON_TYPE = "application/json;charset=utf-8"  # what the NameNode's Jersey resources send
PREFIX = "/webhdfs/v1"

OPS = {
    "GET": {"OPEN", "GETFILESTATUS", "LISTSTATUS", "LISTSTATUS_BATCH"},
    "PUT": {"CREATE", "MKDIRS", "RENAME"},
    "POST": {"APPEND", "CONCAT"},
    "DELETE": {"DELETE"},
}
DATANODE_OPS = {"GET": "OPEN", "PUT": "CREATE", "POST": "APPEND"}
OP_ENUMS = {"GET": "GetOpParam", "PUT": "PutOpParam", "POST": "PostOpParam", "DELETE": "DeleteOpParam"}

ILLEGAL_ARGUMENT = "java.lang.IllegalArgumentException"
HADOOP_ILLEGAL_ARGUMENT = "org.apache.hadoop.HadoopIllegalArgumentException"
INVALID_PATH = "org.apache.hadoop.fs.InvalidPathException"
UNSUPPORTED = "java.lang.UnsupportedOperationException"
IO = "java.io.IOException"
EOF = "java.io.EOFException"
NOT_FOUND = "java.io.FileNotFoundException"
ALREADY_EXISTS = "org.apache.hadoop.fs.FileAlreadyExistsException"
BEING_CREATED = "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException"
PARENT_NOT_DIR = "org.apache.hadoop.fs.ParentNotDirectoryException"
NOT_EMPTY = "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"
# What an injected status answers with, after the WebHDFS docs' table of error responses.
INJECTED = {
    400: ILLEGAL_ARGUMENT,
    401: "java.lang.SecurityException",
    403: "org.apache.hadoop.security.AccessControlException",
    404: NOT_FOUND,
}


class RemoteError(Exception):
    """An HDFS exception, sent as WebHDFS's RemoteException JSON."""

    def __init__(self, status, java_class, message):
        super().__init__(message)
        self.status = status
        self.java_class = java_class
        self.message = message

    def json(self):
        return {
            "RemoteException": {
                "exception": self.java_class.rsplit(".", 1)[-1],
                "javaClassName": self.java_class,
                "message": self.message,
            }
        }


def bad_param(name, reason):
    # How HDFS words a query parameter it cannot parse (ExceptionHandler's ParamException case).
    return RemoteError(400, ILLEGAL_ARGUMENT, f'Invalid value for webhdfs parameter "{name}": {reason}')


class ClientGone(Exception):
    """The client closed the connection before sending its whole request body."""


def components(raw):
    """An HDFS path's components, refusing the names HDFS refuses (DFSUtil.isValidName)."""
    parts = [p for p in raw.split("/") if p]
    for p in parts:
        if p in (".", "..") or ":" in p or "\0" in p:
            raise RemoteError(400, INVALID_PATH, f"Invalid path name Invalid file name: {raw}")
    return parts


def hdfs_path(parts):
    return "/" + "/".join(parts)


class State:
    """What the request threads share. `ns` plays the NameNode's namespace lock: every
    namespace change and lookup runs under it, data transfer outside it."""

    def __init__(self, root, list_batch):
        self.root = root
        self.list_batch = list_batch
        self.ns = threading.Lock()
        self.writing = {}  # (st_dev, st_ino) -> open datanode writes: the files under construction
        self.control = threading.Lock()
        self.requests = []
        self.faults = []

    def local(self, parts):
        return os.path.join(self.root, *parts)

    def kind(self, parts):
        """The path's kind: "dir", "file" or None (missing)."""
        try:
            st = os.stat(self.local(parts))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            if e.errno == errno.ENAMETOOLONG:  # HDFS has the same 255-byte limit: no such file
                return None
            raise
        return "dir" if stat.S_ISDIR(st.st_mode) else "file"

    def under_construction(self, local):
        st = os.stat(local)
        return (st.st_dev, st.st_ino) in self.writing

    def status(self, local, suffix):
        st = os.stat(local)
        is_dir = stat.S_ISDIR(st.st_mode)
        length = 0 if is_dir else st.st_size
        if (st.st_dev, st.st_ino) in self.writing:
            # The NameNode counts a file under construction by its completed blocks only.
            length -= length % BLOCK_SIZE
        return {
            "accessTime": 0 if is_dir else st.st_atime_ns // 1_000_000,
            "blockSize": 0 if is_dir else BLOCK_SIZE,
            "childrenNum": len(os.listdir(local)) if is_dir else 0,
            "fileId": st.st_ino,
            "group": "supergroup",
            "length": length,
            "modificationTime": st.st_mtime_ns // 1_000_000,
            "owner": OWNER,
            "pathSuffix": suffix,
            "permission": "755" if is_dir else "644",
            "replication": 0 if is_dir else 1,
            "storagePolicy": 0,
            "type": "DIRECTORY" if is_dir else "FILE",
        }

    def listing(self, parts, path, start_after=None):
        local = self.local(parts)
        kind = self.kind(parts)
        if kind is None:
            raise RemoteError(404, NOT_FOUND, f"File {path} does not exist.")
        if kind == "file":
            return [self.status(local, "")]
        # HDFS orders a directory's children by their names' bytes.
        names = sorted(os.listdir(local), key=lambda n: n.encode("utf-8", "surrogateescape"))
        if start_after is not None:
            after = start_after.encode("utf-8", "surrogateescape")
            names = [n for n in names if n.encode("utf-8", "surrogateescape") > after]
        return [self.status(os.path.join(local, n), n) for n in names]

    def record(self, op, path, datanode):
        with self.control:
            self.requests.append({"op": op, "path": path, "datanode": datanode})

    def take_fault(self, op, path, drop):
        """Consumes one pending fault matching this request: a drop fault (after_bytes) when
        `drop`, i.e. for a datanode write, else a status fault."""
        with self.control:
            for fault in self.faults:
                if (fault["op"] in ("ANY", op) and fault["path_contains"] in path
                        and ("after_bytes" in fault) == drop):
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.faults.remove(fault)
                    return fault
        return None


def parse_fault(body):
    try:
        spec = json.loads(body or b"{}")
    except ValueError as e:
        raise RemoteError(400, ILLEGAL_ARGUMENT, f"fault is not JSON: {e}")
    if not isinstance(spec, dict):
        raise RemoteError(400, ILLEGAL_ARGUMENT, "fault must be a JSON object")
    fault = {
        "op": str(spec.get("op", "ANY")).upper(),
        "path_contains": str(spec.get("path_contains", "")),
        "count": spec.get("count", 1),
    }
    if not isinstance(fault["count"], int) or fault["count"] < 0:
        raise RemoteError(400, ILLEGAL_ARGUMENT, "count must be a non-negative integer")
    if fault["count"] == 0:
        return fault  # a disarming: see Handler.control
    if ("after_bytes" in spec) == ("status" in spec):
        raise RemoteError(400, ILLEGAL_ARGUMENT, "give exactly one of after_bytes and status")
    if "after_bytes" in spec:
        if not isinstance(spec["after_bytes"], int) or spec["after_bytes"] < 0:
            raise RemoteError(400, ILLEGAL_ARGUMENT, "after_bytes must be a non-negative integer")
        if fault["op"] not in ("ANY", "CREATE", "APPEND"):
            raise RemoteError(400, ILLEGAL_ARGUMENT, "after_bytes applies to CREATE or APPEND")
        fault["after_bytes"] = spec["after_bytes"]
    else:
        if not isinstance(spec["status"], int) or not 400 <= spec["status"] <= 599:
            raise RemoteError(400, ILLEGAL_ARGUMENT, "status must be an HTTP error code")
        fault["status"] = spec["status"]
    return fault


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's backlog of 5 resets bursts of concurrent clients


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the NameNode's Jetty serves it
    server_version = "webhdfs-standin"

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # a client reset its idle keep-alive connection

    def do_GET(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    @property
    def state(self):
        return self.server.state

    def reads_body(self):
        query = parse_qs(urlsplit(self.path).query)
        datanode = any(k.lower() == "datanode" and "true" in map(str.lower, v) for k, v in query.items())
        return datanode or self.path.startswith("/standin/")

    def handle_expect_100(self):
        # Only the datanode step reads a body. Like the NameNode, answer the rest without
        # inviting it: the client then never sends its data to the "namenode".
        if self.reads_body():
            return super().handle_expect_100()
        return True

    # ----- plumbing ---------------------------------------------------------------------

    def dispatch(self):
        self.body_pending = True
        if self.headers.get("Expect", "").lower() == "100-continue" and not self.reads_body():
            # The body was not invited, so it may or may not follow: close after answering.
            self.body_pending = False
            self.close_connection = True
        url = urlsplit(self.path)
        # HDFS treats parameter names case-insensitively (its ParamFilter lower-cases them).
        self.query = {k.lower(): v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            try:
                if url.path.startswith("/standin/"):
                    reply = self.control(url.path)
                elif url.path == PREFIX or url.path.startswith(PREFIX + "/"):
                    reply = self.webhdfs(unquote(url.path[len(PREFIX):]))
                else:
                    reply = RemoteError(404, NOT_FOUND, f"No such resource: {url.path}")
            except RemoteError as e:
                reply = e
            except (BrokenPipeError, ConnectionResetError):
                raise
            except OSError as e:  # what Java would raise as a plain IOException
                reply = RemoteError(403, IO, e.strerror or str(e))
            if reply is None:  # the handler has answered, or dropped the connection
                return
            try:
                self.drain()  # so that the connection can carry the next request
            except RemoteError as e:  # an unreadable body: answer that instead, then close
                reply = e
            if isinstance(reply, RemoteError):
                self.send_json(reply.status, reply.json())
            else:
                self.send(*reply)
        except ClientGone:
            self.log_message("client closed the connection mid-request")
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send(self, status, body=b"", content_type=None, headers=()):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, obj, headers=()):
        self.send(status, json.dumps(obj).encode(), JSON_TYPE, headers)

    def body(self):
        """Yields the request body as it arrives, Content-Length or chunked."""
        self.body_pending = False
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ClientGone
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self.close_connection = True  # the framing is lost
                    raise RemoteError(400, ILLEGAL_ARGUMENT, "bad chunk size in chunked body")
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                yield from self.read_exactly(size)
                self.rfile.readline(1024)  # the CRLF closing the chunk
        else:
            try:
                remaining = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self.close_connection = True
                raise RemoteError(400, ILLEGAL_ARGUMENT, "bad Content-Length")
            yield from self.read_exactly(remaining)

    def read_exactly(self, remaining):
        while remaining > 0:
            data = self.rfile.read1(min(remaining, CHUNK))  # whatever has arrived, not a full CHUNK
            if not data:
                raise ClientGone
            remaining -= len(data)
            yield data

    def drain(self):
        if self.body_pending:
            for _ in self.body():
                pass

    def abort_connection(self):
        # SO_LINGER 0 turns the close into a TCP reset: the client sees the connection die
        # mid-request, with no response, as when a datanode or the network fails. (rfile holds
        # the socket open until it is closed; wfile writes straight to the socket.)
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()

    def base_url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def flag(self, name, default):
        value = self.query.get(name.lower())
        if not value:
            return default
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad_param(name, f'Failed to parse "{value}" to Boolean.')

    def number(self, name, default):
        value = self.query.get(name.lower())
        if not value:
            return default
        try:
            n = int(value)
        except ValueError:
            raise bad_param(name, f'Failed to parse "{value}" as a radix-10 long integer.')
        if n < 0:
            raise bad_param(name, f"Invalid parameter range: {name} = {n} < 0")
        return n

    # ----- the control endpoints ----------------------------------------------------------

    def control(self, path):
        state = self.state
        if self.command == "GET" and path == "/standin/requests":
            with state.control:
                return 200, json.dumps(state.requests).encode(), JSON_TYPE
        if self.command == "POST" and path == "/standin/fail":
            fault = parse_fault(b"".join(self.body()))
            with state.control:
                if fault["count"]:
                    state.faults.append(fault)
                else:
                    state.faults[:] = [f for f in state.faults if fault["op"] not in ("ANY", f["op"])]
            return 200, json.dumps(fault).encode(), JSON_TYPE
        if self.command == "POST" and path == "/standin/reset":
            with state.control:
                state.requests.clear()
                state.faults.clear()
            return 200, b"{}", JSON_TYPE
        return RemoteError(404, NOT_FOUND, f"No such control endpoint: {self.command} {path}")

    # ----- WebHDFS --------------------------------------------------------------------------

    def webhdfs(self, raw_path):
        method = self.command
        op = self.query.get("op", "").upper()
        datanode = self.query.get("datanode", "").lower() == "true"  # this stand-in's own marker
        self.state.record(op or None, hdfs_path([p for p in raw_path.split("/") if p]), datanode)
        parts = components(raw_path)
        path = hdfs_path(parts)

        fault = self.state.take_fault(op, path, drop=False)
        if fault is not None:
            return RemoteError(fault["status"], INJECTED.get(fault["status"], "java.lang.RuntimeException"),
                               f"injected failure (stand-in fault injection) for {op} {path}")
        if not op:
            raise RemoteError(400, UNSUPPORTED, "op=NULL is not supported")
        if op not in OPS[method]:
            raise bad_param("op", f"No enum constant org.apache.hadoop.hdfs.web.resources.{OP_ENUMS[method]}.Op.{op}")
        if datanode:
            if op != DATANODE_OPS.get(method):
                raise RemoteError(400, ILLEGAL_ARGUMENT, f"Invalid operation {op}")
            return getattr(self, "datanode_" + op.lower())(parts, path)
        return getattr(self, "op_" + op.lower())(parts, path)

    def redirect(self, path, params):
        """The namenode's answer to step 1 of CREATE, APPEND and OPEN."""
        query = {"op": self.query["op"].upper(), "datanode": "true"}
        query.update((k, v) for k, v in self.query.items() if k not in ("op", "noredirect", "datanode"))
        query.update(params)
        location = f"{self.base_url()}{PREFIX}{quote(path)}?{urlencode(query)}"
        if self.flag("noredirect", False):
            return 200, json.dumps({"Location": location}).encode(), JSON_TYPE
        return 307, b"", "application/octet-stream", [("Location", location)]

    def op_getfilestatus(self, parts, path):
        with self.state.ns:
            if self.state.kind(parts) is None:
                raise RemoteError(404, NOT_FOUND, f"File does not exist: {path}")
            status = self.state.status(self.state.local(parts), "")
        return 200, json.dumps({"FileStatus": status}).encode(), JSON_TYPE

    def op_liststatus(self, parts, path):
        with self.state.ns:
            entries = self.state.listing(parts, path)
        return 200, json.dumps({"FileStatuses": {"FileStatus": entries}}).encode(), JSON_TYPE

    def op_liststatus_batch(self, parts, path):
        with self.state.ns:
            entries = self.state.listing(parts, path, self.query.get("startafter") or None)
        page = entries[: self.state.list_batch]
        listing = {
            "partialListing": {"FileStatuses": {"FileStatus": page}},
            "remainingEntries": len(entries) - len(page),
        }
        return 200, json.dumps({"DirectoryListing": listing}).encode(), JSON_TYPE

    def op_mkdirs(self, parts, path):
        with self.state.ns:
            for i in range(1, len(parts) + 1):
                kind = self.state.kind(parts[:i])
                if kind == "file" and i == len(parts):
                    raise RemoteError(403, ALREADY_EXISTS, f"Path is not a directory: {path}")
                if kind == "file":
                    raise RemoteError(403, PARENT_NOT_DIR, f"Parent path is not a directory: {hdfs_path(parts[:i])}")
            os.makedirs(self.state.local(parts), exist_ok=True)
        return self.boolean(True)

    def check_create(self, parts, path):
        """HDFS's refusals of a CREATE, as its startFile makes them."""
        kind = self.state.kind(parts)
        if kind == "dir":
            raise RemoteError(403, ALREADY_EXISTS, f"{path} already exists as a directory")
        if kind == "file" and not self.flag("overwrite", False):
            if self.state.under_construction(self.state.local(parts)):
                raise RemoteError(403, BEING_CREATED,
                                  f"Failed to CREATE_FILE {path} because this file lease is currently owned by another client")
            raise RemoteError(403, ALREADY_EXISTS, f"{path} for client {self.client_address[0]} already exists")
        return kind

    def op_create(self, parts, path):
        # A real NameNode defers these checks to the datanode step; making them here too
        # saves a client the upload that would be refused.
        with self.state.ns:
            self.check_create(parts, path)
        return self.redirect(path, {"overwrite": str(self.flag("overwrite", False)).lower()})

    def op_append(self, parts, path):
        with self.state.ns:
            if self.state.kind(parts) is None:
                raise RemoteError(404, NOT_FOUND, f"File {path} not found.")
        return self.redirect(path, {})

    def op_open(self, parts, path):
        offset = self.number("offset", 0)
        self.number("length", None)  # refused here already when malformed, as by the NameNode
        with self.state.ns:
            if self.state.kind(parts) is None:
                raise RemoteError(404, NOT_FOUND, f"File {path} not found.")
            length = self.state.status(self.state.local(parts), "")["length"]
        if offset >= length > 0:
            raise RemoteError(403, IO, f"Offset={offset} out of the range [0, {length}); OPEN, path={path}")
        return self.redirect(path, {"offset": offset})

    def datanode_open(self, parts, path):
        offset = self.number("offset", 0)
        limit = self.number("length", None)
        with self.state.ns:
            kind = self.state.kind(parts)
            if kind != "file":
                raise RemoteError(404, NOT_FOUND, f"{'Path is not a file' if kind else 'File does not exist'}: {path}")
            f = open(self.state.local(parts), "rb")
        with f:
            size = os.fstat(f.fileno()).st_size
            if offset > size:
                raise RemoteError(403, EOF, "Cannot seek after EOF")
            f.seek(offset)
            remaining = size - offset if limit is None else min(size - offset, limit)
            self.drain()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(remaining))
            self.end_headers()
            while remaining > 0:
                data = f.read(min(remaining, CHUNK))
                if not data:  # the file shrank under us: the promised length cannot be met
                    self.close_connection = True
                    break
                self.wfile.write(data)
                remaining -= len(data)
        return None

    def datanode_create(self, parts, path):
        with self.state.ns:
            kind = self.check_create(parts, path)
            for i in range(1, len(parts)):
                ancestor = self.state.kind(parts[:i])
                if ancestor == "file":
                    raise RemoteError(403, PARENT_NOT_DIR, f"Parent path is not a directory: {hdfs_path(parts[:i])}")
                if ancestor is None and not self.flag("createparent", True):
                    raise RemoteError(404, NOT_FOUND, f"Parent directory doesn't exist: {hdfs_path(parts[:-1])}")
            local = self.state.local(parts)
            os.makedirs(os.path.dirname(local), exist_ok=True)
            if kind == "file":
                os.unlink(local)  # overwriting replaces the file (a new inode), as HDFS does
            f, key = self.begin_write(local, "xb")
        if not self.receive(f, key, "CREATE", path):
            return None
        host, port = self.server.server_address[:2]
        return 201, b"", None, [("Location", f"hdfs://{host}:{port}{quote(path)}")]

    def datanode_append(self, parts, path):
        with self.state.ns:
            kind = self.state.kind(parts)
            if kind != "file":
                raise RemoteError(404, NOT_FOUND, f"{'Path is not a file' if kind else 'File does not exist'}: {path}")
            local = self.state.local(parts)
            if self.state.under_construction(local):
                raise RemoteError(403, BEING_CREATED,
                                  f"Failed to APPEND_FILE {path} because this file lease is currently owned by another client")
            f, key = self.begin_write(local, "ab")
        if not self.receive(f, key, "APPEND", path):
            return None
        return 200, b""

    def begin_write(self, local, mode):
        """Opens a file for a datanode write and marks it under construction (under `ns`)."""
        f = open(local, mode, buffering=0)  # unbuffered: readers see each byte as it lands
        st = os.fstat(f.fileno())
        key = (st.st_dev, st.st_ino)
        self.state.writing[key] = self.state.writing.get(key, 0) + 1
        return f, key

    def receive(self, f, key, op, path):
        """Streams the body into `f`, then completes the file. False when the connection is
        gone (closed by the client, or dropped by an injected fault): nothing to answer."""
        fault = self.state.take_fault(op, path, drop=True)
        limit = fault["after_bytes"] if fault else None
        written = 0
        complete = gone = False
        try:
            for data in self.body():
                if limit is not None:
                    data = data[: limit - written]
                f.write(data)
                written += len(data)
                if limit is not None and written >= limit:
                    break
            else:
                complete = limit is None
        except ClientGone:
            gone = True  # like a DataNode, keep what arrived: closing the stream completes the file
        finally:
            deleted = os.fstat(f.fileno()).st_nlink == 0
            with self.state.ns:
                f.close()
                self.state.writing[key] -= 1
                if not self.state.writing[key]:
                    del self.state.writing[key]
        if not complete:
            self.log_message("%s after %d body bytes of %s %s",
                             "client went away" if gone else "injected fault: dropped the connection",
                             written, op, path)
            self.abort_connection()
            return False
        if deleted:
            # Deleted or overwritten while being written: HDFS fails the writer at close.
            raise RemoteError(404, NOT_FOUND, f"File does not exist: {path} (inode {key[1]}): "
                              "it was deleted while this client was writing it")
        return True

    def op_concat(self, parts, path):
        sources = self.query.get("sources")
        if not sources:
            raise RemoteError(400, ILLEGAL_ARGUMENT, "Required param sources for op: CONCAT is null or empty")
        with self.state.ns:
            kind = self.state.kind(parts)
            if kind != "file":
                raise RemoteError(404, NOT_FOUND, f"{'Path is not a file' if kind else 'File does not exist'}: {path}")
            target = self.state.local(parts)
            if self.state.under_construction(target):
                raise RemoteError(400, HADOOP_ILLEGAL_ARGUMENT, f"concat: target file {path} is under construction")
            srcs = []
            for source in sources.split(","):
                src_parts = components(source)
                src = hdfs_path(src_parts)
                src_kind = self.state.kind(src_parts)
                if src_kind != "file":
                    raise RemoteError(404, NOT_FOUND,
                                      f"{'Path is not a file' if src_kind else 'File does not exist'}: {src}")
                if src_parts[:-1] != parts[:-1]:
                    raise RemoteError(400, HADOOP_ILLEGAL_ARGUMENT,
                                      f"Source file {src} is not in the same directory with the target {path}")
                if src_parts == parts:
                    raise RemoteError(400, HADOOP_ILLEGAL_ARGUMENT,
                                      f"concat: the src file {src} is the same with the target file {path}")
                local = self.state.local(src_parts)
                if self.state.under_construction(local) or os.path.getsize(local) == 0:
                    # HDFS refuses sources without a block: empty ones included.
                    raise RemoteError(400, HADOOP_ILLEGAL_ARGUMENT,
                                      f"concat: source file {src} is invalid or empty or underConstruction")
                srcs.append(local)
            if len(set(srcs)) < len(srcs):
                raise RemoteError(400, HADOOP_ILLEGAL_ARGUMENT, "concat: at least two of the source files are the same")
            with open(target, "ab") as out:
                for src in srcs:
                    with open(src, "rb") as f:
                        shutil.copyfileobj(f, out, CHUNK)
            for src in srcs:
                os.unlink(src)
        return 200, b""

    def op_rename(self, parts, path):
        destination = self.query.get("destination")
        if not destination:
            raise RemoteError(400, ILLEGAL_ARGUMENT, "Required param destination for op: RENAME is null or empty")
        if not destination.startswith("/"):
            raise bad_param("destination", f'Invalid parameter value: destination = "{destination}" is not an absolute path.')
        try:
            dst_parts = components(destination)
        except RemoteError:
            raise RemoteError(403, IO, f"Invalid name: {destination}")
        with self.state.ns:
            # HDFS's old rename (FSDirRenameOp.unprotectedRenameTo): failures are `false`.
            if not parts or self.state.kind(parts) is None:
                return self.boolean(False)
            if self.state.kind(dst_parts) == "dir":
                dst_parts = dst_parts + parts[-1:]
            if dst_parts == parts:
                return self.boolean(True)
            if dst_parts[: len(parts)] == parts:  # into its own subtree
                return self.boolean(False)
            if self.state.kind(dst_parts) is not None or self.state.kind(dst_parts[:-1]) != "dir":
                return self.boolean(False)
            os.rename(self.state.local(parts), self.state.local(dst_parts))
        return self.boolean(True)

    def op_delete(self, parts, path):
        recursive = self.flag("recursive", False)
        with self.state.ns:
            kind = self.state.kind(parts)
            local = self.state.local(parts)
            if kind == "dir" and not recursive and os.listdir(local):
                raise RemoteError(403, NOT_EMPTY, f"`{path} is non empty': Directory is not empty")
            if kind is None or not parts:  # HDFS never deletes the root
                return self.boolean(False)
            if kind == "dir":
                shutil.rmtree(local)
            else:
                os.unlink(local)
        return self.boolean(True)

    @staticmethod
    def boolean(value):
        return 200, json.dumps({"boolean": value}).encode(), JSON_TYPE


def main():
    parser = argparse.ArgumentParser(description="A stand-in WebHDFS server for tests.")
    parser.add_argument("--root", required=True, help="directory holding the HDFS namespace")
    parser.add_argument("--port", type=int, required=True, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="an IPv4 loopback address")
    parser.add_argument("--list-batch", type=int, default=1000,
                        help="entries per LISTSTATUS_BATCH page (dfs.ls.limit, 1000 in HDFS)")
    args = parser.parse_args()
    try:
        loopback = ipaddress.IPv4Address(args.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        parser.error(f"--host must be an IPv4 loopback address, not {args.host}")
    if args.list_batch < 1:
        parser.error("--list-batch must be at least 1")
    os.makedirs(args.root, exist_ok=True)

    server = Server((args.host, args.port), Handler)
    server.state = State(os.path.abspath(args.root), args.list_batch)
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
