"""A GraphQL server for test_graphql.py: graphql-core (Debian
python3-graphql-core) executes every request, over HTTP GET and POST
(application/json, application/graphql, automatic persisted queries) and
over WebSocket (graphql-transport-ws and legacy graphql-ws), on 127.0.0.1.
Resolvers record the root fields they actually ran, so a test proves what
the server executed, not what it was sent."""
import base64
import hashlib
import http.server
import json
import threading
import urllib.parse

import graphql

import l7fixtures as fx


class Executed:
    def __init__(self):
        self.lock = threading.Lock()
        self.fields = []

    def add(self, name):
        with self.lock:
            self.fields.append(name)

    def snapshot(self):
        with self.lock:
            return list(self.fields)

    def clear(self):
        with self.lock:
            self.fields.clear()


def make_schema(executed):
    def resolver(name):
        def run(root, info, **args):
            executed.add(name)
            return f"{name}-ran"
        return run

    def fields(names):
        return {n: graphql.GraphQLField(graphql.GraphQLString,
                                        args={"name": graphql.GraphQLArgument(graphql.GraphQLString)},
                                        resolver=resolver(n)) for n in names}

    return graphql.GraphQLSchema(
        query=graphql.GraphQLObjectType("Query", fields(["viewer", "repository", "secret"])),
        mutation=graphql.GraphQLObjectType("Mutation", fields(["createIssue", "deleteRepository"])))


class GraphqlServer:
    """HTTP/1.1 on 127.0.0.1 (plain): POST/GET /graphql, WebSocket upgrade
    on GET /graphql. `persisted` maps sha256 -> document (APQ)."""

    def __init__(self):
        self.executed = Executed()
        self.schema = make_schema(self.executed)
        self.persisted = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                self.request.settimeout(30)

            def _send(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _execute(self, env):
                query = env.get("query")
                ext = env.get("extensions") or {}
                h = (ext.get("persistedQuery") or {}).get("sha256Hash")
                if not query and h:
                    query = server.persisted.get(h)
                    if query is None:
                        return {"errors": [{"message": "PersistedQueryNotFound"}]}
                r = graphql.graphql(server.schema, query, variable_values=env.get("variables"),
                                    operation_name=env.get("operationName"))
                out = {"data": r.data}
                if r.errors:
                    out["errors"] = [{"message": str(e)} for e in r.errors]
                return out

            def do_GET(self):
                if self.headers.get("Upgrade", "").lower() == "websocket":
                    return self._websocket()
                q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                if "extensions" in q:
                    q["extensions"] = json.loads(q["extensions"])
                self._send(200, self._execute(q))

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("application/graphql"):
                    return self._send(200, self._execute({"query": body.decode()}))
                env = json.loads(body)
                if isinstance(env, list):
                    return self._send(200, [self._execute(e) for e in env])
                self._send(200, self._execute(env))

            def _websocket(self):
                key = self.headers["Sec-WebSocket-Key"].encode()
                accept = base64.b64encode(hashlib.sha1(key + fx.WS_GUID).digest()).decode()
                proto = self.headers.get("Sec-WebSocket-Protocol", "graphql-transport-ws")
                proto = proto.split(",")[0].strip()
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept)
                self.send_header("Sec-WebSocket-Protocol", proto)
                self.end_headers()
                self.wfile.flush()
                legacy = proto == "graphql-ws"
                for _ in range(64):
                    f = fx.ws_read(self.rfile)
                    if f is None or f[0] == 8:
                        return
                    if f[0] != 1:
                        continue
                    m = json.loads(f[1])
                    t = m.get("type")
                    if t == "connection_init":
                        self._ws_send({"type": "connection_ack"})
                    elif t in ("subscribe", "start"):
                        res = self._execute(m["payload"])
                        self._ws_send({"type": "data" if legacy else "next", "id": m["id"],
                                       "payload": res})
                        self._ws_send({"type": "complete", "id": m["id"]})

            def _ws_send(self, obj):
                self.wfile.write(fx.ws_frame(1, json.dumps(obj).encode(), mask=False))
                self.wfile.flush()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
