#!/usr/bin/env python3
"""server_access.py URL ADMIN_TOKEN STUDY PHASE - access faults (issue 14)
against a real server. Users (made by server_access.sh): admin (the only
admin), alice, bob, carol (readers), password pw-NAME-0123456789.

PHASE main:
  login limits per (user, address): an attacker at 127.0.0.2 hammering
  alice gets 429 with a growing Retry-After, alice at 127.0.0.1 still logs
  in; the attacker's refused attempts are one (or a few) login.limited
  audit rows whose counts sum to the refusals seen;
  event streams end within seconds of logout, of the user being disabled
  and of a password change;
  the last admin cannot be demoted or disabled (409 last_admin);
  GET /api/v1/audit: filter values decoded byte-exact (%25, +, %2B, UTF-8),
  %00 refused, limit checked, and paging by next_before loses nothing;
  a login posted from another site's page (Sec-Fetch-Site) is refused;
  login and logout answers clear the browser's cache (Clear-Site-Data).
PHASE limits|streams|last_admin|audit|cross_site|clear_cache: that check
  alone.
PHASE expiry: with session_idle 60, a stream alone ends when its session
  goes idle.
PHASE hash-memory PID: 48 logins at once (wrong passwords, each a new name,
  from four addresses, so no delay holds them back) raise the server's
  peak memory (VmHWM of PID) by less than 10 password hashes' worth: at
  most 4 argon2id checks of 64 MiB run at once, the rest wait their turn
  (or, after 10 s without one, get 503 busy).
PHASE history-audit STUDY2: with an analysed study STUDY2, alice's reading
  of a finding's history is in the audit log (findings.read), as the
  findings list is.
PHASE proxy: the server trusts 127.0.0.9 as a reverse proxy
  (trusted_proxies): behind it, failures from one client address
  (X-Forwarded-For) do not hold back the same name from another, and the
  audit log names the client's address; only the last element of the last
  X-Forwarded-For counts, and only from the proxy; an IPv6 client counts
  by its /64.
PHASE limited-before-stop: a short burst of refusals for carol, left open.
PHASE limited-after-restart: that burst was written at shutdown.
Prints "ok - ..." per check; exit 1 on the first failure."""
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse

URL, ADMIN_TOKEN, STUDY, PHASE = sys.argv[1:5]
HOST, PORT = urllib.parse.urlparse(URL).hostname, urllib.parse.urlparse(URL).port


def fail(msg):
    print("FAIL - " + msg)
    sys.exit(1)


def ok(msg):
    print("ok - " + msg)


def request(method, path, body=None, headers=None, source="127.0.0.1"):
    """One request on a fresh connection from `source`: (status, headers, body)."""
    c = http.client.HTTPConnection(HOST, PORT, timeout=30, source_address=(source, 0))
    h = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    c.close()
    return out


def login(user, password=None, source="127.0.0.1"):
    st, h, b = request("POST", "/api/v1/session",
                       {"user": user, "password": password or "pw-%s-0123456789" % user},
                       source=source)
    if st != 200:
        return st, h, None
    cookie = h["set-cookie"].split(";")[0]
    return st, h, {"Cookie": cookie, "X-CSRF-Token": json.loads(b)["csrf_token"]}


def must_login(user, source="127.0.0.1"):
    st, _, s = login(user, source=source)
    if st != 200:
        fail("login %s from %s: %d" % (user, source, st))
    return s


ADMIN = {"Authorization": "Bearer " + ADMIN_TOKEN}


def audit(query):
    st, _, b = request("GET", "/api/v1/audit?" + query, headers=ADMIN)
    if st != 200:
        fail("GET /api/v1/audit?%s: %d %s" % (query, st, b[:200]))
    return json.loads(b)


def limited_rows(user, ip):
    rows = [e for e in audit("action=login.limited&limit=1000")["entries"]
            if e["user"] == user and e["ip"] == ip]
    total = 0
    for e in rows:
        parts = dict(p.strip().split(" ", 1) for p in e["detail"].split(";"))
        total += int(parts["refused"])
        if not int(parts["first_ms"]) <= int(parts["last_ms"]):
            fail("login.limited row with first_ms after last_ms: %r" % e)
    return rows, total


# ---- login limits ---------------------------------------------------------
def check_login_limits():
    refused = 0
    attacker = "127.0.0.2"
    for i in range(4):  # three free failures, the fourth starts a 2 s delay
        st, _, _ = login("alice", "wrong-password-%d" % i, source=attacker)
        if st != 401:
            fail("attacker's failure %d: %d, want 401" % (i + 1, st))
    st, h, _ = login("alice", "wrong-again", source=attacker)
    if st != 429 or "retry-after" not in h:
        fail("after four failures: %d, want 429 with Retry-After" % st)
    refused += 1
    first_wait = int(h["retry-after"])
    # While the pair's delay runs even the right password is not checked.
    st, _, _ = login("alice", source=attacker)
    if st != 429:
        fail("the right password from the attacker's pair during its delay: %d, want 429" % st)
    refused += 1
    # Alice from her own address is not locked out by the attacker.
    st, _, _ = login("alice")
    if st != 200:
        fail("alice from 127.0.0.1 while 127.0.0.2 is limited: %d, want 200" % st)
    ok("attacker at 127.0.0.2 limited (429, Retry-After %d s); alice at 127.0.0.1 logs in" %
       first_wait)
    # Wait until the pair is admitted again (a 401), then the delay doubled.
    deadline = time.time() + first_wait + 10
    while True:
        st, _, _ = login("alice", "wrong-password-x", source=attacker)
        if st == 401:
            break
        if st != 429:
            fail("polling the attacker's pair: %d" % st)
        refused += 1
        if time.time() > deadline:
            fail("the attacker's pair was never admitted after Retry-After %d s" % first_wait)
        time.sleep(0.25)
    st, h, _ = login("alice", "wrong-password-y", source=attacker)
    if st != 429:
        fail("after the fifth failure: %d, want 429" % st)
    refused += 1
    second_wait = int(h["retry-after"])
    if second_wait <= first_wait:
        fail("Retry-After did not grow: %d then %d" % (first_wait, second_wait))
    ok("Retry-After grows with each failure: %d s, then %d s" % (first_wait, second_wait))
    # A burst of 50 quick attempts: all refused unchecked, audited as one row.
    t0 = time.time()
    for i in range(50):
        st, _, _ = login("alice", "burst-%d" % i, source=attacker)
        if st != 429:
            fail("burst attempt %d: %d, want 429 (%.1f s into a %d s delay)" %
                 (i, st, time.time() - t0, second_wait))
        refused += 1
    st, _, _ = login("alice")
    if st != 200:
        fail("alice from 127.0.0.1 after the burst: %d" % st)
    rows, total = limited_rows("alice", attacker)
    if total != refused:
        fail("login.limited rows count %d refusals, the attacker saw %d: %r" %
             (total, refused, rows))
    if not 1 <= len(rows) <= 3:
        fail("%d refusals written as %d login.limited rows, want 1-3" % (refused, len(rows)))
    each = audit("action=session.login_failed&user=alice&limit=1000")["entries"]
    if any("rate limited" in e["detail"] for e in each):
        fail("refused attempts still written one row each")
    own, _ = limited_rows("alice", "127.0.0.1")
    if own:
        fail("alice's own address has login.limited rows: %r" % own)
    ok("%d refused attempts audited as %d login.limited row(s) whose counts sum to %d" %
       (refused, len(rows), total))


# ---- event streams end with their session ---------------------------------
class Stream:
    """GET /api/v1/studies/STUDY/events read on a thread until it ends."""

    def __init__(self, session):
        self.sock = socket.create_connection((HOST, PORT), timeout=60)
        req = ("GET /api/v1/studies/%s/events HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n"
               "Accept: text/event-stream\r\n\r\n" % (STUDY, session["Cookie"]))
        self.sock.sendall(req.encode())
        self.data = b""
        self.ended = threading.Event()
        self.got_progress = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            while True:
                b = self.sock.recv(65536)
                if not b:
                    break
                self.data += b
                if b"event: progress" in self.data:
                    self.got_progress.set()
                if b"\r\n0\r\n\r\n" in self.data:  # the last chunk
                    break
        except OSError:
            pass
        self.ended.set()

    def close(self):
        self.sock.close()


def check_stream_ends(what, user, end_it):
    s = must_login(user)
    st = Stream(s)
    if not st.got_progress.wait(10):
        fail("%s: the stream sent no progress event: %r" % (what, st.data[:300]))
    if not st.data.startswith(b"HTTP/1.1 200"):
        fail("%s: the stream did not open: %r" % (what, st.data[:200]))
    time.sleep(0)  # the stream is live; now end the session
    t = time.time()
    end_it(s)
    if not st.ended.wait(8):
        st.close()
        fail("%s: the event stream still open 8 s after the session ended" % what)
    took = time.time() - t
    if b"event: session_ended" not in st.data:
        fail("%s: the stream ended without a session_ended event" % what)
    st.close()
    ok("%s: the event stream ended %.1f s later (session_ended, then the last chunk)" %
       (what, took))


def logout(s):
    st, _, _ = request("DELETE", "/api/v1/session", headers=s)
    if st != 204:
        fail("logout: %d" % st)


def put_user(name, body, session=None):
    return request("PUT", "/api/v1/users/" + name, body, headers=session or ADMIN)


def disable_bob(_):
    st, _, b = put_user("bob", {"disabled": True})
    if st != 200:
        fail("disable bob: %d %s" % (st, b[:200]))


def new_password_carol(_):
    st, _, b = put_user("carol", {"password": "pw-carol-new-0123456789"})
    if st != 200:
        fail("carol's new password: %d %s" % (st, b[:200]))


def check_streams():
    check_stream_ends("logout", "alice", logout)
    check_stream_ends("user disabled", "bob", disable_bob)
    check_stream_ends("password changed", "carol", new_password_carol)
    # A stream whose session stays keeps going (it is not just cut).
    s = must_login("alice")
    st = Stream(s)
    if not st.got_progress.wait(10):
        fail("a live session's stream sent no progress event")
    if st.ended.wait(5):
        fail("a live session's stream ended by itself: %r" % st.data[-200:])
    st.close()
    ok("a live session's stream stays open")


# ---- the last admin --------------------------------------------------------
def check_last_admin():
    s = must_login("admin")
    for body in ({"role": "reader"}, {"disabled": True}):
        st, _, b = put_user("admin", body, s)
        if st != 409 or json.loads(b).get("error") != "last_admin":
            fail("the last admin %r: %d %s, want 409 last_admin" % (body, st, b[:200]))
    st, _, b = request("GET", "/api/v1/users", headers=s)
    me = [u for u in json.loads(b)["users"] if u["name"] == "admin"][0]
    if me["role"] != "admin" or me["disabled"]:
        fail("a refused change was saved: %r" % me)
    st, _, b = request("POST", "/api/v1/users",
                       {"name": "admin2", "role": "admin", "password": "pw-admin2-0123456789"},
                       headers=s)
    if st != 201:
        fail("add admin2: %d %s" % (st, b[:200]))
    st, _, b = put_user("admin", {"role": "reader"}, s)
    if st != 200:
        fail("demoting admin with admin2 there: %d %s" % (st, b[:200]))
    s2 = must_login("admin2")
    st, _, b = put_user("admin2", {"disabled": True}, s2)
    if st != 409 or json.loads(b).get("error") != "last_admin":
        fail("disabling admin2, now the last admin: %d %s" % (st, b[:200]))
    ok("the last admin cannot be demoted or disabled (409 last_admin); another admin can be")
    # An unknown role is refused with a reason naming every role accepted.
    st, _, b = request("GET", "/api/v1/vocabulary")
    roles = [r["name"] for r in json.loads(b)["roles"]]
    for method, path, body in (("POST", "/api/v1/users", {"name": "nurse1", "role": "nurse",
                                                           "password": "pw-nurse-0123456789"}),
                               ("PUT", "/api/v1/users/alice", {"role": "nurse"})):
        st, _, b = request(method, path, body, headers=ADMIN)
        reason = json.loads(b).get("reason", "")
        if st != 400 or json.loads(b).get("error") != "bad_role" or \
                any(r not in reason for r in roles):
            fail("%s %s with role nurse: %d %r, want 400 bad_role naming %s" %
                 (method, path, st, reason, ", ".join(roles)))
    ok("an unknown role: 400 bad_role naming every role (%s)" % ", ".join(roles))


# ---- the audit log over HTTP ------------------------------------------------
def check_audit_http():
    names = ["50%off", "a+b", "a b", "zo\u00eb", "x&y=z", "a"]
    for n in names:  # failed logins are audited under the name given
        st, _, _ = login(n, "wrong-password-zz", source="127.0.0.3")
        if st != 401:
            fail("login as %r: %d" % (n, st))
    for n in names:
        for q in (urllib.parse.quote(n, safe=""), urllib.parse.quote_plus(n)):
            rows = audit("action=session.login_failed&limit=1000&user=" + q)["entries"]
            if [e["user"] for e in rows] != [n]:
                fail("user=%s: got %r, want exactly one row for %r" %
                     (q, [e["user"] for e in rows], n))
    ok("audit filters decoded byte-exact: %s" % ", ".join(repr(n) for n in names))
    # %00 must not cut the filter short to "a" (the server keeps "%00"
    # literal, or refuses): never alice's or a's rows.
    st, _, b = request("GET", "/api/v1/audit?action=session.login_failed&user=a%00b",
                       headers=ADMIN)
    if st == 200:
        got = {e["user"] for e in json.loads(b)["entries"]}
        if got - {"a%00b"}:
            fail("user=a%%00b matched other users: %r" % got)
    elif st != 400:
        fail("user=a%%00b: %d" % st)
    for q in ("limit=1001", "limit=-1", "limit=x", "before=1x"):
        st, _, _ = request("GET", "/api/v1/audit?" + q, headers=ADMIN)
        if st != 400:
            fail("audit ?%s: %d, want 400" % (q, st))
    ok("audit: %00 does not cut a filter short; bad limits are refused (400)")
    for _ in range(30):  # each query is itself an audit row: enough to page
        audit("limit=1")
    full = audit("limit=1000")["entries"]
    if len(full) >= 1000 or len(full) < 30:
        fail("unexpected audit size %d" % len(full))
    top = full[0]["n"] + 1
    for limit in (1, 7, len(full)):
        walked, before = [], top
        while before is not None:
            page = audit("limit=%d&before=%d" % (limit, before))
            walked += page["entries"]
            before = page["next_before"]
            if len(page["entries"]) > limit:
                fail("a page of %d entries with limit %d" % (len(page["entries"]), limit))
        if [e["n"] for e in walked] != [e["n"] for e in full] or walked != full:
            fail("paging by %d: %d entries, want the %d of one query" %
                 (limit, len(walked), len(full)))
    ok("audit paging by next_before (limit 1, 7, %d) returns every entry once, in order" %
       len(full))


# ---- login CSRF ------------------------------------------------------------
def check_login_cross_site():
    """A hostile page's form (text/plain, so no CORS preflight) posting a
    login: the browser says Sec-Fetch-Site cross-site (or same-site, a
    sibling host); it must not get a session cookie."""
    body = json.dumps({"user": "alice", "password": "pw-alice-0123456789", "x": "="}).encode()
    for site in ("cross-site", "same-site"):
        c = http.client.HTTPConnection(HOST, PORT, timeout=30)
        c.request("POST", "/api/v1/session", body=body,
                  headers={"Content-Type": "text/plain", "Origin": "https://evil.example",
                           "Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate"})
        r = c.getresponse()
        b = r.read()
        c.close()
        if r.status != 403 or r.getheader("Set-Cookie") or \
                json.loads(b).get("error") != "cross_site":
            fail("a login posted with Sec-Fetch-Site %s: %d, cookie %r, want 403 cross_site "
                 "and no cookie" % (site, r.status, r.getheader("Set-Cookie")))
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {}):
        st, h, _ = request("POST", "/api/v1/session",
                           {"user": "alice", "password": "pw-alice-0123456789"}, headers=headers)
        if st != 200 or "set-cookie" not in h:
            fail("a login from the server's own page (%r): %d" % (headers, st))
    ok("a login posted from another site gets 403 cross_site and no cookie; the own page, "
       "a typed address and scripts log in")


# ---- the browser's cache of frames at the end of a session -----------------
def check_clear_cache():
    """Frames are cached for a year: login and logout answers tell the
    browser to drop its cache of the site (Clear-Site-Data: "cache")."""
    st, h, b = request("POST", "/api/v1/session",
                       {"user": "alice", "password": "pw-alice-0123456789"})
    if st != 200 or h.get("clear-site-data") != '"cache"':
        fail("login: %d, Clear-Site-Data %r, want '\"cache\"'" % (st, h.get("clear-site-data")))
    s = {"Cookie": h["set-cookie"].split(";")[0], "X-CSRF-Token": json.loads(b)["csrf_token"]}
    st, h, _ = request("DELETE", "/api/v1/session", headers=s)
    if st != 204 or h.get("clear-site-data") != '"cache"':
        fail("logout: %d, Clear-Site-Data %r, want '\"cache\"'" % (st, h.get("clear-site-data")))
    ok('login and logout tell the browser to drop its cached frames (Clear-Site-Data: "cache")')


CHECKS = {"limits": check_login_limits, "streams": check_streams,
          "last_admin": check_last_admin, "audit": check_audit_http,
          "cross_site": check_login_cross_site, "clear_cache": check_clear_cache}
if PHASE == "main":
    for check in CHECKS.values():
        check()
elif PHASE in CHECKS:  # one check alone (to try it against an older server)
    CHECKS[PHASE]()
elif PHASE == "expiry":  # the server runs with session_idle 60 s
    # The clock starts before the login: the server's idle time starts
    # when it answers, which on a busy machine can be seconds later.
    t = time.time()
    s = must_login("alice")
    st = Stream(s)
    if not st.got_progress.wait(10):
        fail("expiry: the stream sent no progress event")
    # Nothing else is sent with this session: it goes idle 60 s after login.
    if not st.ended.wait(75):
        st.close()
        fail("expiry: the stream still open 75 s after the last request (idle 60 s)")
    took = time.time() - t
    if took < 58 or b"event: session_ended" not in st.data:
        fail("expiry: the stream ended after %.1f s, session_ended %s" %
             (took, b"session_ended" in st.data))
    st.close()
    ok("expiry: the stream of an idle session ended %.1f s after login (idle 60 s)" % took)
elif PHASE == "hash-memory":
    def peak_kib():
        with open("/proc/%s/status" % sys.argv[5]) as f:
            return int([l for l in f if l.startswith("VmHWM:")][0].split()[1])
    before = peak_kib()
    go = threading.Barrier(48)
    answers = []

    def attempt(i):
        go.wait()
        st, _, b = request("POST", "/api/v1/session",
                           {"user": "flood-%d" % i, "password": "wrong-password-%d" % i},
                           source="127.0.1.%d" % (i % 4 + 1))
        # 503 busy: no turn within the wait (a loaded machine); never more memory
        answers.append(st if st != 503 or json.loads(b).get("error") != "busy" else "busy")
    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(48)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grown = peak_kib() - before
    if not set(answers) <= {401, "busy"} or len(answers) != 48:
        fail("hash-memory: answers %r, want 401 (or 503 busy) for each wrong password" %
             answers)
    if grown >= 10 * 64 * 1024:
        fail("hash-memory: 48 logins at once raised the peak memory by %d MiB, want under %d" %
             (grown // 1024, 10 * 64))
    if login("alice")[0] != 200:
        fail("hash-memory: alice cannot log in after the flood")
    ok("48 logins at once: peak memory up %d MiB (at most 4 hashes of 64 MiB at once); "
       "%d answered 503 busy" % (grown // 1024, answers.count("busy")))
elif PHASE == "history-audit":
    three = sys.argv[5]
    deadline = time.time() + 120
    while True:  # the server analyses the imported study at its start
        st, _, b = request("GET", "/api/v1/studies/" + three, headers=ADMIN)
        if st == 200 and json.loads(b)["state"] == "complete":
            break
        if time.time() > deadline:
            fail("history-audit: study %s not analysed after 120 s: %d %s" % (three, st, b[:200]))
        time.sleep(0.2)
    s = must_login("alice")
    st, _, b = request("POST", "/api/v1/studies/%s/findings" % three,
                       {"seq_from": 0, "type": "polyp", "note": "history"}, headers=s)
    if st != 201:
        fail("history-audit: create a finding: %d %s" % (st, b[:200]))
    path = "/api/v1/studies/%s/findings/%d/history" % (three, json.loads(b)["id"])
    st, _, b = request("GET", path, headers=s)
    if st != 200:
        fail("history-audit: GET %s: %d %s" % (path, st, b[:200]))
    rows = audit("action=findings.read&study=%s&user=alice" % three)["entries"]
    if not any(path in e["detail"] for e in rows):
        fail("history-audit: alice read %s; no findings.read entry names it: %r" % (path, rows))
    ok("alice's reading of a finding's history is audited (findings.read, the path)")
elif PHASE == "proxy":
    PROXY = "127.0.0.9"

    def via(user, password, source=PROXY, forwarded=()):
        """A login whose request carries one X-Forwarded-For header per item."""
        c = http.client.HTTPConnection(HOST, PORT, timeout=30, source_address=(source, 0))
        body = json.dumps({"user": user, "password": password}).encode()
        c.putrequest("POST", "/api/v1/session")
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", str(len(body)))
        for f in forwarded:
            c.putheader("X-Forwarded-For", f)
        c.endheaders(body)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status

    def audited_ips(action, user):
        return [e["ip"] for e in audit("action=%s&user=%s&limit=1000" % (action, user))["entries"]]

    attacker, nurse = "198.51.100.7", "198.51.100.8"
    got = [via("alice", "wrong-password-%d" % i, forwarded=[attacker]) for i in range(5)]
    if got != [401, 401, 401, 401, 429]:
        fail("proxy: the attacker's five failures for alice: %r, want four 401 then 429" % got)
    st = via("alice", "pw-alice-0123456789", forwarded=[nurse])
    if st != 200:
        fail("proxy: alice from %s behind the proxy while %s is limited: %d, want 200" %
             (nurse, attacker, st))
    if set(audited_ips("session.login_failed", "alice")) & {PROXY} or \
            attacker not in audited_ips("session.login_failed", "alice") or \
            audited_ips("session.login", "alice")[0] != nurse:
        fail("proxy: the audit log does not name the clients behind the proxy: failed %r, "
             "login %r" % (audited_ips("session.login_failed", "alice"),
                           audited_ips("session.login", "alice")[:1]))
    ok("behind a trusted proxy: %s limited, alice at %s logs in; the audit names both" %
       (attacker, nurse))
    cases = [  # (user, source, X-Forwarded-For headers, the address audited)
        ("fwd-untrusted", "127.0.0.10", ["198.51.100.9"], "127.0.0.10"),
        ("fwd-two-headers", PROXY, ["203.0.113.1", "198.51.100.10"], "198.51.100.10"),
        ("fwd-list", PROXY, ["203.0.113.1, 198.51.100.11"], "198.51.100.11"),
        ("fwd-garbage", PROXY, ["198.51.100.12, unknown"], PROXY),
        ("fwd-v6", PROXY, ["2001:db8::1"], "2001:db8::1"),
    ]
    for user, source, fwd, want in cases:
        if via(user, "wrong-password-0", source, fwd) != 401:
            fail("proxy: %s: not a plain 401" % user)
        ips = audited_ips("session.login_failed", user)
        if ips != [want]:
            fail("proxy: %s from %s with X-Forwarded-For %r audited as %r, want %r" %
                 (user, source, fwd, ips, want))
    ok("X-Forwarded-For: only from the proxy, only its last element, and only an address")
    # A host takes any address of its IPv6 /64 at will: the limits count the
    # /64, or each guess could come from a fresh address.
    got = [via("v6-user", "wrong-password-%d" % i, forwarded=["2001:db8:0:7::%x" % (i + 1)])
           for i in range(5)]
    if got != [401, 401, 401, 401, 429]:
        fail("proxy: five failures from five addresses of one IPv6 /64: %r, want four 401 "
             "then 429" % got)
    if via("v6-user", "wrong-password-x", forwarded=["2001:db8:0:8::1"]) != 401:
        fail("proxy: another /64 held back by the first one's failures")
    ok("IPv6: failures from fresh addresses of one /64 count together; another /64 is apart")
elif PHASE == "limited-before-stop":
    for i in range(4):
        login("carol", "wrong-%d" % i, source="127.0.0.4")
    n = 0
    for i in range(5):
        st, _, _ = login("carol", "wrong-b-%d" % i, source="127.0.0.4")
        n += st == 429
    if n != 5:
        fail("carol's burst: %d of 5 refused" % n)
    ok("a burst of 5 refusals left open at shutdown")
elif PHASE == "limited-after-restart":
    rows, total = limited_rows("carol", "127.0.0.4")
    if total != 5 or len(rows) != 1:
        fail("after a restart: %d login.limited rows for carol summing to %d, want 1 and 5" %
             (len(rows), total))
    ok("the burst open at shutdown was written (1 row, 5 refusals)")
