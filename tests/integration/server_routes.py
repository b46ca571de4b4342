#!/usr/bin/python3
"""Walk the route table (GET /api/v1/routes) and check that the server
enforces every row. Usage: server_routes.py URL ADMIN_TOKEN DEVICE_TOKEN
STUDY PATIENT_CODE TRAINING_STUDY (an imported case's study: every study
row must answer it 409 training_study, whoever asks).
Prints 'ok - ...' lines; exits 1 with the rows that are not enforced."""
import http.client
import json
import sys
import time
import urllib.parse

URL, ADMIN, DEVICE, STUDY, PATIENT, TRAINING = sys.argv[1:7]
HOST = urllib.parse.urlparse(URL).netloc
# Every role of the vocabulary: the walk checks each against each row.
ROLES = {"admin": "admin", "reader": "reader", "consultant": "cons", "coordinator": "coord",
         "trainer": "trainer", "trainee": "trainee"}
CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
failures = []


def request(method, path, headers=None, body=None):
    # The server runs with a per-address limit of 8 connections (the shell
    # script tests it), and an event stream the walk opened and closed
    # holds its slot until the server's next write notices the close; on a
    # loaded machine a new connection can then be refused (reset, or a broken
    # pipe when the refusal lands while the request is written). Such a
    # refusal is the limit at work, not a row's answer: wait, bounded, for
    # a slot and ask again.
    deadline = time.monotonic() + 60
    while True:
        c = http.client.HTTPConnection(HOST, timeout=30)
        h = dict(headers or {})
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            break
        except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError,
                http.client.RemoteDisconnected):
            c.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    # An event stream never ends: its status and headers are the answer.
    stream = (r.getheader("Content-Type") or "").startswith("text/event-stream")
    data = b"" if stream else r.read()
    c.close()
    return r.status, r, data


def error_code(data, method=None):
    if method == "HEAD":
        return "(HEAD: no body)"
    try:
        return json.loads(data)["error"]
    except Exception:
        return None


sessions = {}
for role, user in ROLES.items():
    st, r, data = request("POST", "/api/v1/session",
                          body=json.dumps({"user": user, "password": f"pw-{user}-0123456789"}))
    if st != 200:
        sys.exit(f"login {user}: {st} {data[:200]}")
    cookie = r.getheader("Set-Cookie").split(";")[0]
    sessions[role] = (cookie, json.loads(data)["csrf_token"])

st, _, data = request("GET", "/api/v1/routes", {"Authorization": f"Bearer {ADMIN}"})
if st != 200:
    sys.exit(f"GET /api/v1/routes: {st}")
rows = json.loads(data)["routes"]
# The table names every role of the vocabulary that some row admits, and
# this walk logs in as each: a role missing from either is walked nowhere.
st, _, data = request("GET", "/api/v1/vocabulary")
vocab_roles = {r["name"] for r in json.loads(data)["roles"]}
named = set().union(*(set(row["who"]) for row in rows))
if vocab_roles - named or vocab_roles - set(ROLES):
    failures.append("roles of the vocabulary not named by GET /api/v1/routes: %s; not walked: %s" %
                    (sorted(vocab_roles - named), sorted(vocab_roles - set(ROLES))))
st, _, _ = request("GET", "/api/v1/routes", {"Cookie": sessions["reader"][0]})
if st != 403:
    failures.append(f"GET /api/v1/routes as a reader: {st}, not 403")


def path_of(row):
    p = row["pattern"]
    if p == "*":
        return "/index.html"
    key = "rectum" if "/cleansing/" in p else "first_caecal"
    return (p.replace("{id}", STUDY).replace("{n}", "1").replace("{key}", key)
            .replace("{name}", "reader"))


def send(row, headers):
    body = "{}" if row["method"] in {"POST", "PUT", "PATCH"} and not row["tus"] else None
    if row["tus"]:
        headers = dict(headers, **{"Tus-Resumable": "1.0.0"})
    return request(row["method"], path_of(row), headers, body)


def audit_denials():
    st, _, data = request("GET", "/api/v1/audit?action=access.denied&limit=1000",
                          {"Authorization": f"Bearer {ADMIN}"})
    if st != 200:
        sys.exit(f"audit query: {st} {data[:200]}")
    d = json.loads(data)
    return d.get("entries", d.get("audit", []))


walked = {"anon": 0, "roles": 0, "device": 0, "patient": 0, "csrf": 0}
denials_before = len(audit_denials())
patient_refusals = 0
for row in rows:
    who = set(row["who"])
    name = f'{row["method"]} {row["pattern"]}'
    if "public" in who:
        continue
    # 1. No credentials: 401 on every non-public row.
    st, _, data = send(row, {})
    walked["anon"] += 1
    if st != 401 or error_code(data, row["method"]) not in ("unauthorised", "(HEAD: no body)"):
        failures.append(f"{name} without credentials: {st}, not 401")
    patient_refusals += row["patient_data"]
    # 2. Each role: 403 exactly where the row does not admit it.
    if row["method"] == "DELETE" and row["pattern"] == "/api/v1/session":
        roles = {}  # allowed roles would log out; refusals are checked below
    else:
        roles = ROLES
    for role in roles:
        cookie, csrf = sessions[role]
        st, _, data = send(row, {"Cookie": cookie, "X-CSRF-Token": csrf})
        walked["roles"] += 1
        allowed = role in who
        if allowed and st in (401, 403):
            failures.append(f"{name} as {role}: {st} ({error_code(data)}), but the row admits it")
        if not allowed and (st != 403 or
                            error_code(data, row["method"]) not in ("forbidden", "(HEAD: no body)")):
            failures.append(f"{name} as {role}: {st}, not 403 (the row does not admit it)")
        patient_refusals += row["patient_data"] and not allowed
    # A device token: only the upload rows.
    if "device_token" not in who:
        st, _, data = send(row, {"Authorization": f"Bearer {DEVICE}"})
        walked["device"] += 1
        if st != 403:
            failures.append(f"{name} with a device token: {st}, not 403")
        patient_refusals += row["patient_data"]
    # A patient code: only the companion page's rows.
    if "patient_code" not in who:
        st, _, data = send(row, {"Authorization": f"Bearer {PATIENT}"})
        walked["patient"] += 1
        if st != 403:
            failures.append(f"{name} with a patient code: {st}, not 403")
        patient_refusals += row["patient_data"]
    # 3. CSRF rows: a session of an admitted role without the token gets 403.
    if row["csrf"] and row["method"] in CHANGES:
        role = next((r for r in ROLES if r in who), None)
        if role:
            st, _, data = send(row, {"Cookie": sessions[role][0]})
            walked["csrf"] += 1
            if st != 403 or error_code(data) != "csrf_failed":
                failures.append(f"{name} as {role} without X-CSRF-Token: {st}, not 403 csrf_failed")
            patient_refusals += row["patient_data"]

# 4. A training study (an imported case): every row of one study answers
# 409 training_study to a caller the row admits, so no clinical route,
# present or added later, reads or changes one.
training_rows = 0
for row in rows:
    if not row["pattern"].startswith("/api/v1/studies/{id}"):
        continue
    who = set(row["who"])
    name = f'{row["method"]} {row["pattern"]}'
    role = next((r for r in ROLES if r in who), None)
    headers = ({"Cookie": sessions[role][0], "X-CSRF-Token": sessions[role][1]} if role
               else {"Authorization": f"Bearer {ADMIN}"})
    path = path_of(row).replace(STUDY, TRAINING)
    body = "{}" if row["method"] in {"POST", "PUT", "PATCH"} else None
    st, _, data = request(row["method"], path, headers, body)
    training_rows += 1
    if st != 409 or error_code(data, row["method"]) not in ("training_study", "(HEAD: no body)"):
        failures.append(f"{name} on a training study: {st} {error_code(data)}, not 409 "
                        "training_study")
if training_rows < 20:
    failures.append(f"only {training_rows} study rows walked on the training study")

print(f"ok - {len(rows)} rows: {walked['anon']} refused without credentials, "
      f"{walked['roles']} role checks, {walked['device']} device-token checks, "
      f"{walked['patient']} patient-code checks, "
      f"{walked['csrf']} CSRF checks, {training_rows} study rows refuse a training study")

# Every refusal on patient data is in the audit log as access.denied.
denials = audit_denials()
new = len(denials) - denials_before
if new != patient_refusals:
    failures.append(f"{patient_refusals} refusals on patient data, {new} access.denied entries")
else:
    print(f"ok - {new} refusals on patient data audited as access.denied")
if not any(e.get("user") == "" and STUDY in e.get("detail", "") and e.get("ip") for e in denials):
    failures.append("no access.denied entry with user '', the path and the client address: "
                    + json.dumps(denials[-1:] if denials else []))

if not any(e.get("user") == "coord" and e.get("role") == "coordinator" and
           "/frames" in e.get("detail", "") for e in denials):
    failures.append("no access.denied entry naming the coordinator refused the frames")

for f in failures:
    print("FAIL - " + f)
sys.exit(1 if failures else 0)
