#!/usr/bin/env python3
"""A small in-memory schema registry for Weir's registry client tests (Python stdlib only).

It speaks the parts of three APIs that registry clients use, over one shared store, the way
Apicurio Registry does (its Confluent-compatible API is a view of its own):

* Confluent's REST API at the root and at /apis/ccompat/v7:
  POST /subjects/{s}/versions, POST /subjects/{s}, GET /subjects/{s}/versions/{latest|n},
  GET /schemas/ids/{id}, GET /subjects. The Confluent id of a schema is its content id.
* Apicurio Registry Core API v3 at /apis/registry/v3: POST /groups/{g}/artifacts (ifExists),
  GET /groups/{g}/artifacts/{a}/versions/{expr}, GET /ids/{contentIds|globalIds}/{id}[/references],
  GET and POST /search/versions.
* Apicurio Registry Core API v2 at /apis/registry/v2: POST /groups/{g}/artifacts (ifExists),
  GET and POST /groups/{g}/artifacts/{a}/meta, GET /ids/..., GET /search/artifacts.

Errors use each API's body: Confluent's and v2's {"error_code", "message"}, v3's problem
details {"status", "title", "detail", "name"}.

Test controls (never authenticated, never recorded):
* GET /__requests: every request so far, [{"method", "path" (as sent, still percent-encoded),
  "query", "authorization", "headers" (names lowercased)}].
* POST /__control {"delay_ms": n, "fail": [status, ...], "reply": [{"status", "body"}, ...]}:
  answer every request n ms late; answer the next requests with these statuses (one each,
  with the API's error body), or these canned replies, instead of serving them.

Usage: fake_registry.py [--user U --password P] [--tls-cert F --tls-key F [--tls-client-ca F]]
Prints "listening on <url>" once ready; exits when its standard input closes, so it never
outlives the test that started it.
"""

import argparse
import base64
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

CONFLUENT_JSON = "application/vnd.schemaregistry.v1+json"


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Store:
    """Contents (id = index + 1) and artifacts (group, id) -> versions, as Apicurio keeps them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.contents = []  # {"type", "text", "refs": [ref]}; ref = {"name", "groupId", "artifactId", "version"}
        self.artifacts = {}  # (group, artifact) -> {"type", "versions": [{"version", "globalId", "contentId", "state"}]}
        self.next_global = 100  # global ids differ from content ids, so tests can tell them apart

    def content_id(self, kind, text, refs):
        for i, c in enumerate(self.contents):
            if c["type"] == kind and c["text"] == text and c["refs"] == refs:
                return i + 1
        self.contents.append({"type": kind, "text": text, "refs": refs})
        return len(self.contents)

    def content(self, cid):
        if 1 <= cid <= len(self.contents):
            return self.contents[cid - 1]
        return None

    def artifact(self, group, artifact):
        return self.artifacts.get((group, artifact))

    def add_version(self, group, artifact, kind, cid):
        a = self.artifacts.setdefault((group, artifact), {"type": kind, "versions": []})
        self.next_global += 1
        v = {"version": str(len(a["versions"]) + 1), "globalId": self.next_global, "contentId": cid, "state": "ENABLED"}
        a["versions"].append(v)
        return v

    def find_version(self, group, artifact, cid):
        a = self.artifact(group, artifact)
        if a:
            for v in a["versions"]:
                if v["contentId"] == cid:
                    return v
        return None

    def by_global(self, gid):
        for (group, artifact), a in self.artifacts.items():
            for v in a["versions"]:
                if v["globalId"] == gid:
                    return group, artifact, a, v
        return None

    def versions_with(self, key, value):
        out = []
        for (group, artifact), a in self.artifacts.items():
            for v in a["versions"]:
                if v[key] == value:
                    out.append((group, artifact, a, v))
        return out

    def check_refs(self, refs):
        for r in refs:
            a = self.artifact(r["groupId"], r["artifactId"])
            if not a or not any(v["version"] == r["version"] for v in a["versions"]):
                raise ApiError(422, 42201, "Invalid schema: reference '%s' to %s version %s does not exist" % (r["name"], r["artifactId"], r["version"]))


STORE = Store()
CONTROL = {"delay_ms": 0, "fail": [], "reply": []}
REQUESTS = []
LOG_LOCK = threading.Lock()
AUTH = None  # expected Authorization header value, if any


def check_schema(kind, text):
    if kind in ("AVRO", "JSON"):
        try:
            json.loads(text)
        except ValueError as e:
            raise ApiError(422, 42201, "Invalid schema: %s" % e)
    elif kind != "PROTOBUF":
        raise ApiError(422, 42202, "Invalid schema type %s" % kind)


def content_type_of(kind):
    return "application/x-protobuf" if kind == "PROTOBUF" else "application/json"


def canonical(kind, text):
    if kind in ("AVRO", "JSON"):
        try:
            return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
        except ValueError:
            return text
    return " ".join(text.split())


# ---- Confluent ------------------------------------------------------------------------------

def confluent_refs(refs):
    return [{"name": r["name"], "subject": r["artifactId"], "version": int(r["version"])} for r in refs]


def confluent_schema(cid, extra=None):
    c = STORE.content(cid)
    body = dict(extra or {})
    body["schema"] = c["text"]
    if c["type"] != "AVRO":
        body["schemaType"] = c["type"]
    if c["refs"]:
        body["references"] = confluent_refs(c["refs"])
    return body


def confluent_request_schema(body):
    if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
        raise ApiError(422, 42201, "Invalid schema: the body needs a 'schema' string")
    kind = body.get("schemaType") or "AVRO"
    check_schema(kind, body["schema"])
    refs = [{"name": r["name"], "groupId": "default", "artifactId": r["subject"], "version": str(r["version"])} for r in body.get("references") or []]
    STORE.check_refs(refs)
    return kind, body["schema"], refs


def confluent(method, parts, query, body):
    if method == "GET" and parts == ["subjects"]:
        return 200, sorted(a for (g, a) in STORE.artifacts if g == "default")
    if len(parts) == 3 and parts[0] == "schemas" and parts[1] == "ids" and method == "GET":
        cid = int(parts[2])
        if not STORE.content(cid):
            raise ApiError(404, 40403, "Schema %d not found" % cid)
        return 200, confluent_schema(cid)
    if parts and parts[0] == "subjects" and len(parts) >= 2:
        subject = parts[1]
        if len(parts) == 3 and parts[2] == "versions" and method == "POST":
            kind, text, refs = confluent_request_schema(body)
            cid = STORE.content_id(kind, text, refs)
            if not STORE.find_version("default", subject, cid):
                STORE.add_version("default", subject, kind, cid)
            return 200, {"id": cid}
        if len(parts) == 2 and method == "POST":
            kind, text, refs = confluent_request_schema(body)
            a = STORE.artifact("default", subject)
            if not a:
                raise ApiError(404, 40401, "Subject '%s' not found." % subject)
            for v in a["versions"]:
                c = STORE.content(v["contentId"])
                if c["type"] == kind and c["text"] == text and c["refs"] == refs:
                    return 200, confluent_schema(v["contentId"], {"subject": subject, "id": v["contentId"], "version": int(v["version"])})
            raise ApiError(404, 40403, "Schema not found")
        if len(parts) == 4 and parts[2] == "versions" and method == "GET":
            a = STORE.artifact("default", subject)
            if not a:
                raise ApiError(404, 40401, "Subject '%s' not found." % subject)
            if parts[3] in ("latest", "-1"):
                v = a["versions"][-1]
            else:
                found = [v for v in a["versions"] if v["version"] == parts[3]]
                if not found:
                    raise ApiError(404, 40402, "Version %s not found." % parts[3])
                v = found[0]
            return 200, confluent_schema(v["contentId"], {"subject": subject, "id": v["contentId"], "version": int(v["version"])})
    raise ApiError(404, 404, "HTTP 404 Not Found")


# ---- Apicurio -------------------------------------------------------------------------------

def version_meta(group, artifact, a, v):
    return {
        "groupId": group, "artifactId": artifact, "version": v["version"], "globalId": v["globalId"],
        "contentId": v["contentId"], "artifactType": a["type"], "state": v["state"], "owner": "", "createdOn": "2026-01-01T00:00:00Z",
    }


def v2_meta(group, artifact, a, v):
    return {"groupId": group, "id": artifact, "version": v["version"], "globalId": v["globalId"], "contentId": v["contentId"],
            "type": a["type"], "state": v["state"], "createdOn": "2026-01-01T00:00:00Z"}


def latest_version(group, artifact, v2):
    a = STORE.artifact(group, artifact)
    if not a:
        if v2:
            raise ApiError(404, 404, "No artifact with ID '%s' in group '%s' was found." % (artifact, group))
        raise ApiError(404, None, "No artifact with ID '%s' in group '%s' was found." % (artifact, group), )
    return a, a["versions"][-1]


def content_reply(cid, artifact_type=None):
    c = STORE.content(cid)
    headers = {"Content-Type": content_type_of(c["type"])}
    if artifact_type:
        headers["X-Registry-ArtifactType"] = artifact_type
    return 200, c["text"].encode(), headers


def ids(parts, query, v2):
    # parts: ["ids", "contentIds"|"globalIds", id, ("references")?]
    which, num = parts[1], int(parts[2])
    if which == "contentIds":
        if not STORE.content(num):
            raise ApiError(404, 404 if v2 else None, "No content with ID '%d' was found." % num)
        if len(parts) == 4 and parts[3] == "references":
            return 200, STORE.content(num)["refs"]
        return content_reply(num)
    if which == "globalIds":
        hit = STORE.by_global(num)
        if not hit:
            raise ApiError(404, 404 if v2 else None, "No artifact with global ID '%d' was found." % num)
        _, _, a, v = hit
        if len(parts) == 4 and parts[3] == "references":
            return 200, STORE.content(v["contentId"])["refs"]
        return content_reply(v["contentId"], a["type"] if query.get("returnArtifactType") == ["true"] else None)
    raise ApiError(404, None, "Not found")


def search_hits(query):
    hits = []
    for key in ("contentId", "globalId"):
        if key in query:
            hits = STORE.versions_with(key, int(query[key][0]))
            break
    else:
        hits = [(g, a_id, a, v) for (g, a_id), a in STORE.artifacts.items() for v in a["versions"]]
    if "groupId" in query:
        hits = [h for h in hits if h[0] == query["groupId"][0]]
    if "artifactId" in query:
        hits = [h for h in hits if h[1] == query["artifactId"][0]]
    return hits


def limit(query, items):
    return items[: int(query.get("limit", ["20"])[0])]


def apicurio_v3(method, parts, query, body, raw, headers):
    if parts[:1] == ["ids"] and method == "GET":
        return ids(parts, query, False)
    if parts == ["search", "versions"]:
        hits = search_hits(query)
        if method == "POST":
            kind = query.get("artifactType", [None])[0]
            text = raw.decode()
            canon = query.get("canonical") == ["true"]
            hits = [h for h in hits if (canonical(h[2]["type"], STORE.content(h[3]["contentId"])["text"]) == canonical(h[2]["type"], text)
                                        if canon else STORE.content(h[3]["contentId"])["text"] == text) and (kind is None or h[2]["type"] == kind)]
            hits.sort(key=lambda h: h[3]["globalId"], reverse=True)
        return 200, {"count": len(hits), "versions": [version_meta(*h) for h in limit(query, hits)]}
    if len(parts) == 3 and parts[0] == "groups" and parts[2] == "artifacts" and method == "POST":
        group = parts[1]
        if not isinstance(body, dict) or "artifactId" not in body:
            raise ApiError(400, None, "artifactId is required")
        artifact, kind = body["artifactId"], body.get("artifactType") or "AVRO"
        content = (body.get("firstVersion") or {}).get("content") or {}
        text = content.get("content")
        if not isinstance(text, str):
            raise ApiError(400, None, "firstVersion.content.content is required")
        check_schema(kind, text)
        refs = [{"name": r["name"], "groupId": r.get("groupId") or "default", "artifactId": r["artifactId"], "version": r.get("version")}
                for r in content.get("references") or []]
        STORE.check_refs(refs)
        cid = STORE.content_id(kind, text, refs)
        if_exists = query.get("ifExists", ["FAIL"])[0]
        a = STORE.artifact(group, artifact)
        if a and if_exists == "FAIL":
            raise ApiError(409, None, "An artifact with ID '%s' in group '%s' already exists." % (artifact, group))
        v = STORE.find_version(group, artifact, cid) if if_exists == "FIND_OR_CREATE_VERSION" else None
        if v is None:
            v = STORE.add_version(group, artifact, kind, cid)
        a = STORE.artifact(group, artifact)
        return 200, {"artifact": {"groupId": group, "artifactId": artifact, "artifactType": a["type"]}, "version": version_meta(group, artifact, a, v)}
    if len(parts) == 6 and parts[0] == "groups" and parts[2] == "artifacts" and parts[4] == "versions" and method == "GET":
        group, artifact, expr = parts[1], parts[3], parts[5]
        a, v = latest_version(group, artifact, False)
        if expr not in ("branch=latest", "latest"):
            found = [x for x in a["versions"] if x["version"] == expr]
            if not found:
                raise ApiError(404, None, "No version '%s' found for artifact with ID '%s' in group '%s'." % (expr, artifact, group))
            v = found[0]
        return 200, version_meta(group, artifact, a, v)
    raise ApiError(404, None, "RESTEASY003210: Could not find resource for full path")


def v2_content(raw, headers):
    ctype = headers.get("Content-Type", "")
    if "extended+json" in ctype:
        body = json.loads(raw)
        refs = [{"name": r["name"], "groupId": r.get("groupId") or "default", "artifactId": r["artifactId"], "version": r.get("version")}
                for r in body.get("references") or []]
        return body["content"], refs
    return raw.decode(), []


def apicurio_v2(method, parts, query, body, raw, headers):
    if parts[:1] == ["ids"] and method == "GET":
        return ids(parts, query, True)
    if parts == ["search", "artifacts"] and method == "GET":
        hits = search_hits(query)
        return 200, {"count": len(hits), "artifacts": [{"groupId": g, "id": a_id, "type": a["type"], "state": v["state"]} for g, a_id, a, v in limit(query, hits)]}
    if len(parts) == 3 and parts[0] == "groups" and parts[2] == "artifacts" and method == "POST":
        group = parts[1]
        artifact = headers.get("X-Registry-ArtifactId")
        kind = headers.get("X-Registry-ArtifactType") or "AVRO"
        if not artifact:
            raise ApiError(400, 400, "X-Registry-ArtifactId is required")
        text, refs = v2_content(raw, headers)
        check_schema(kind, text)
        STORE.check_refs(refs)
        cid = STORE.content_id(kind, text, refs)
        if_exists = query.get("ifExists", ["FAIL"])[0]
        a = STORE.artifact(group, artifact)
        if a and if_exists == "FAIL":
            raise ApiError(409, 409, "An artifact with ID '%s' in group '%s' already exists." % (artifact, group))
        v = STORE.find_version(group, artifact, cid) if if_exists in ("RETURN_OR_UPDATE", "RETURN") else None
        if v is None:
            v = STORE.add_version(group, artifact, kind, cid)
        return 200, v2_meta(group, artifact, STORE.artifact(group, artifact), v)
    if len(parts) == 5 and parts[0] == "groups" and parts[2] == "artifacts" and parts[4] == "meta":
        group, artifact = parts[1], parts[3]
        a, v = latest_version(group, artifact, True)
        if method == "GET":
            return 200, v2_meta(group, artifact, a, v)
        if method == "POST":
            text, refs = v2_content(raw, headers)
            canon = query.get("canonical") == ["true"]
            for v in reversed(a["versions"]):
                c = STORE.content(v["contentId"])
                same = canonical(a["type"], c["text"]) == canonical(a["type"], text) if canon else c["text"] == text
                if same and c["refs"] == refs:
                    return 200, v2_meta(group, artifact, a, v)
            raise ApiError(404, 404, "No version with this content was found for artifact '%s' in group '%s'." % (artifact, group))
    raise ApiError(404, 404, "RESTEASY003210: Could not find resource for full path")


# ---- HTTP -----------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=None):
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        else:
            data = json.dumps(body).encode()
        self.send_response(status)
        headers = headers or {}
        headers.setdefault("Content-Type", "application/json")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, api, e):
        if api == "v3":
            body = {"status": e.status, "title": e.message, "detail": e.message, "name": "NotFoundException" if e.status == 404 else "RegistryException"}
            return self.reply(e.status, body, {"Content-Type": "application/problem+json"})
        ctype = CONFLUENT_JSON if api == "confluent" else "application/json"
        return self.reply(e.status, {"error_code": e.code if e.code is not None else e.status, "message": e.message}, {"Content-Type": ctype})

    def handle_any(self, method):
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path.startswith("/__"):
            return self.control(method, path, raw)
        with LOG_LOCK:
            REQUESTS.append({"method": method, "path": path, "query": split.query, "authorization": self.headers.get("Authorization"),
                             "headers": {k.lower(): v for k, v in self.headers.items()}})
            delay = CONTROL["delay_ms"]
            fail = CONTROL["fail"].pop(0) if CONTROL["fail"] else None
            canned = CONTROL["reply"].pop(0) if CONTROL["reply"] and not fail else None
        if delay:
            time.sleep(delay / 1000)
        if path.startswith("/apis/registry/v3"):
            api, rest = "v3", path[len("/apis/registry/v3"):]
        elif path.startswith("/apis/registry/v2"):
            api, rest = "v2", path[len("/apis/registry/v2"):]
        elif path.startswith("/apis/ccompat/v7"):
            api, rest = "confluent", path[len("/apis/ccompat/v7"):]
        else:
            api, rest = "confluent", path
        if canned:
            return self.reply(canned.get("status", 200), canned.get("body", "").encode())
        if fail:
            return self.error(api, ApiError(fail, fail * 100 + 1 if fail < 600 else fail, "injected failure %d" % fail))
        if AUTH is not None and self.headers.get("Authorization") != AUTH:
            return self.error(api, ApiError(401, 401, "Unauthorized"))
        parts = [unquote(p) for p in rest.strip("/").split("/") if p]
        body = None
        if raw and "json" in (self.headers.get("Content-Type") or "") and api != "v2":
            try:
                body = json.loads(raw)
            except ValueError:
                return self.error(api, ApiError(400, 400, "Unexpected character in the JSON body"))
        try:
            with STORE.lock:
                if api == "confluent":
                    result = confluent(method, parts, query, body)
                elif api == "v3":
                    result = apicurio_v3(method, parts, query, body, raw, self.headers)
                else:
                    result = apicurio_v2(method, parts, query, body, raw, self.headers)
        except ApiError as e:
            return self.error(api, e)
        except (ValueError, KeyError, TypeError) as e:
            return self.error(api, ApiError(400, 400, "bad request: %r" % e))
        if len(result) == 3:
            return self.reply(*result)
        status, out = result
        return self.reply(status, out, {"Content-Type": CONFLUENT_JSON if api == "confluent" else "application/json"})

    def control(self, method, path, raw):
        if path == "/__requests":
            with LOG_LOCK:
                return self.reply(200, REQUESTS)
        if path == "/__control" and method == "POST":
            with LOG_LOCK:
                CONTROL.update(json.loads(raw or b"{}"))
            return self.reply(200, CONTROL)
        return self.reply(404, {"error_code": 404, "message": "unknown control"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    global AUTH
    p = argparse.ArgumentParser()
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--tls-client-ca")
    args = p.parse_args()
    if args.user is not None:
        AUTH = "Basic " + base64.b64encode(("%s:%s" % (args.user, args.password or "")).encode()).decode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    scheme = "http"
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.tls_client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("listening on %s://127.0.0.1:%d" % (scheme, server.server_address[1]), flush=True)
    # Runs until the test that started it closes our standard input (or dies).
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
