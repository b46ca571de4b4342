#!/usr/bin/env python3
"""server_care.py - checks of the live care loop (driven by server_care.sh).

  server_care.py receiver PORTFILE LOG SECRET
      A webhook receiver on a free port (written to PORTFILE). Every POST
      is checked: its X-Capscreen-Signature (t=MS,v1=HEX of HMAC-SHA256
      over "MS.BODY" with SECRET) and its timestamp (within 5 min). The
      first delivery of each alert id is answered 500 (so the server must
      retry), later ones 200. One JSON line per request goes to LOG. The
      first spool_full of the study named in LOG.stall (if that file
      exists) is held unanswered until another request for that study
      arrives ("held": "released") or HOLD_S pass ("held": "timeout",
      still inside the server's 10 s timeout, so a server that sends one
      alert at a time sends the next only after that).

  server_care.py PHASE URL ADMIN_TOKEN STUDY DEVICE_TOKEN TMPDIR
      PHASE status-input | rules | before-restart | after-restart | webhook |
      webhook-stall | patient-call | status-flood | monitor-large (see each function). CS_HEALTH_FILE: the health file the hub's
      capscreen-uplink reads. Prints "ok - ..." per check; exits 1 on the
      first failure."""
import hashlib
import hmac
import http.client
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

DEADLINE_S = 30  # every wait for a condition is bounded by this
HOLD_S = 8  # a held webhook request: answered inside the server's 10 s timeout


def fail(msg):
    print("FAIL - " + msg)
    sys.exit(1)


def ok(msg):
    print("ok - " + msg)


# ---- the receiver -----------------------------------------------------------

def receiver(portfile, log, secret):
    seen = set()
    lock = threading.Lock()
    held = {}  # study -> the Event its held request waits on

    def stall_study():
        try:
            with open(log + ".stall") as f:
                return f.read().strip()
        except FileNotFoundError:
            return None

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            sig = self.headers.get("X-Capscreen-Signature", "")
            parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
            want = hmac.new(secret.encode(), (parts.get("t", "") + ".").encode() + body,
                            hashlib.sha256).hexdigest()
            sig_ok = hmac.compare_digest(want, parts.get("v1", ""))
            fresh = abs(time.time() * 1000 - int(parts.get("t", "0") or 0)) < 300000
            try:
                alert = json.loads(body)
            except ValueError:
                alert = {}
            aid = alert.get("id")
            study = alert.get("study")
            with lock:
                first = aid not in seen
                seen.add(aid)
                hold = (first and study == stall_study() and alert.get("kind") == "spool_full"
                        and study not in held)
                if hold:
                    held[study] = threading.Event()
                elif study in held:
                    held[study].set()
            status = 500 if first else 200
            line = {"id": aid, "kind": alert.get("kind"), "key": alert.get("key"),
                    "sig_ok": sig_ok, "fresh": fresh, "status": status,
                    "header_id": self.headers.get("X-Capscreen-Alert-Id"),
                    "attempt": alert.get("attempt")}
            if hold:
                with open(log + ".holding", "a") as f:
                    f.write("%s\n" % aid)
                line["held"] = "released" if held[study].wait(HOLD_S) else "timeout"
            with lock, open(log, "a") as f:
                f.write(json.dumps(line) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, portfile)
    srv.serve_forever()


if sys.argv[1] == "receiver":
    receiver(*sys.argv[2:5])
    sys.exit(0)

PHASE, URL, ADMIN_TOKEN, STUDY, TOKEN, TMP = sys.argv[1:7]
HOST, PORT = urllib.parse.urlparse(URL).hostname, urllib.parse.urlparse(URL).port
ADMIN = {"Authorization": "Bearer " + ADMIN_TOKEN}
DEVICE = {"Authorization": "Bearer " + TOKEN}


def request(method, path, body=None, headers=None, raw=None):
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = (r.status, r.read())
    c.close()
    return out


def must(method, path, want, body=None, headers=None):
    st, b = request(method, path, body, headers)
    if st != want:
        fail("%s %s: want %d, got %d: %s" % (method, path, want, st, b[:300]))
    return json.loads(b) if b else None


def login(user):
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("POST", "/api/v1/session",
              body=json.dumps({"user": user, "password": "pw-%s-0123456789" % user}),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    b = r.read()
    if r.status != 200:
        fail("login %s: %d %s" % (user, r.status, b))
    cookie = r.getheader("Set-Cookie").split(";")[0]
    return {"Cookie": cookie, "X-CSRF-Token": json.loads(b)["csrf_token"]}


def status(**kw):
    body = {"battery_pct": 80, "signal_dbm": -70, "spool_used_pct": 10, "recorder": "recording"}
    body.update(kw)
    return request("POST", "/api/v1/devices/status", body, DEVICE)


def health(**kw):
    """Write the recorder's health file, as a recorder would (atomically)."""
    body = {"battery_pct": 80, "signal_dbm": -70, "recorder": "recording"}
    body.update(kw)
    path = os.environ["CS_HEALTH_FILE"]
    with open(path + ".tmp", "w") as f:
        json.dump(body, f)
    os.rename(path + ".tmp", path)


def hub():
    return must("GET", "/api/v1/studies/%s/care" % STUDY, 200, headers=ADMIN)["hub"]


def alerts(who=ADMIN):
    return must("GET", "/api/v1/studies/%s/alerts" % STUDY, 200, headers=who)["alerts"]


def hub_report(dev, spool, rec):
    """One hub status report with the device's headers: 204 or fail."""
    st, b = request("POST", "/api/v1/devices/status",
                    {"battery_pct": 80, "signal_dbm": -70, "spool_used_pct": spool,
                     "recorder": rec}, dev)
    if st != 204:
        fail("status: %d %s" % (st, b))


def wait_for(what, pred):
    """Poll until pred() is truthy (its value is returned), or fail."""
    end = time.time() + DEADLINE_S
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    fail("timed out waiting for " + what)


def kinds(al):
    return [(a["kind"]) for a in al]


def no_duplicates(al):
    keys = [(a["kind"], a["message"]) for a in al if a["kind"] not in ("no_frames", "hub_offline",
                                                                       "spool_full")]
    ids = [a["id"] for a in al]
    if len(set(ids)) != len(ids):
        fail("alert ids repeat: %s" % ids)
    if len(set(keys)) != len(keys):
        fail("an alert was raised twice: %s" % json.dumps(al))


# ---- phases -------------------------------------------------------------------

def status_input():
    for body, frag in [
        ({"battery_pct": 101}, "battery_pct"),
        ({"battery_pct": "80"}, "battery_pct"),
        ({"signal_dbm": 5}, "signal_dbm"),
        ({"spool_used_pct": -1}, "spool_used_pct"),
        ({"recorder": "paused"}, "recorder"),
        ({"message": 42}, "message"),
        ({"message": "x" * 300}, "message"),
    ]:
        st, b = status(**body)
        if st != 400 or frag not in json.loads(b).get("reason", ""):
            fail("status %s: want 400 naming %s, got %d %s" % (body, frag, st, b[:200]))
    st, b = request("POST", "/api/v1/devices/status", {"battery_pct": 50}, DEVICE)
    if st != 400:
        fail("a status without every field: %d %s" % (st, b))
    st, b = request("POST", "/api/v1/devices/status", raw=b"{not json", headers=DEVICE)
    if st != 400:
        fail("a status that is not JSON: %d" % st)
    ok("bad values and missing fields: 400 with the field named")
    st, b = status(firmware="1.2.3", extra={"a": 1})
    if st != 204:
        fail("unknown fields must be ignored: %d %s" % (st, b))
    care = must("GET", "/api/v1/studies/%s/care" % STUDY, 200, headers=ADMIN)
    hub = care["hub"]
    if not hub or hub["battery_pct"] != 80 or hub["recorder"] != "recording":
        fail("the care view does not show the report: %s" % care)
    if care["protocol"]["name"] != "short test protocol" or care["stage"] != "awaiting":
        fail("care view: %s" % care)
    ok("a good report is stored (unknown fields ignored) and shown with the protocol in force")
    # A control byte in the message is no reason to lose the report.
    st, b = status(message="bad\u0001byte\nline two")
    if st != 204:
        fail("a message with control bytes: want 204, got %d %s" % (st, b[:200]))
    hub = must("GET", "/api/v1/studies/%s/care" % STUDY, 200, headers=ADMIN)["hub"]
    if hub["message"] != "bad byte line two":
        fail("control bytes in a message must be stored as spaces: %r" % hub["message"])
    ok("a message with control bytes is taken, shown with spaces")
    for hdr, want in [({}, 401), (ADMIN, 403), ({"Authorization": "Bearer not-a-token"}, 401)]:
        st, _ = request("POST", "/api/v1/devices/status",
                        {"battery_pct": 1, "signal_dbm": -1, "spool_used_pct": 1,
                         "recorder": "recording"}, hdr)
        if st != want:
            fail("status with %s: want %d, got %d" % (hdr, want, st))
    ok("only a device token may report (401 without, 403 for the admin token)")


def rules():
    # Bytes came in: with none after them, no_frames fires after 3 s; the
    # stage is "ingested" and gastric retention fires after 5 s.
    wait_for("no_frames", lambda: "no_frames" in kinds(alerts()))
    wait_for("gastric_retention", lambda: "gastric_retention" in kinds(alerts()))
    wait_for("bleeding", lambda: "bleeding" in kinds(alerts()))
    ok("no_frames, gastric_retention and live bleeding are raised")
    # The last report (status-input's) is older than 4 s by now; the
    # recorder has written no health file yet, so the uplink reports nothing.
    wait_for("hub_offline", lambda: "hub_offline" in kinds(alerts()))
    ok("hub_offline is raised when the hub stops reporting")
    # The imported study (bleeding frames, no hub) is analysed but is not
    # live: not on the monitor, no alert.
    imp = os.environ["CS_IMPORTED"]
    wait_for("the imported study's analysis", lambda: must(
        "GET", "/api/v1/studies/%s" % imp, 200, headers=ADMIN)["progress"]["frames_analysed"] == 3)
    tiles = [t["study"] for t in must("GET", "/api/v1/monitor", 200, headers=ADMIN)["studies"]]
    if tiles != [STUDY]:
        fail("the monitor's live studies: %s (want only %s)" % (tiles, STUDY))
    got = must("GET", "/api/v1/studies/%s/alerts" % imp, 200, headers=ADMIN)["alerts"]
    if got:
        fail("a study imported from a file was alerted: %s" % got)
    ok("a study imported from a file (no hub) is not live: not on the monitor, no alert")
    # The uplink reports what the recorder writes: 95% spool raises
    # spool_full once; 96% is the same episode.
    health(spool_used_pct=95, battery_pct=61, signal_dbm=-91)
    wait_for("the uplink's report", lambda: (hub() or {}).get("spool_used_pct") == 95)
    h = hub()
    if h["battery_pct"] != 61 or h["signal_dbm"] != -91 or h["recorder"] != "recording":
        fail("the hub's report as the server has it: %s" % h)
    wait_for("spool_full", lambda: "spool_full" in kinds(alerts()))
    health(spool_used_pct=96, battery_pct=61, signal_dbm=-91)
    wait_for("the 96% report", lambda: (hub() or {}).get("spool_used_pct") == 96)
    if kinds(alerts()).count("spool_full") != 1:
        fail("spool_full must be raised once per crossing: %s" % kinds(alerts()))
    ok("the uplink reports the recorder's health file; spool_full once per crossing")
    coord = login("coord")
    # Booster 1 when small-bowel entry is marked (one click), booster 2 two
    # seconds later.
    st, b = request("POST", "/api/v1/studies/%s/stage" % STUDY, {"stage": "small_bowel"},
                    {"Cookie": coord["Cookie"]})
    if st != 403:
        fail("stage without the CSRF token: want 403, got %d" % st)
    st, b = request("POST", "/api/v1/studies/%s/stage" % STUDY, {"stage": "duodenum"}, coord)
    if st != 400:
        fail("an unknown stage: want 400, got %d" % st)
    t0 = time.time()
    must("POST", "/api/v1/studies/%s/stage" % STUDY, 200, {"stage": "small_bowel"}, coord)
    wait_for("booster 1", lambda: any(a["kind"] == "booster_due" and "booster_1" in a["message"]
                                      for a in alerts()))
    if time.time() - t0 > 2.5:
        fail("booster 1 took %.1f s after the stage was marked" % (time.time() - t0))
    wait_for("booster 2", lambda: any(a["kind"] == "booster_due" and "booster_2" in a["message"]
                                      for a in alerts()))
    care = must("GET", "/api/v1/studies/%s/care" % STUDY, 200, headers=coord)
    if care["stage"] != "small_bowel":
        fail("stage after marking: %s" % care["stage"])
    ok("marking small-bowel entry raises booster 1 within 2 s and booster 2 on time")
    # Acknowledge: audited, once.
    al = alerts(coord)
    first = al[-1]
    acked = must("POST", "/api/v1/studies/%s/alerts/%d/ack" % (STUDY, first["id"]), 200, {}, coord)
    if acked["acked_by"] != "coord" or not acked["acked_at_ms"]:
        fail("ack answer: %s" % acked)
    st, b = request("POST", "/api/v1/studies/%s/alerts/%d/ack" % (STUDY, first["id"]), {}, coord)
    if st != 409 or json.loads(b)["error"] != "already_acked":
        fail("a second ack: want 409 already_acked, got %d %s" % (st, b))
    st, b = request("POST", "/api/v1/studies/%s/alerts/999999/ack" % STUDY, {}, coord)
    if st != 404:
        fail("ack of an unknown alert: want 404, got %d" % st)
    rows = must("GET", "/api/v1/audit?action=alert.ack&study=%s" % STUDY, 200, headers=ADMIN)
    if len(rows["entries"]) != 1 or rows["entries"][0]["user"] != "coord":
        fail("alert.ack audit rows: %s" % rows)
    after = [a for a in alerts() if a["id"] == first["id"]][0]
    if after["acked_by"] != "coord":
        fail("the ack is not listed: %s" % after)
    ok("an alert is acknowledged once (409 after), audited, and listed as acknowledged")
    # The recorder stops before excretion (reported by the uplink).
    health(spool_used_pct=96, recorder="stopped", message="battery cut")
    wait_for("recording_ended_incomplete",
             lambda: "recording_ended_incomplete" in kinds(alerts()))
    ended = [a for a in alerts() if a["kind"] == "recording_ended_incomplete"]
    if len(ended) != 1 or "battery cut" not in ended[0]["message"]:
        fail("recording_ended_incomplete: %s" % ended)
    ok("a recorder that stops before excretion raises recording_ended_incomplete")
    no_duplicates(alerts())


def report_prep():
    """The patient ticks a prep step; the care view has it; a report saved
    with the checklist prints it (as saved, never read live)."""
    pat = {"Authorization": "Bearer " + os.environ["CS_PATIENT_CODE"]}
    must("PUT", "/api/v1/patient/prep/swallow", 200, {"done": True}, pat)
    st, b = request("PUT", "/api/v1/patient/prep/nope", {"done": True}, pat)
    if st != 404:
        fail("ticking an unknown step: want 404, got %d" % st)
    prep = must("GET", "/api/v1/studies/%s/care" % STUDY, 200, headers=ADMIN)["prep"]
    if len(prep) != 1 or prep[0]["id"] != "swallow" or not prep[0]["done_at_ms"]:
        fail("care view prep: %s" % prep)
    reader = login("reader")
    text = "Swallow the capsule (day of 08:00): ticked"
    must("PUT", "/api/v1/studies/%s/report" % STUDY, 200,
         {"content": {"findings_text": "none", "prep_checklist": text}, "state": "draft"}, reader)
    rep = must("GET", "/api/v1/studies/%s/report" % STUDY, 200, headers=reader)
    if rep["content"].get("prep_checklist") != text:
        fail("the saved report lost its checklist: %s" % rep["content"])
    st, html = request("GET", "/api/v1/studies/%s/report.html" % STUDY, headers=reader)
    if st != 200 or text.encode() not in html:
        fail("the printed report lacks the checklist (%d)" % st)
    ok("a tick shows in the care view; the saved checklist is printed with the report")


def before_restart():
    with open(os.path.join(TMP, "before.json"), "w") as f:
        json.dump(alerts(), f)
    ok("alerts saved before the restart")


def after_restart():
    before = json.load(open(os.path.join(TMP, "before.json")))
    coord = login("coord")
    # Prove the rules run again: excretion is raised by the rules thread.
    must("POST", "/api/v1/studies/%s/stage" % STUDY, 200, {"stage": "excreted"}, coord)
    wait_for("excreted", lambda: "excreted" in kinds(alerts()))
    now = alerts()
    by_id = {a["id"]: a for a in now}
    for a in before:
        b = by_id.get(a["id"])
        if not b or b["kind"] != a["kind"] or b["message"] != a["message"] or \
                b["acked_by"] != a["acked_by"]:
            fail("alert %s changed or was lost over the restart: %s" % (a, b))
    new = [a for a in now if a["id"] not in {x["id"] for x in before}]
    if sorted(kinds(new)) not in (["excreted"], ["excreted", "hub_offline"]):
        fail("after the restart only excretion (and a new hub_offline episode) may be new: %s"
             % new)
    no_duplicates(now)
    ok("every alert survived the restart unchanged; none was raised twice")


def webhook():
    log = os.path.join(TMP, "hook.log")
    want = {a["id"]: a for a in alerts()}

    def delivered():
        try:
            lines = [json.loads(x) for x in open(log)]
        except FileNotFoundError:
            return None
        got = {}
        for x in lines:
            if x["status"] == 200:
                got.setdefault(x["id"], []).append(x)
        return lines if set(got) == set(want) else None

    lines = wait_for("every alert at the webhook", delivered)
    for x in lines:
        if not x["sig_ok"] or not x["fresh"]:
            fail("a delivery with a bad or stale signature: %s" % x)
        if str(x["id"]) != x["header_id"]:
            fail("X-Capscreen-Alert-Id does not match the body: %s" % x)
    for aid, a in want.items():
        mine = [x for x in lines if x["id"] == aid]
        if [x["status"] for x in mine] != [500, 200]:
            fail("alert %d: want one refused try then one delivery, got %s" % (aid, mine))
        if mine[1]["attempt"] != 2 or mine[1]["kind"] != a["kind"]:
            fail("alert %d: the retry says %s" % (aid, mine[1]))
    ok("%d alerts: each refused once, then delivered once, every signature valid" % len(want))


def webhook_stall():
    """A receiver slow to answer one alert holds no other back: the server
    sends the next alert while the first is still unanswered. Before,
    deliveries went one after another, each waiting up to 10 s, so a
    receiver stuck on one alert delayed every later one (16 a batch:
    160 s). A study of its own; the receiver holds its first spool_full
    for up to HOLD_S."""
    log = os.path.join(TMP, "hook.log")
    d = must("POST", "/api/v1/studies", 201, {"label": "stuck receiver"}, ADMIN)
    dev = {"Authorization": "Bearer " + must("POST", "/api/v1/devices/enrol", 200,
                                             {"code": d["enrolment_code"]})["token"]}
    sid = d["study"]
    with open(log + ".stall.tmp", "w") as f:
        f.write(sid)
    os.rename(log + ".stall.tmp", log + ".stall")

    def report(spool, rec):
        hub_report(dev, spool, rec)

    def mine():
        want = ids()
        try:
            return [x for x in map(json.loads, open(log)) if x["id"] in want]
        except FileNotFoundError:
            return []

    def ids():
        return {a["id"]: a["kind"] for a in must("GET", "/api/v1/studies/%s/alerts" % sid, 200,
                                                 headers=ADMIN)["alerts"]}

    def holding():
        try:
            return open(log + ".holding").read().split()
        except FileNotFoundError:
            return []

    report(95, "recording")
    spool = wait_for("the receiver to hold the spool_full", holding)
    report(10, "error")  # raises recording_ended_incomplete while spool_full waits
    if "recording_ended_incomplete" not in ids().values():
        fail("a recorder error raised nothing: %s" % ids())
    first = wait_for("the held delivery to end", lambda: [x for x in mine()
                                                          if str(x["id"]) == spool[0]])
    if first[0].get("held") != "released":
        fail("the next alert was not sent while the first was unanswered: %s" % first[0])

    def delivered():
        got = {x["id"] for x in mine() if x["status"] == 200}
        return got if got == set(ids()) else None

    wait_for("both alerts delivered", delivered)
    ok("an alert the receiver holds unanswered delays no other: the next was sent meanwhile, "
       "and both were delivered")


def patient_call():
    """"Please call me": a second press while the request waits adds
    nothing; a press after staff acknowledged it is a new request, shown
    to the care team and on the patient's page (it used to be merged into
    the answered one for up to 5 minutes, and lost)."""
    pat = {"Authorization": "Bearer " + os.environ["CS_PATIENT_CODE"]}
    coord = login("coord")

    def calls():
        return [a for a in alerts() if a["kind"] == "call_requested"]

    if calls():
        fail("call_requested before any press: %s" % calls())
    must("POST", "/api/v1/patient/call", 200, {}, pat)
    must("POST", "/api/v1/patient/call", 200, {}, pat)
    first = calls()
    if len(first) != 1 or first[0]["acked_at_ms"]:
        fail("two presses while waiting: want one open request, got %s" % first)
    page = must("GET", "/api/v1/patient", 200, headers=pat)
    if page["call_requested_at_ms"] != first[0]["raised_at_ms"]:
        fail("the patient's page does not show the request: %s" % page)
    must("POST", "/api/v1/studies/%s/alerts/%d/ack" % (STUDY, first[0]["id"]), 200, {}, coord)
    if must("GET", "/api/v1/patient", 200, headers=pat)["call_requested_at_ms"] is not None:
        fail("an acknowledged request still shows as waiting on the patient's page")
    must("POST", "/api/v1/patient/call", 200, {}, pat)
    now = calls()
    if len(now) != 2 or now[0]["acked_at_ms"] or now[0]["id"] == first[0]["id"]:
        fail("a press after the acknowledgement: want a new open request, got %s" % now)
    if must("GET", "/api/v1/patient", 200, headers=pat)["call_requested_at_ms"] != \
            now[0]["raised_at_ms"]:
        fail("the patient's page does not show the new request")
    tile = [t for t in must("GET", "/api/v1/monitor", 200, headers=ADMIN)["studies"]
            if t["study"] == STUDY]
    if tile and now[0]["id"] not in [a["id"] for a in tile[0]["open_alerts"]]:
        fail("the monitor does not show the new request: %s" % tile)
    rows = must("GET", "/api/v1/audit?action=patient.call&study=%s" % STUDY, 200,
                headers=ADMIN)["entries"]
    if len(rows) != 3:
        fail("patient.call audit rows: want 3, got %s" % rows)
    ok("a call request after an acknowledgement is a new one; presses while waiting add nothing")


def status_flood():
    """A hub whose spool flaps around the limit (or whose recorder flaps)
    raises one alert while it is open, not one per crossing: before, 40
    reports made 20 spool_full and 20 recording_ended_incomplete alerts,
    each sent to the webhook. Once acknowledged, a new crossing raises
    again. A study of its own (this one's hub keeps reporting)."""
    d = must("POST", "/api/v1/studies", 201, {"label": "flapping hub"}, ADMIN)
    dev = {"Authorization": "Bearer " + must("POST", "/api/v1/devices/enrol", 200,
                                             {"code": d["enrolment_code"]})["token"]}
    sid = d["study"]
    # Bytes first (tus creation-with-upload), so that the study is under
    # way and a stopped recorder counts as an incomplete study.
    c = http.client.HTTPConnection(HOST, PORT, timeout=30)
    c.request("POST", "/uploads", body=b"\0" * 16, headers=dict(dev, **{
        "Tus-Resumable": "1.0.0", "Upload-Length": "64",
        "Content-Type": "application/offset+octet-stream"}))
    r = c.getresponse()
    r.read()
    c.close()
    if r.status != 201 or not must("GET", "/api/v1/studies/%s/care" % sid, 200,
                                   headers=ADMIN)["first_byte_ms"]:
        fail("tus creation with 16 bytes: %d" % r.status)

    def report(spool, rec):
        hub_report(dev, spool, rec)

    def of(kind):
        return [a for a in must("GET", "/api/v1/studies/%s/alerts" % sid, 200,
                                headers=ADMIN)["alerts"] if a["kind"] == kind]

    for i in range(20):
        report(95, "recording")
        report(10, "recording")
    if len(of("spool_full")) != 1:
        fail("a flapping spool: want one open spool_full, got %d" % len(of("spool_full")))
    coord = login("coord")
    must("POST", "/api/v1/studies/%s/alerts/%d/ack" % (sid, of("spool_full")[0]["id"]), 200, {},
         coord)
    report(95, "recording")
    if len(of("spool_full")) != 2 or of("spool_full")[0]["acked_at_ms"]:
        fail("a crossing after the ack: want a new spool_full, got %s" % of("spool_full"))
    ok("a flapping spool raises one spool_full while it is open, a new one after the ack")
    report(10, "recording")
    for i in range(20):
        report(10, "stopped")
        report(10, "recording")
    if len(of("recording_ended_incomplete")) != 1:
        fail("a flapping recorder: want one open recording_ended_incomplete, got %d"
             % len(of("recording_ended_incomplete")))
    ok("a flapping recorder raises one recording_ended_incomplete while it is open")


def monitor_large():
    """A monitor too big for one of libmicrohttpd's buffers (32 KiB of
    connection memory; about 50 live studies) still reaches the page:
    before, its event stream ended without sending anything."""
    for i in range(80):
        d = must("POST", "/api/v1/studies", 201, {"label": "ward 7 bed %02d " % i + "x" * 150},
                 ADMIN)
        dev = must("POST", "/api/v1/devices/enrol", 200, {"code": d["enrolment_code"]})
        st, b = request("POST", "/api/v1/devices/status",
                        {"battery_pct": 90, "signal_dbm": -60, "spool_used_pct": 5,
                         "recorder": "recording"}, {"Authorization": "Bearer " + dev["token"]})
        if st != 204:
            fail("status of study %d: %d %s" % (i, st, b))
    mon = must("GET", "/api/v1/monitor", 200, headers=ADMIN)
    size = len(json.dumps(mon))
    if size < 40000:
        fail("the monitor is only %d bytes: not a large one" % size)
    c = http.client.HTTPConnection(HOST, PORT, timeout=DEADLINE_S)
    c.request("GET", "/api/v1/monitor/events", headers=ADMIN)
    r = c.getresponse()
    if r.status != 200:
        fail("monitor events: %d" % r.status)
    lines = []
    while True:
        line = r.readline()
        if not line:
            fail("the monitor's event stream ended after %d bytes: %r"
                 % (sum(map(len, lines)), b"".join(lines)[:200]))
        if line == b"\n" and lines:
            break
        lines.append(line)
    c.close()
    if lines[0] != b"event: monitor\n" or not lines[1].startswith(b"data: "):
        fail("not a monitor event: %r" % b"".join(lines)[:200])
    tiles = json.loads(lines[1][6:])["studies"]
    if len(tiles) < 81 or len(tiles) != len(mon["studies"]):
        fail("the monitor event has %d tiles, GET /api/v1/monitor %d"
             % (len(tiles), len(mon["studies"])))
    ok("a %d-byte monitor reaches the event stream whole (%d tiles)" % (size, len(tiles)))


{"status-input": status_input, "rules": rules, "report-prep": report_prep,
 "before-restart": before_restart,
 "after-restart": after_restart, "webhook": webhook, "webhook-stall": webhook_stall,
 "patient-call": patient_call, "status-flood": status_flood,
 "monitor-large": monitor_large}[PHASE]()
