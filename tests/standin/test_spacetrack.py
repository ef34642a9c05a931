"""Self-test of the space-track stand-in (tests/standin/spacetrack.py).

Run: python3 -m unittest -v tests/standin/test_spacetrack.py
Starts the server as a subprocess on 127.0.0.1, port 0, and stops it.  Expected
values are computed here by hand or taken from real Space-Track files in
$ASTRO_SHARED/data/tle (those tests skip, saying so, when it is absent).
"""

import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "spacetrack.py")
SHARED_TLE = os.path.join(os.environ.get("ASTRO_SHARED", "/work/shared"), "data", "tle")
sys.path.insert(0, HERE)
import spacetrack  # noqa: E402  (for the importable generator)


def cksum(line):
    """Mod-10 checksum written independently of the server's."""
    total = 0
    for ch in line[:68]:
        if ch in "0123456789":
            total += ord(ch) - 48
        elif ch == "-":
            total += 1
    return total % 10


def with_ck(line68):
    assert len(line68) == 68, line68
    return line68 + str(cksum(line68))


# Hand-made records.  Epoch ground truth worked out by hand:
#   57001.50000000 -> 1957-01-01 12:00:00 (57 -> 1957, day 1, half a day)
#   56366.00000001 -> 2056-12-31 00:00:00.000864 (2056 is a leap year; 1e-8 day = 864 us)
#   24061.25203387 -> 2024-03-01 06:02:55.726368 (0.25203387 * 86400 s = 21775.726368 s)
#   A0000 -> 100000, Z9999 -> 339999 (A=10, Z=33 with I and O skipped)
L1_OLD = with_ck("1 00711U 59001A   57001.50000000  .00000298  00000-0  14567-3 0  999")
L2_OLD = with_ck("2 00711  32.8785  16.0976 1468096 308.0059  39.6630 11.8564027059519")
L1_FUT = with_ck("1 A0000U 26067CY  56366.00000001  .00009402  00000-0  43149-3 0  999")
L2_FUT = with_ck("2 A0000  97.4594 164.9741 0006254 220.0061 140.0714 15.2061809617586")
L1_Z = with_ck("1 Z9999U 24005A   24061.25203387  .00009402  00000-0  43149-3 0  999")
L2_Z = with_ck("2 Z9999  97.4594 164.9741 0006254 220.0061 140.0714 15.2061809617586")
L1_68 = "1 25544U 98067A   24061.86127679 +.00713801 +00000-0 +18788-3 0 0279"   # no checksum column
L2_68 = "2 25544 051.6384 228.0530 0011394 318.8013 105.3045 15.5779942415390"
L1_12 = with_ck(L1_OLD[:68].replace("00711", "00712"))
L1_BAD = L1_12[:-1] + str((int(L1_12[-1]) + 1) % 10)                          # wrong checksum
L2_12 = with_ck(L2_OLD[:68].replace("00711", "00712"))
L1_13 = L1_OLD[:68].replace("00711", "00713").replace("59001A ", "59001B ")     # 68 columns
L1_714_NEW = with_ck(L1_OLD[:68].replace("00711", "00714").replace("57001.50000000", "24061.50000000"))
L1_714_OLD = with_ck(L1_OLD[:68].replace("00711", "00714").replace("57001.50000000", "24060.50000000"))
L2_714 = with_ck(L2_OLD[:68].replace("00711", "00714"))
L2_13 = with_ck(L2_OLD[:68].replace("00711", "00713")) + "      0.0      1440.0        120.00"  # Vallado's extras

DATA_CRLF = "\r\n".join([
    "0 OLD ONE", L1_OLD, L2_OLD,
    "0 FUTURE A5", L1_FUT, L2_FUT,
]) + "\r\n"
DATA_LF = "\n".join([
    "# a comment line",
    L1_Z, L2_Z,                       # no name line -> UNKNOWN
    L1_68, L2_68,
    "0 BROKEN", L1_BAD, L2_12,
    "0 LONG LINE TWO", L1_13, L2_13,
    "0 TWICE \u00e9\u0085", L1_714_NEW, L2_714,   # written as UTF-8: bytes C3 A9 C2 85
    "0 TWICE", L1_714_OLD, L2_714,    # older epoch, loaded later
]) + "\n"


class Server:
    def __init__(self, *extra):
        self.dir = tempfile.TemporaryDirectory()
        crlf = os.path.join(self.dir.name, "a.3le")
        lf = os.path.join(self.dir.name, "b.tle")
        with open(crlf, "w", newline="") as f:
            f.write(DATA_CRLF)
        with open(lf, "w", newline="") as f:
            f.write(DATA_LF)
        self.logfile = os.path.join(self.dir.name, "requests.jsonl")
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--user", "U", "--password", "P w&d",
             "--data", crlf, "--data", lf, "--synthetic-day", "2024-03-02:500",
             "--rate-minute", "100000", "--rate-hour", "1000000", "--log", self.logfile] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), (line, self.proc.stderr.read())
        self.port = int(line.strip().rsplit(":", 1)[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read()
        self.returncode = self.proc.returncode
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.dir.cleanup()
        return err

    def request(self, method, path, body=None, cookie=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = dict(headers or {})
            if cookie:
                h["Cookie"] = "chocolatechip=" + cookie
            if isinstance(body, dict):
                body = urllib.parse.urlencode(body)
                h["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, r, r.read()
        finally:
            conn.close()

    def ctl(self, path, obj=None):
        status, _, body = self.request("POST" if obj is not None else "GET", "/_test/" + path,
                                       body=json.dumps(obj) if obj is not None else None)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def login(self):
        status, r, body = self.request("POST", "/ajaxauth/login", {"identity": "U", "password": "P w&d"})
        assert status == 200 and body == b'""', body
        return r.getheader("Set-Cookie").split(";")[0].split("=", 1)[1]


def q(*parts):
    """A query path with each part percent-encoded once, as astrofs sends it."""
    return "/basicspacedata/query/class/" + "/".join(urllib.parse.quote(p, safe=",") for p in parts)


class StandinTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        err = cls.srv.stop()
        # Nothing a client sent may have raised inside the server.
        assert "Traceback" not in err, err

    def setUp(self):
        s = self.srv
        # The clock only moves forward here: the rate window must not see "future" requests.
        s.ctl("clear_faults", {})
        s.ctl("config", {"locked": False, "expired_500_html": False, "rate_mode": "500",
                         "rate_minute": 100000, "rate_hour": 1000000, "lock_on_hour": False,
                         "session_ttl": 7200})
        self.cookie = s.login()
        s.ctl("reset_log", {})

    def get(self, path, **kw):
        return self.srv.request("GET", path, cookie=kw.pop("cookie", self.cookie), **kw)

    def ok(self, path):
        status, r, body = self.get(path)
        self.assertEqual(status, 200, body)
        return body

    def js(self, path):
        return json.loads(self.ok(path))

    # -- login, logout, sessions

    def test_login_success_sets_cookie_and_answers_empty_json_string(self):
        status, r, body = self.srv.request("POST", "/ajaxauth/login", {"identity": "U", "password": "P w&d"})
        self.assertEqual((status, body), (200, b'""'))
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        self.assertRegex(r.getheader("Set-Cookie"), r"^chocolatechip=[0-9a-f]{32}; path=/$")
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")

    def test_login_failures(self):
        for form in ({"identity": "U", "password": "wrong"}, {"identity": "X", "password": "P w&d"},
                     {"identity": "U"}, {}):
            status, r, body = self.srv.request("POST", "/ajaxauth/login", form)
            self.assertEqual((status, body), (200, b'{"Login":"Failed"}'), form)
            self.assertIsNone(r.getheader("Set-Cookie"))
        status, r, body = self.srv.request("POST", "/ajaxauth/login",
                                           {"identity": "U", "password": "P w&d", "query": q("gp")})
        self.assertEqual((status, body), (400, b"Single command deprecated. See API help for cookie use."))
        self.srv.ctl("config", {"locked": True})
        status, r, body = self.srv.request("POST", "/ajaxauth/login", {"identity": "U", "password": "P w&d"})
        self.assertEqual(body, b'{"Login":"Failed"}')
        c = self.srv.ctl("counters")
        self.assertEqual((c["logins"], c["logins_failed"]), (6, 5))

    def test_logout_invalidates_session(self):
        status, _, body = self.get("/ajaxauth/logout")
        self.assertEqual((status, body), (200, b'"Successfully logged out"'))
        status, r, body = self.get(q("gp", "NORAD_CAT_ID", "711"))
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body), {"error": "You must be logged in to complete this action"})

    def test_unknown_and_missing_cookie_get_401(self):
        self.assertEqual(self.get(q("gp"), cookie="nonsense")[0], 401)
        self.assertEqual(self.get(q("gp"), cookie=None)[0], 401)

    def test_session_deadline_slides_and_expires_on_the_injected_clock(self):
        self.srv.ctl("config", {"session_ttl": 100})
        self.srv.ctl("clock", {"advance_s": 80})
        self.assertEqual(self.get(q("gp", "NORAD_CAT_ID", "711"))[0], 200)   # slides to now + 100
        self.srv.ctl("clock", {"advance_s": 80})
        self.assertEqual(self.get(q("gp", "NORAD_CAT_ID", "711"))[0], 200)
        self.srv.ctl("clock", {"advance_s": 101})
        self.assertEqual(self.get(q("gp", "NORAD_CAT_ID", "711"))[0], 401)

    def test_expired_500_html_and_expire_sessions(self):
        self.srv.ctl("config", {"expired_500_html": True})
        self.assertGreaterEqual(self.srv.ctl("expire_sessions", {})["expired"], 1)
        status, r, body = self.get(q("gp"))
        self.assertEqual(status, 500)
        self.assertEqual(r.getheader("Content-Type"), "text/html")
        self.assertIn(b"<html>", body)

    # -- dataset

    def test_lines_are_served_byte_for_byte_with_crlf(self):
        body = self.ok(q("gp_history", "NORAD_CAT_ID", "711,713,25544,100000,339999",
                         "orderby", "NORAD_CAT_ID asc", "format", "3le"))
        expect = "".join(x + "\r\n" for x in [
            "0 OLD ONE", L1_OLD, L2_OLD,
            "0 LONG LINE TWO", L1_13, L2_13,
            "0 UNKNOWN", L1_68, L2_68,
            "0 FUTURE A5", L1_FUT, L2_FUT,
            "0 UNKNOWN", L1_Z, L2_Z])
        self.assertEqual(body.decode(), expect)

    def test_non_ascii_name_bytes_round_trip(self):
        body = self.ok(q("gp_history", "NORAD_CAT_ID", "714", "format", "3le"))
        expect = "0 TWICE \u00e9\u0085\r\n%s\r\n%s\r\n0 TWICE\r\n%s\r\n%s\r\n" % (
            L1_714_NEW, L2_714, L1_714_OLD, L2_714)
        self.assertEqual(body, expect.encode("utf-8"))

    def test_bad_record_is_skipped_with_a_note(self):
        self.assertEqual(self.ok(q("gp_history", "NORAD_CAT_ID", "712", "format", "tle")), b"")
        # The note goes to stderr; read at tearDown via a fresh server to keep this one running.
        srv = Server()
        err = srv.stop()
        self.assertEqual(srv.returncode, 0, err)   # SIGTERM is a clean exit
        self.assertRegex(err, r"b\.tle:\d+: skipped record 00712: line 1 checksum")

    def test_epoch_and_alpha5_decoding(self):
        rows = self.js(q("gp_history", "NORAD_CAT_ID", "711,100000,339999",
                         "orderby", "NORAD_CAT_ID", "predicates", "NORAD_CAT_ID,EPOCH,OBJECT_NAME"))
        self.assertEqual(rows, [
            {"NORAD_CAT_ID": "711", "EPOCH": "1957-01-01T12:00:00.000000", "OBJECT_NAME": "OLD ONE"},
            {"NORAD_CAT_ID": "100000", "EPOCH": "2056-12-31T00:00:00.000864", "OBJECT_NAME": "FUTURE A5"},
            {"NORAD_CAT_ID": "339999", "EPOCH": "2024-03-01T06:02:55.726368", "OBJECT_NAME": "UNKNOWN"}])

    def test_json_values_are_strings_or_null_and_gp_ids_unique(self):
        rows = self.js(q("gp_history", "EPOCH", "2024-03-02--2024-03-03"))
        self.assertEqual(len(rows), 500)
        for row in rows:
            for k, v in row.items():
                self.assertTrue(v is None or isinstance(v, str), (k, v))
            self.assertIsNone(row["DECAY_DATE"])
            self.assertRegex(row["EPOCH"], r"^2024-03-02T\d\d:\d\d:\d\d\.\d{6}$")
            self.assertTrue(row["FILE"].isdigit() and row["GP_ID"].isdigit())
        self.assertEqual(len({r["GP_ID"] for r in rows}), 500)

    def test_special_elsets(self):
        sp = self.srv.ctl("special")
        m, late = sp["midnight"], sp["late_epoch"]
        self.assertEqual((m["day"], m["EPOCH"]), ("2001-01-02", "2001-01-02T00:00:00.000000"))
        self.assertLess(late["CREATION_DATE"], late["EPOCH"])
        # The inclusive range of the day before returns the midnight elset too.
        body = self.ok(q("gp_history", "EPOCH", "2001-01-01--2001-01-02", "format", "tle"))
        self.assertIn((m["TLE_LINE1"] + "\r\n" + m["TLE_LINE2"] + "\r\n").encode(), body)
        self.assertIn(late["TLE_LINE1"].encode(), body)
        rows = self.js(q("gp_history", "NORAD_CAT_ID", late["NORAD_CAT_ID"]))
        self.assertEqual(rows[0]["CREATION_DATE"], late["CREATION_DATE"])
        self.assertEqual(cksum(m["TLE_LINE1"]), int(m["TLE_LINE1"][68]))

    def test_synthetic_day_generator(self):
        day = dt.date(2024, 3, 2)
        recs = spacetrack.synthetic_day(day, 500)
        self.assertEqual(recs, spacetrack.synthetic_day(day, 500))          # deterministic
        self.assertEqual(len({r[1][2:7] for r in recs}), 500)
        for l0, l1, l2 in recs:
            self.assertTrue(l0.startswith("0 ") and len(l0) <= 27)
            for line in (l1, l2):
                self.assertEqual(len(line), 69)
                self.assertEqual(cksum(line), int(line[68]))
            self.assertEqual(l1[18:23], "24062")                            # 2 March = day 62
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "syn.3le")
            subprocess.run([sys.executable, SERVER, "--user", "U", "--password", "P",
                            "--synthetic-day", "2024-03-02:500", "--write-synthetic", path], check=True)
            with open(path, "rb") as f:
                written = f.read()
        served = self.ok(q("gp_history", "EPOCH", "2024-03-02--2024-03-02 23:59:59.999999",
                           "orderby", "NORAD_CAT_ID asc", "format", "3le"))
        self.assertEqual(served, written)
        self.assertEqual(written, "".join("\r\n".join(r) + "\r\n" for r in recs).encode())

    def test_add_late_elsets_get_a_higher_file(self):
        before = self.js(q("gp_history", "orderby", "FILE desc", "limit", "1", "predicates", "FILE"))
        added = self.srv.ctl("add_late", {"day": "2010-05-05", "count": 3})
        self.assertEqual(int(added["FILE"]), int(before[0]["FILE"]) + 1)
        rows = self.js(q("gp_history", "FILE", ">" + before[0]["FILE"]))
        self.assertEqual(sorted(r["GP_ID"] for r in rows), sorted(a["GP_ID"] for a in added["added"]))
        for r in rows:
            self.assertTrue(r["EPOCH"].startswith("2010-05-05T"))
            self.assertGreater(r["CREATION_DATE"], r["EPOCH"])
        day = self.js(q("gp_history", "EPOCH", "2010-05-05--2010-05-06", "predicates", "GP_ID"))
        self.assertEqual(len(day), 3)

    # -- query grammar

    def n(self, *parts):
        return len(self.js(q("gp_history", *parts, "predicates", "GP_ID")))

    def test_operators(self):
        self.assertEqual(self.n("NORAD_CAT_ID", "711"), 1)
        self.assertEqual(self.n("norad_cat_id", "711"), 1)                  # names are case-insensitive
        self.assertEqual(self.n("NORAD_CAT_ID", "<3"), 2)                  # synthetic 1, 2
        self.assertEqual(self.n("NORAD_CAT_ID", ">339998"), 1)
        self.assertEqual(self.n("NORAD_CAT_ID", "1--3"), 3)                # inclusive
        self.assertEqual(self.n("NORAD_CAT_ID", "1,3,711"), 3)
        self.assertEqual(self.n("NORAD_CAT_ID", "<>711", "EPOCH", "<1958-01-01"), 1)   # 713
        self.assertEqual(self.n("OBJECT_NAME", "~~uture"), 1)
        self.assertEqual(self.n("OBJECT_NAME", "^OLD"), 1)
        self.assertEqual(self.n("OBJECT_NAME", "^LD"), 0)
        self.assertEqual(self.n("DECAY_DATE", "null-val", "NORAD_CAT_ID", "711"), 1)
        self.assertEqual(self.n("EPOCH", ">now-25000", "EPOCH", "<now",                # after mid-1958
                                "NORAD_CAT_ID", "711,713,25544,100000,339999"), 2)
        self.assertEqual(self.n("EPOCH", "2056-12-31 00:00:00.000864"), 1)
        self.assertEqual(self.n("EPOCH", "1957-01-01 12:00:00"), 2)                  # 711 and 713
        self.assertEqual(self.n("CREATION_DATE", "1957-01-01 15:00:00", "NORAD_CAT_ID", "711"), 1)
        self.assertEqual(self.n("EPOCH", "2024-03-02 00:00:00--2024-03-02 00:01:26.4"), 1)
        self.assertEqual(self.n("FILE", "<1"), 0)

    def test_bad_queries_get_400(self):
        for path in (q("gp_history", "NO_SUCH", "1"), q("satcat"), q("tle", "NORAD_CAT_ID", "711"),
                     q("tle_latest"), q("tle_publish"), q("omm"), q("gp_history", "EPOCH"),
                     q("gp_history", "EPOCH", ">yesterday"), q("gp_history", "orderby", "NOPE asc"),
                     q("gp_history", "limit", "x"), q("gp_history", "format", "xml"),
                     "/basicspacedata/query/class/gp_history/EPOCH/%253E2024-03-02"):
            status, _, body = self.get(path)
            self.assertEqual(status, 400, path)
            self.assertIn("error", json.loads(body), path)

    def test_encoded_path_is_decoded_once(self):
        path = "/basicspacedata/query/class/gp_history/EPOCH/%3E2056-01-01/predicates/NORAD_CAT_ID"
        self.assertEqual(self.js(path), [{"NORAD_CAT_ID": "100000"}])

    def test_orderby_limit_offset(self):
        rows = self.js(q("gp_history", "NORAD_CAT_ID", "1--5", "orderby", "NORAD_CAT_ID desc",
                         "limit", "2,1", "predicates", "NORAD_CAT_ID"))
        self.assertEqual([r["NORAD_CAT_ID"] for r in rows], ["4", "3"])
        rows = self.js(q("gp_history", "NORAD_CAT_ID", "711,100000,339999", "orderby", "EPOCH desc,NORAD_CAT_ID asc",
                         "predicates", "NORAD_CAT_ID"))
        self.assertEqual([r["NORAD_CAT_ID"] for r in rows], ["100000", "339999", "711"])

    def test_predicates_distinct_and_formats(self):
        body = self.ok(q("gp_history", "NORAD_CAT_ID", "711", "predicates", "OBJECT_NAME,TLE_LINE1,TLE_LINE2",
                         "format", "3le"))
        self.assertEqual(body.decode(), "OLD ONE\r\n%s\r\n%s\r\n" % (L1_OLD, L2_OLD))
        self.assertEqual(self.ok(q("gp_history", "NORAD_CAT_ID", "711", "format", "tle")).decode(),
                         "%s\r\n%s\r\n" % (L1_OLD, L2_OLD))
        rows = self.js(q("gp_history", "NORAD_CAT_ID", "1--20", "predicates", "CLASSIFICATION_TYPE",
                         "distinct", "true"))
        self.assertEqual(rows, [{"CLASSIFICATION_TYPE": "U"}])
        row = self.js(q("gp_history", "NORAD_CAT_ID", "711", "format", "json"))[0]
        self.assertEqual((row["TLE_LINE0"], row["OBJECT_ID"], row["INCLINATION"]),
                         ("0 OLD ONE", "1959-001A", "32.8785"))

    def test_empty_results(self):
        for fmt, expect in (("tle", b""), ("3le", b""), ("json", b"[]")):
            status, r, body = self.get(q("gp_history", "NORAD_CAT_ID", "99999", "format", fmt))
            self.assertEqual((status, body), (200, expect))
            self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(self.ok(q("gp_history", "NORAD_CAT_ID", "99999", "emptyresult", "show", "format", "tle")),
                         b"NO RESULTS RETURNED")

    def test_gp_is_newest_per_object_and_modeldef(self):
        self.srv.ctl("add_late", {"day": "2010-05-06", "count": 1})
        rows = self.js(q("gp", "predicates", "NORAD_CAT_ID"))
        ids = [r["NORAD_CAT_ID"] for r in rows]
        self.assertEqual(len(ids), len(set(ids)))
        hist = self.js(q("gp_history", "NORAD_CAT_ID", "714", "predicates", "EPOCH"))
        self.assertEqual(len(hist), 2)
        self.assertEqual(self.js(q("gp", "NORAD_CAT_ID", "714", "predicates", "EPOCH")),
                         [{"EPOCH": "2024-03-01T12:00:00.000000"}])
        status, _, body = self.get("/basicspacedata/modeldef/class/gp_history")
        fields = [f["Field"] for f in json.loads(body)["data"]]
        for name in ("EPOCH", "NORAD_CAT_ID", "CREATION_DATE", "FILE", "GP_ID", "TLE_LINE1"):
            self.assertIn(name, fields)

    # -- rate limit

    def test_minute_limit_counts_every_request_in_both_modes(self):
        self.srv.ctl("clock", {"advance_s": 4000})   # a window without the other tests' requests
        self.srv.ctl("config", {"rate_minute": 4})
        # Every kind of request counts: a failed login, a bad query, a logout.
        self.srv.request("POST", "/ajaxauth/login", {"identity": "U", "password": "no"})
        self.get(q("gp_history", "NOPE", "1"))
        self.get(q("gp", "NORAD_CAT_ID", "711"))
        self.srv.request("GET", "/ajaxauth/logout")
        status, _, body = self.get(q("gp", "NORAD_CAT_ID", "711"))
        self.assertEqual(status, 500)
        self.assertIn(b"violated your query rate limit", body)
        self.srv.ctl("config", {"rate_mode": "200"})
        status, _, body = self.get(q("gp", "NORAD_CAT_ID", "711"))
        self.assertEqual(status, 200)
        self.assertTrue(body.startswith(b'[{"error":"You\'ve violated your query rate limit.  Please refer'), body)
        self.assertEqual(json.loads(body), [{"error": spacetrack.RATE_TEXT}])
        self.assertIn("Acceptable Use guidelines (https://www.space-track.org/documentation#/api).",
                      json.loads(body)[0]["error"])
        self.assertEqual(self.srv.ctl("counters")["rate_limited"], 2)
        self.srv.ctl("clock", {"advance_s": 61})
        self.assertEqual(self.get(q("gp", "NORAD_CAT_ID", "711"))[0], 200)

    def test_hour_limit_sends_an_email_and_can_lock(self):
        self.srv.ctl("clock", {"advance_s": 4000})   # a window without the other tests' requests
        self.srv.ctl("config", {"rate_hour": 3, "lock_on_hour": True})
        cookie = self.srv.login()
        for _ in range(3):
            self.get(q("gp", "NORAD_CAT_ID", "711"), cookie=cookie)
        self.assertEqual(self.srv.ctl("counters")["emails"], 1)
        status, _, body = self.srv.request("POST", "/ajaxauth/login", {"identity": "U", "password": "P w&d"})
        self.assertEqual(body, b'{"Login":"Failed"}')
        self.assertEqual(self.get(q("gp"), cookie=cookie)[0], 401)
        self.assertEqual(self.srv.ctl("counters")["emails"], 1)        # one e-mail per hour

    # -- faults

    def test_fault_reset(self):
        self.srv.ctl("fault", {"kind": "reset", "match": "/basicspacedata/"})
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected)):
            self.get(q("gp", "NORAD_CAT_ID", "711"))
        self.assertEqual(self.get(q("gp", "NORAD_CAT_ID", "711"))[0], 200)   # one-shot
        log = self.srv.ctl("log")
        self.assertEqual([e["status"] for e in log], [None, 200])

    def test_fault_truncate_both_styles(self):
        for style in ("chunked", "length"):
            self.srv.ctl("fault", {"kind": "truncate", "style": style})
            with self.assertRaises(http.client.IncompleteRead, msg=style):
                self.get(q("gp_history", "EPOCH", "2024-03-02--2024-03-03", "format", "3le"))
        self.assertEqual(len(self.ok(q("gp_history", "EPOCH", "2024-03-02--2024-03-03", "format", "3le"))
                             .split(b"\r\n")), 1501)

    def test_fault_status_count_and_match(self):
        self.srv.ctl("fault", {"kind": "status", "status": 502, "count": 2, "match": "class/gp/"})
        self.assertEqual(self.get(q("gp_history", "NORAD_CAT_ID", "711"))[0], 200)   # does not match
        for _ in range(2):
            status, _, body = self.get(q("gp", "NORAD_CAT_ID", "711"))
            self.assertEqual(status, 502)
            self.assertTrue(body)
        self.assertEqual(self.get(q("gp", "NORAD_CAT_ID", "711"))[0], 200)

    def test_fault_error_200_and_slow_first_byte(self):
        self.srv.ctl("fault", {"kind": "error_200", "message": "boom"})
        self.assertEqual(self.js(q("gp", "NORAD_CAT_ID", "711")), [{"error": "boom"}])
        self.srv.ctl("fault", {"kind": "slow_first_byte", "seconds": 0.2})
        self.assertEqual(self.js(q("gp", "NORAD_CAT_ID", "711", "predicates", "NORAD_CAT_ID")),
                         [{"NORAD_CAT_ID": "711"}])

    def test_fault_hang_until_cleared(self):
        self.srv.ctl("fault", {"kind": "hang", "count": 0})
        with self.assertRaises(socket.timeout):
            self.get(q("gp", "NORAD_CAT_ID", "711"), timeout=0.5)
        self.assertEqual(self.srv.ctl("counters")["queries"], 1)   # the control API still answers
        self.srv.ctl("clear_faults", {})
        self.assertEqual(self.get(q("gp", "NORAD_CAT_ID", "711"))[0], 200)

    def test_fault_rows_500(self):
        self.srv.ctl("fault", {"kind": "rows_500", "rows": 10, "count": 0})
        self.assertEqual(self.get(q("gp_history", "NORAD_CAT_ID", "1--10"))[0], 200)
        self.assertEqual(self.get(q("gp_history", "NORAD_CAT_ID", "1--11"))[0], 500)
        self.assertEqual(self.get(q("gp_history", "NORAD_CAT_ID", "1--11"))[0], 500)

    # -- observation and robustness

    def test_log_counters_and_log_file(self):
        self.get(q("gp", "EPOCH", ">2056-01-01"))
        self.srv.ctl("counters")
        log = self.srv.ctl("log")
        self.assertEqual(len(log), 1)   # control requests are not logged
        e = log[0]
        self.assertEqual((e["method"], e["status"], e["cookie"]), ("GET", 200, self.cookie))
        self.assertEqual(e["path"], "/basicspacedata/query/class/gp/EPOCH/%3E2056-01-01")
        self.assertEqual(e["query_path_decoded"], "/basicspacedata/query/class/gp/EPOCH/>2056-01-01")
        self.assertIsInstance(e["time"], float)
        c = self.srv.ctl("counters")
        self.assertEqual((c["requests"], c["queries"], c["logins"]), (1, 1, 0))
        self.assertEqual(c["by_path"], {"/basicspacedata/query/class/gp/EPOCH/>2056-01-01": 1})
        with open(self.srv.logfile) as f:
            lines = [json.loads(x) for x in f]
        self.assertEqual(lines[-1], e)

    def test_garbage_never_kills_the_server(self):
        for raw in (b"\x00\x01garbage\r\n\r\n", b"GET\r\n\r\n", b"POST /ajaxauth/login HTTP/1.1\r\n"
                    b"Content-Length: -5\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) as s:
                s.sendall(raw)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
        for bad in ("{not json", '{"locked": "yes"}', '{"rate_minute": "x"}', '{"nope": 1}',
                    '{"offset_s": "soon"}', '{"kind": "melt"}', '{"kind": "status", "status": "x"}', "[1]"):
            for ctl in ("config", "clock", "fault"):
                status, _, body = self.srv.request("POST", "/_test/" + ctl, body=bad)
                self.assertIn(status, (200, 400), (ctl, bad))
        self.assertEqual(self.srv.request("POST", "/_test/config", body='{"locked": "yes"}')[0], 400)
        self.assertEqual(self.srv.request("POST", "/_test/clock", body='{"offset_s": "soon"}')[0], 400)
        self.assertEqual(self.srv.ctl("config", {})["locked"], False)
        slow = '{"kind": "slow_first_byte", "seconds": "x"}'
        self.assertEqual(self.srv.request("POST", "/_test/fault", body=slow)[0], 400)
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) as s:
            s.sendall(b"GET /ajaxauth/logout HTTP/1.0\r\n\r\n")
            reply = b""
            while True:
                data = s.recv(65536)
                if not data:
                    break
                reply += data
        self.assertIn(b"\r\nContent-Length: 25\r\n", reply)   # no chunks for HTTP/1.0
        self.assertTrue(reply.endswith(b'\r\n\r\n"Successfully logged out"'), reply)
        self.assertEqual(self.srv.request("GET", "/nowhere")[0], 404)
        self.assertEqual(self.get(q("gp", "NORAD_CAT_ID", "711"), cookie=None, headers={"Cookie": "=;;\x7f"})[0], 401)
        self.assertEqual(self.get(q("gp", "NORAD_CAT_ID", "711"))[0], 200)


@unittest.skipUnless(os.path.isdir(SHARED_TLE), "no shared TLE data at %s" % SHARED_TLE)
class SharedDataTest(unittest.TestCase):
    """Against real Space-Track files: what goes in comes out byte for byte."""

    def test_real_day_round_trips_and_real_epoch_format(self):
        path = os.path.join(SHARED_TLE, "spacetrack_3le_2022-01-21_subset_crlf.3le")
        with open(path, "rb") as f:
            lines = f.read().split(b"\r\n")[:-1]
        records = [b"\r\n".join(lines[i:i + 3]) + b"\r\n" for i in range(0, len(lines), 3)]
        day = [r for r in records if r.split(b"\r\n")[1][18:23] == b"22021"]
        with open(os.path.join(SHARED_TLE, "gp_json_record_example_2026-06-06.json")) as f:
            real = json.load(f)[0]
        with tempfile.TemporaryDirectory() as d:
            one = os.path.join(d, "one.3le")
            with open(one, "w") as f:
                f.write("\n".join([real["TLE_LINE0"], real["TLE_LINE1"], real["TLE_LINE2"]]) + "\n")
            srv = Server("--data", path, "--data", one)
            try:
                cookie = srv.login()
                _, _, body = srv.request("GET", q("gp_history", "EPOCH", "2022-01-21--2022-01-21 23:59:59.999999",
                                                  "format", "3le"), cookie=cookie)
                _, _, js = srv.request("GET", q("gp_history", "TLE_LINE1", real["TLE_LINE1"]), cookie=cookie)
            finally:
                srv.stop()
        self.assertGreater(len(day), 3000)
        self.assertEqual(body, b"".join(day))   # load order, bytes and CRLF kept
        row = json.loads(js)[0]
        for k in ("EPOCH", "NORAD_CAT_ID", "OBJECT_NAME", "OBJECT_ID", "TLE_LINE0", "MEAN_MOTION",
                  "INCLINATION", "CLASSIFICATION_TYPE", "ELEMENT_SET_NO", "DECAY_DATE"):
            self.assertEqual(row[k], real[k], k)


if __name__ == "__main__":
    unittest.main()
