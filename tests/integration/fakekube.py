#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A scripted Kubernetes API server for the tests of client/kubernetes/natwarden-sync.

Real kubectl talks to it over plain HTTP on 127.0.0.1 (a kubeconfig whose cluster server is
http://127.0.0.1:PORT, no credentials). It imitates what kubectl needs of the core API:

- legacy discovery: /version (gitVersion v1.32.0: the Cloud SDK's kubectl dispatcher picks its
  kubectl by that), /api (APIVersions), /apis (an empty APIGroupList), /api/v1 (APIResourceList:
  services, events, namespaces). Aggregated discovery is not offered: kubectl asks for it and
  falls back when the answer is plain application/json. /openapi/v3 says (and nothing more)
  that PATCH of services and events takes fieldValidation: kubectl's default --validate=strict
  then leaves validation to the server instead of failing on a missing schema; /openapi/v2 is
  404.
- services and events (v1), in a namespace or across all of them: list (with
  metadata.resourceVersion; fieldSelector metadata.name / metadata.namespace and equality
  labelSelectors), get, create (POST), replace (PUT, 409 on a stale resourceVersion), delete, and
  PATCH as application/merge-patch+json (RFC 7386), application/strategic-merge-patch+json
  (taken as a merge patch: directives such as $patch are dropped, lists are replaced whole) and
  application/json-patch+json (RFC 6902: add, remove, replace, test, move, copy).
  Namespaces are read-only: those of the objects, plus default and kube-system.
- watch=true on a list: a chunked stream of newline-delimited {"type", "object"} events.
  resourceVersion N replays the changes after N (from a history of the last 10000), none or 0
  first sends ADDED for every object; a resourceVersion older than the last expiry gets an
  ERROR event with a 410 Expired Status, as the real API server does. timeoutSeconds ends the
  stream cleanly. Every change bumps one global resourceVersion (as etcd's revision).

Left out: TLS, authentication and authorization, protobuf, pagination (limit is ignored and
no continue token is given), server-side apply, dry runs, admission and validation (an object is
stored as sent, with metadata filled in), subresources (status, scale), bookmarks and
sendInitialEvents, generation, finalizers and graceful deletion, every other resource and group.

The tests script it over /_test/ (plain JSON; not recorded):
  PUT    /_test/services/NS/NAME   add or replace a Service (ADDED / MODIFIED to watchers); the
                                   uid is the body's, else the one it had, else derived from
                                   NS/NAME (stable across deletions and runs)
  DELETE /_test/services/NS/NAME   remove it (DELETED)
  POST   /_test/drop-watches       close every open watch abruptly (no final chunk)
  POST   /_test/expire             every resourceVersion before the current one is too old: open
                                   watches get the 410 ERROR event and end, and so do new ones
                                   asking for an older version
  POST   /_test/fail?count=N&status=S[&retry_after=SECONDS]
                                   the next N requests outside /_test/ fail with status S (a
                                   Status object; Retry-After when asked)
  GET    /_test/records            every request recorded so far (a JSON list)
  GET    /_test/state              {"resourceVersion", "watches": open watch streams,
                                   "services", "events"}

usage: fakekube.py --port PORT [--port-file FILE] [--record FILE.jsonl] [--scenario FILE.json]
--port 0 picks a free port; --port-file gets it (written whole, once listening). The record
file gets one JSON line per request, flushed at once: {"time", "method", "path", "query",
"content_type", "body"} (body parsed as JSON, else null). --scenario loads
{"services": [Service, ...]} at start.
"""

import argparse
import copy
import datetime
import http.server
import json
import os
import queue
import socket
import sys
import threading
import time
import urllib.parse
import uuid

SERVER_VERSION = {
    'major': '1', 'minor': '32', 'gitVersion': 'v1.32.0', 'gitCommit': 'fakekube',
    'gitTreeState': 'clean', 'buildDate': '2025-01-01T00:00:00Z', 'goVersion': 'go1.23',
    'compiler': 'gc', 'platform': 'linux/amd64',
}
KINDS = {'services': 'Service', 'events': 'Event'}
ALL_VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']
HISTORY_MAX = 10000
REASONS = {
    400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound',
    405: 'MethodNotAllowed', 409: 'Conflict', 410: 'Expired', 422: 'Invalid',
    429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
}
DROP, END = 'drop', 'end'  # watch queue sentinels: close abruptly / end the stream cleanly


class ApiError(Exception):
    """An error answered as a v1 Status object."""

    def __init__(self, code, message, reason=None):
        super().__init__(message)
        self.code = code
        self.reason = reason or REASONS.get(code, 'Unknown')

    def status(self):
        return status_object(self.code, str(self), self.reason)


def status_object(code, message, reason):
    return {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
            'message': message, 'reason': reason, 'code': code}


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


# ---- discovery -----------------------------------------------------------------------------

def api_resource(name, kind, namespaced=True, verbs=None, short=None):
    res = {'name': name, 'singularName': kind.lower(), 'namespaced': namespaced, 'kind': kind,
           'verbs': verbs or ALL_VERBS}
    if short:
        res['shortNames'] = short
    return res


def discovery(path, host):
    """The answer to a discovery path, or None."""
    if path == '/version':
        return SERVER_VERSION
    if path == '/api':
        return {'kind': 'APIVersions', 'versions': ['v1'], 'serverAddressByClientCIDRs': [
            {'clientCIDR': '0.0.0.0/0', 'serverAddress': host}]}
    if path == '/apis':
        return {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': []}
    if path == '/api/v1':
        return {'kind': 'APIResourceList', 'groupVersion': 'v1', 'resources': [
            api_resource('services', 'Service', short=['svc']),
            api_resource('events', 'Event', short=['ev']),
            api_resource('namespaces', 'Namespace', False, ['get', 'list'], ['ns'])]}
    if path == '/openapi/v3':
        return {'paths': {'api/v1': {'serverRelativeURL': '/openapi/v3/api/v1?hash=fakekube1'}}}
    if path == '/openapi/v3/api/v1':
        return openapi_v1()
    return None


def openapi_v1():
    """Just enough of the core group's OpenAPI v3 document for kubectl's default (strict)
    validation: each PATCH operation takes fieldValidation, so kubectl leaves validation to the
    server (which accepts everything) instead of validating against schemas it would need."""
    param = {'name': 'fieldValidation', 'in': 'query', 'schema': {'type': 'string'}}
    paths = {}
    for resource, kind in KINDS.items():
        paths['/api/v1/namespaces/{namespace}/%s/{name}' % resource] = {'patch': {
            'x-kubernetes-group-version-kind': {'group': '', 'version': 'v1', 'kind': kind},
            'parameters': [param], 'responses': {'200': {'description': 'OK'}}}}
    return {'openapi': '3.0.0', 'info': {'title': 'fakekube', 'version': 'v1.32.0'},
            'paths': paths}


# ---- patches -------------------------------------------------------------------------------

def merge_patch(target, patch):
    """RFC 7386; keys starting with $ (strategic merge patch directives) are dropped."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith('$'):
            continue
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def pointer_parts(pointer):
    if pointer == '':
        return []
    if not pointer.startswith('/'):
        raise ApiError(422, 'bad JSON pointer %r' % pointer)
    return [p.replace('~1', '/').replace('~0', '~') for p in pointer[1:].split('/')]


def pointer_parent(doc, pointer):
    """(container, last key) of a JSON pointer in doc."""
    parts = pointer_parts(pointer)
    if not parts:
        raise ApiError(422, 'cannot patch the whole document')
    node = doc
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, 'path %s does not exist' % pointer)
    return node, parts[-1]


def pointer_get(doc, pointer):
    node, key = pointer_parent(doc, pointer)
    try:
        return node[int(key)] if isinstance(node, list) else node[key]
    except (KeyError, IndexError, ValueError, TypeError):
        raise ApiError(422, 'path %s does not exist' % pointer)


def pointer_add(doc, pointer, value):
    node, key = pointer_parent(doc, pointer)
    if isinstance(node, list):
        node.insert(len(node) if key == '-' else int(key), value)
    elif isinstance(node, dict):
        node[key] = value
    else:
        raise ApiError(422, 'path %s is not in an object or array' % pointer)


def pointer_remove(doc, pointer):
    value = pointer_get(doc, pointer)
    node, key = pointer_parent(doc, pointer)
    del node[int(key) if isinstance(node, list) else key]
    return value


def json_patch(doc, ops):
    """RFC 6902 on a copy of doc."""
    if not isinstance(ops, list):
        raise ApiError(400, 'a JSON patch is a list of operations')
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get('op'), op.get('path', '')
        if kind == 'add':
            pointer_add(doc, path, copy.deepcopy(op.get('value')))
        elif kind == 'remove':
            pointer_remove(doc, path)
        elif kind == 'replace':
            pointer_remove(doc, path)
            pointer_add(doc, path, copy.deepcopy(op.get('value')))
        elif kind == 'test':
            if pointer_get(doc, path) != op.get('value'):
                raise ApiError(422, 'test of %s failed' % path)
        elif kind in ('move', 'copy'):
            value = pointer_get(doc, op.get('from', ''))
            if kind == 'move':
                pointer_remove(doc, op.get('from', ''))
            pointer_add(doc, path, copy.deepcopy(value))
        else:
            raise ApiError(422, 'unknown JSON patch operation %r' % kind)
    return doc


def apply_patch(obj, content_type, patch):
    ctype = (content_type or '').split(';')[0].strip()
    if ctype == 'application/json-patch+json':
        return json_patch(obj, patch)
    if ctype in ('application/merge-patch+json', 'application/strategic-merge-patch+json'):
        if not isinstance(patch, dict):
            raise ApiError(400, 'a merge patch is a JSON object')
        return merge_patch(obj, patch)
    raise ApiError(415, 'unsupported patch type %r' % ctype, 'UnsupportedMediaType')


# ---- selectors -----------------------------------------------------------------------------

def parse_selector(text):
    """'a=b,c!=d' -> [(key, wanted, equal?)]; only equality-based terms."""
    terms = []
    for term in filter(None, (t.strip() for t in (text or '').split(','))):
        if '!=' in term:
            key, value = term.split('!=', 1)
            terms.append((key.strip(), value.strip(), False))
        elif '=' in term:
            key, value = term.split('==' if '==' in term else '=', 1)
            terms.append((key.strip(), value.strip(), True))
        else:
            raise ApiError(400, 'unsupported selector term %r' % term)
    return terms


def selector_matches(terms, fields):
    return all((fields.get(key) == value) == equal for key, value, equal in terms)


class Selection:
    """Which objects a list or watch request asks for."""

    def __init__(self, resource, namespace, query):
        self.resource = resource
        self.namespace = namespace
        self.fields = parse_selector(query.get('fieldSelector'))
        self.labels = parse_selector(query.get('labelSelector'))

    def matches(self, resource, obj):
        meta = obj.get('metadata', {})
        if resource != self.resource:
            return False
        if self.namespace and meta.get('namespace') != self.namespace:
            return False
        fields = {'metadata.name': meta.get('name'), 'metadata.namespace': meta.get('namespace')}
        return (selector_matches(self.fields, fields) and
                selector_matches(self.labels, meta.get('labels') or {}))


# ---- the state -----------------------------------------------------------------------------

class Watch:
    """One open watch stream: its selection, the queue of its events and the resourceVersion
    it has been given (for the message of a 410)."""

    def __init__(self, selection, rv):
        self.selection = selection
        self.events = queue.Queue()
        self.rv = rv


class State:
    """The objects, the global resourceVersion, the change history, the open watches, the
    injected failures and the request record."""

    def __init__(self, record_path):
        self.lock = threading.Lock()
        self.rv = 0
        self.objects = {'services': {}, 'events': {}}
        self.history = []  # (rv, resource, type, object)
        self.expired_before = 0
        self.watches = []
        self.fail = {'count': 0, 'status': 503, 'retry_after': None}
        self.records = []
        self.record_file = open(record_path, 'a', encoding='utf-8') if record_path else None

    def record(self, entry):
        line = json.dumps(entry, sort_keys=True)
        with self.lock:
            self.records.append(entry)
            if self.record_file:
                self.record_file.write(line + '\n')
                self.record_file.flush()

    def take_failure(self):
        """(status, retry_after) when this request is to fail, else None."""
        with self.lock:
            if self.fail['count'] <= 0:
                return None
            self.fail['count'] -= 1
            return self.fail['status'], self.fail['retry_after']

    # callers hold the lock from here on

    def _publish(self, resource, kind, obj):
        self.history.append((self.rv, resource, kind, copy.deepcopy(obj)))
        del self.history[:-HISTORY_MAX]
        for watch in self.watches:
            if watch.selection.matches(resource, obj):
                watch.events.put({'type': kind, 'object': copy.deepcopy(obj)})
                watch.rv = self.rv

    def _store(self, resource, obj, old):
        """Fill in obj's metadata (from old, when replacing), store it, tell the watchers."""
        meta = obj.setdefault('metadata', {})
        key = (meta['namespace'], meta['name'])
        self.rv += 1
        meta['resourceVersion'] = str(self.rv)
        old_meta = (old or {}).get('metadata', {})
        meta['uid'] = meta.get('uid') or old_meta.get('uid') or str(
            uuid.uuid5(uuid.NAMESPACE_URL, 'fakekube/%s/%s/%s' % (resource, key[0], key[1])))
        meta['creationTimestamp'] = old_meta.get('creationTimestamp') or now_rfc3339()
        obj.setdefault('apiVersion', 'v1')
        obj.setdefault('kind', KINDS[resource])
        self.objects[resource][key] = obj
        self._publish(resource, 'MODIFIED' if old else 'ADDED', obj)
        return copy.deepcopy(obj)

    def put(self, resource, namespace, name, obj, precondition=False):
        """Add or replace; with precondition, a resourceVersion in obj must be the current."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault('metadata', {})
        meta.update(namespace=namespace, name=name)
        old = self.objects[resource].get((namespace, name))
        sent_rv = meta.pop('resourceVersion', None)
        if precondition and old and sent_rv and sent_rv != old['metadata']['resourceVersion']:
            raise ApiError(409, 'Operation cannot be fulfilled on %s "%s": the object has been '
                           'modified; please apply your changes to the latest version and try '
                           'again' % (resource, name))
        return self._store(resource, obj, old)

    def create(self, resource, namespace, obj):
        meta = obj.setdefault('metadata', {})
        name = meta.get('name')
        if not name and meta.get('generateName'):
            name = meta['generateName'] + uuid.uuid4().hex[:5]
        if not name:
            raise ApiError(422, 'metadata.name or metadata.generateName is required')
        if (namespace, name) in self.objects[resource]:
            raise ApiError(409, '%s "%s" already exists' % (resource, name), 'AlreadyExists')
        meta.pop('uid', None)
        return self.put(resource, namespace, name, obj)

    def get(self, resource, namespace, name):
        obj = self.objects[resource].get((namespace, name))
        if obj is None:
            raise ApiError(404, '%s "%s" not found' % (resource, name))
        return copy.deepcopy(obj)

    def patch(self, resource, namespace, name, content_type, patch):
        old = self.get(resource, namespace, name)
        new = apply_patch(old, content_type, patch)
        if not isinstance(new, dict):
            raise ApiError(422, 'the patch does not leave an object')
        new_meta = new.setdefault('metadata', {})
        sent_rv = new_meta.get('resourceVersion')  # a patch may set it as a precondition
        if sent_rv not in (None, old['metadata']['resourceVersion']):
            raise ApiError(409, 'the object has been modified (resourceVersion %s, now %s)' % (
                sent_rv, old['metadata']['resourceVersion']))
        new_meta.update(namespace=namespace, name=name, uid=old['metadata']['uid'])
        new_meta.pop('resourceVersion', None)
        return self._store(resource, new, self.objects[resource][(namespace, name)])

    def delete(self, resource, namespace, name):
        obj = self.objects[resource].pop((namespace, name), None)
        if obj is None:
            raise ApiError(404, '%s "%s" not found' % (resource, name))
        self.rv += 1
        obj['metadata']['resourceVersion'] = str(self.rv)
        self._publish(resource, 'DELETED', obj)
        return copy.deepcopy(obj)

    def list(self, selection):
        items = [copy.deepcopy(obj) for (ns, name), obj in sorted(
            self.objects[selection.resource].items()) if selection.matches(selection.resource, obj)]
        return {'kind': KINDS[selection.resource] + 'List', 'apiVersion': 'v1',
                'metadata': {'resourceVersion': str(self.rv)}, 'items': items}

    def namespaces(self):
        names = {'default', 'kube-system'}
        for objects in self.objects.values():
            names.update(ns for ns, _ in objects)
        return sorted(names)

    def open_watch(self, selection, since):
        """Register a watch, queueing what it must see first (replayed history, the current
        objects, or the 410 error)."""
        watch = Watch(selection, self.rv if since is None else since)
        if since is not None and since < self.expired_before:
            watch.events.put(expired_event(since, self.rv))
            watch.events.put(END)
            return watch
        if since is None:
            for obj in self.list(selection)['items']:
                watch.events.put({'type': 'ADDED', 'object': obj})
        else:
            for rv, resource, kind, obj in self.history:
                if rv > since and selection.matches(resource, obj):
                    watch.events.put({'type': kind, 'object': copy.deepcopy(obj)})
                    watch.rv = rv
        self.watches.append(watch)
        return watch

    def close_watch(self, watch):
        with self.lock:
            if watch in self.watches:
                self.watches.remove(watch)

    def expire(self):
        self.expired_before = self.rv
        for watch in self.watches:
            watch.events.put(expired_event(watch.rv, self.rv))
            watch.events.put(END)

    def drop_watches(self):
        for watch in self.watches:
            watch.events.put(DROP)
        return len(self.watches)


def expired_event(since, current):
    message = 'too old resource version: %d (%d)' % (since, current)
    return {'type': 'ERROR', 'object': status_object(410, message, 'Expired')}


# ---- HTTP ----------------------------------------------------------------------------------

def split_api_path(path):
    """(resource, namespace, name) of a /api/v1 path for services, events or namespaces;
    ApiError 404 for anything else."""
    parts = [urllib.parse.unquote(p) for p in path.split('/')[3:]]  # after /api/v1/
    if len(parts) >= 3 and parts[0] == 'namespaces' and parts[2] in KINDS and len(parts) <= 4:
        return parts[2], parts[1], parts[3] if len(parts) == 4 else None
    if len(parts) == 1 and parts[0] in KINDS:
        return parts[0], None, None
    if parts and parts[0] == 'namespaces' and len(parts) <= 2:
        return 'namespaces', None, parts[1] if len(parts) == 2 else None
    raise ApiError(404, 'the server could not find the requested resource')


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fakekube'
    state = None  # the State, set by main

    def log_message(self, format, *args):  # quiet: the record file says what happened
        pass

    # -- plumbing

    def read_body(self):
        if 'chunked' in self.headers.get('Transfer-Encoding', ''):
            data = b''
            while True:
                size = int(self.rfile.readline().split(b';')[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if not size:
                    break
                data += chunk
            return data
        return self.rfile.read(int(self.headers.get('Content-Length') or 0))

    def send_json(self, code, obj, extra_headers=None):
        data = (json.dumps(obj) + '\n').encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        raw = self.read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        try:
            if url.path.startswith('/_test/'):
                self.control(url.path, query, body)
            else:
                self.api(url, query, body)
        except ApiError as err:
            self.send_json(err.code, err.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = dispatch

    # -- the API

    def api(self, url, query, body):
        self.state.record({
            'time': time.time(), 'method': self.command, 'path': url.path, 'query': query,
            'content_type': self.headers.get('Content-Type'), 'body': body})
        failure = self.state.take_failure()
        if failure:
            code, retry_after = failure
            headers = {'Retry-After': str(retry_after)} if retry_after is not None else None
            self.send_json(code, status_object(code, 'injected failure (%d)' % code,
                                               REASONS.get(code, 'Unknown')), headers)
            return
        answer = discovery(url.path, self.headers.get('Host', ''))
        if answer is not None and self.command == 'GET':
            self.send_json(200, answer)
            return
        if not url.path.startswith('/api/v1/'):
            raise ApiError(404, 'the server could not find the requested resource')
        resource, namespace, name = split_api_path(url.path)
        if resource == 'namespaces':
            self.namespaces(name)
        elif name is None:
            self.collection(resource, namespace, query, body)
        else:
            self.item(resource, namespace, name, body)

    def namespaces(self, name):
        if self.command != 'GET':
            raise ApiError(405, 'namespaces are read-only here')
        with self.state.lock:
            names = self.state.namespaces()
            rv = str(self.state.rv)
        items = [{'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': n},
                  'status': {'phase': 'Active'}} for n in names if name in (None, n)]
        if name is None:
            self.send_json(200, {'kind': 'NamespaceList', 'apiVersion': 'v1',
                                 'metadata': {'resourceVersion': rv}, 'items': items})
        elif items:
            self.send_json(200, items[0])
        else:
            raise ApiError(404, 'namespaces "%s" not found' % name)

    def collection(self, resource, namespace, query, body):
        selection = Selection(resource, namespace, query)
        if self.command == 'GET' and query.get('watch') in ('true', '1'):
            self.watch(selection, query)
        elif self.command == 'GET':
            with self.state.lock:
                answer = self.state.list(selection)
            self.send_json(200, answer)
        elif self.command == 'POST' and namespace:
            if not isinstance(body, dict):
                raise ApiError(400, 'the body is not a JSON object')
            with self.state.lock:
                answer = self.state.create(resource, namespace, body)
            self.send_json(201, answer)
        else:
            raise ApiError(405, '%s is not supported on this collection' % self.command)

    def item(self, resource, namespace, name, body):
        state = self.state
        with state.lock:
            if self.command == 'GET':
                code, answer = 200, state.get(resource, namespace, name)
            elif self.command == 'PATCH':
                code, answer = 200, state.patch(resource, namespace, name,
                                                self.headers.get('Content-Type'), body)
            elif self.command == 'PUT' and isinstance(body, dict):
                state.get(resource, namespace, name)
                code, answer = 200, state.put(resource, namespace, name, body, True)
            elif self.command == 'DELETE':
                code, answer = 200, state.delete(resource, namespace, name)
            else:
                raise ApiError(405, '%s is not supported here' % self.command)
        self.send_json(code, answer)

    # -- watches

    def watch(self, selection, query):
        since = query.get('resourceVersion')
        try:
            since = int(since) if since not in (None, '', '0') else None
        except ValueError:
            raise ApiError(400, 'bad resourceVersion %r' % since)
        timeout = float(query['timeoutSeconds']) if query.get('timeoutSeconds') else None
        with self.state.lock:
            watch = self.state.open_watch(selection, since)
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Transfer-Encoding', 'chunked')
        self.end_headers()
        self.close_connection = True
        try:
            self.stream(watch, timeout)
        finally:
            self.state.close_watch(watch)

    def stream(self, watch, timeout):
        deadline = time.monotonic() + timeout if timeout else None
        while deadline is None or time.monotonic() < deadline:
            try:
                event = watch.events.get(timeout=0.5)
            except queue.Empty:
                if self.client_gone():
                    return
                continue
            if event == DROP:
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if event == END:
                break
            self.write_chunk((json.dumps(event) + '\n').encode())
        self.write_chunk(b'')

    def write_chunk(self, data):
        self.wfile.write(b'%x\r\n%s\r\n' % (len(data), data))
        self.wfile.flush()

    def client_gone(self):
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b''
        except BlockingIOError:
            return False
        except OSError:
            return True

    # -- the control API

    def control(self, path, query, body):
        parts = [urllib.parse.unquote(p) for p in path.split('/')[2:]]
        state = self.state
        with state.lock:
            if parts[0] == 'services' and len(parts) == 3 and self.command == 'PUT':
                if not isinstance(body, dict):
                    raise ApiError(400, 'the body is not a Service object')
                answer = state.put('services', parts[1], parts[2], body)
            elif parts[0] == 'services' and len(parts) == 3 and self.command == 'DELETE':
                answer = state.delete('services', parts[1], parts[2])
            elif parts == ['drop-watches'] and self.command == 'POST':
                answer = {'dropped': state.drop_watches()}
            elif parts == ['expire'] and self.command == 'POST':
                state.expire()
                answer = {'expiredBefore': state.expired_before}
            elif parts == ['fail'] and self.command == 'POST':
                answer = self.set_failure(query)
            elif parts == ['records'] and self.command == 'GET':
                answer = list(state.records)
            elif parts == ['state'] and self.command == 'GET':
                answer = {'resourceVersion': state.rv, 'watches': len(state.watches),
                          'services': state.list(Selection('services', None, {}))['items'],
                          'events': state.list(Selection('events', None, {}))['items']}
            else:
                raise ApiError(404, 'no such control endpoint: %s %s' % (self.command, path))
        self.send_json(200, answer)

    def set_failure(self, query):
        try:
            fail = {'count': int(query.get('count', '1')),
                    'status': int(query.get('status', '503')),
                    'retry_after': int(query['retry_after']) if 'retry_after' in query else None}
        except ValueError:
            raise ApiError(400, 'count, status and retry_after are integers')
        self.state.fail = fail
        return fail


# ---- main ----------------------------------------------------------------------------------

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def load_scenario(state, path):
    with open(path, encoding='utf-8') as f:
        scenario = json.load(f)
    with state.lock:
        for svc in scenario.get('services', []):
            meta = svc.get('metadata', {})
            state.put('services', meta.get('namespace', 'default'), meta['name'], svc)


def write_port(path, port):
    tmp = '%s.tmp%d' % (path, os.getpid())
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write('%d\n' % port)
    os.rename(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--port', type=int, required=True, help='0: any free port')
    ap.add_argument('--port-file', help='write the port here once listening')
    ap.add_argument('--record', help='append one JSON line per API request here')
    ap.add_argument('--scenario', help='JSON file {"services": [...]} loaded at start')
    args = ap.parse_args(argv)
    Handler.state = State(args.record)
    if args.scenario:
        load_scenario(Handler.state, args.scenario)
    server = Server(('127.0.0.1', args.port), Handler)
    if args.port_file:
        write_port(args.port_file, server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
