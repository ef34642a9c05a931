#!/usr/bin/env python3
"""A local stand-in for space-track.org, for astrofs tests and benchmarks.

Python 3 standard library only.  It serves the parts of the Space-Track API
astrofs uses (docs/reference/spacetrack.md sections 2-5 and the checklist in
section 8) from TLE/3LE files and synthetic days, plus a control API under
/_test/ that tests use to switch behaviours, inject faults and observe traffic.

    python3 tests/standin/spacetrack.py --port 0 --user U --password P \
        [--host 127.0.0.1] [--data FILE]... [--synthetic-day YYYY-MM-DD:N]... \
        [--rate-minute 30 --rate-hour 300] [--session-ttl 7200] [--log FILE] \
        [--write-synthetic FILE]

When ready it prints exactly one line, "listening on 127.0.0.1:<port>", and
flushes stdout.  SIGTERM/SIGINT stop it cleanly (exit status 0).  With
--write-synthetic it writes the --synthetic-day elsets as a CRLF 3LE file and
exits instead of serving.  `synthetic_day()` and `write_3le()` are importable.

Dataset
  Every elset has the lines of its file byte-for-byte (line endings removed),
  EPOCH (microseconds, from line 1), NORAD_CAT_ID (Alpha-5 decoded), a
  synthesised CREATION_DATE (epoch + 3 h, whole seconds), FILE (hours since
  1957-01-01 of the creation date: one publication batch per hour) and GP_ID
  (load order).  OBJECT_NAME comes from the "0 NAME" line, else "UNKNOWN";
  TLE_LINE0 is that line verbatim, else "0 UNKNOWN".  Records that fail the
  checks (line numbers, matching catalogue numbers, >= 68 columns, a parsable
  epoch, the mod-10 checksum when column 69 is present) are skipped with a
  note on stderr.
  Two synthetic elsets are always added:
    - the MIDNIGHT elset, NORAD 90001, epoch exactly 2001-01-02 00:00:00.000000
      (so the inclusive day query 2001-01-01--2001-01-02 returns it too);
    - the LATE-EPOCH elset, NORAD 90002, epoch 2001-01-01 18:00:00, published
      (CREATION_DATE) 2000-12-29 18:00:00, i.e. before its epoch.
  GET /_test/special returns both.  POST /_test/add_late adds elsets from
  NORAD 90100 upward to a past day, all with FILE = highest FILE + 1 and
  CREATION_DATE = now.

API (one account; every non-/_test/ request counts against its rate limit)
  POST /ajaxauth/login, GET /ajaxauth/logout,
  GET /basicspacedata/query/class/{gp_history,gp}/..., /basicspacedata/modeldef/class/{gp_history,gp}.
  Predicates: any column of MODEL, names case-insensitive.  Operators: exact,
  >v, <v, <>v, a--b (inclusive), a,b (each term exact or a range), ~~v (contains,
  case-insensitive), ^v (prefix), null-val, now[-+]N (days).  Generic: orderby,
  limit N[,offset], predicates, distinct, emptyresult/show ("NO RESULTS RETURNED"
  for an empty text result, an assumption), metadata, format tle|3le|json.
  Under `predicates` the text formats print the selected columns' values, one
  per line, so predicates/OBJECT_NAME,TLE_LINE1,TLE_LINE2/format/3le gives the
  name without the "0 " prefix.  All responses use chunked transfer encoding
  (Content-Length for an HTTP/1.0 request).  Sessions slide: each authenticated
  request moves the deadline to now + session_ttl.

Faults (POST /_test/fault {"kind", "count" (default 1, 0 = until cleared),
"match" (path substring), "seconds", "status", "rows", "message", "style"}):
  reset, truncate (style "chunked" or "length"), status, slow_first_byte, hang,
  error_200, rows_500.  A faulted request is still logged and counted.  A
  fault wins over the rate-limit answer.  reset, status and error_200 replace
  the request (a faulted login makes no session); hang and slow_first_byte
  delay it, then it is answered normally (a hang ends on clear_faults or at
  shutdown); truncate cuts its answer in half; rows_500 answers 500 instead
  of a result with more than "rows" rows.  Faults are tried in the order added.

Rate limit: one sliding window for the account, counting every request that
reaches the server (logins, logouts, bad and faulted ones) at arrival.  Over
rate_minute in 60 s: the answer is the rate-limit error (rate_mode "500": 500
text; "200": 200 [{"error": ...}]).  Over rate_hour in 3600 s: one "email"
(counted in counters) per hour, and with lock_on_hour the account locks (every
login fails, sessions end); the request itself is answered normally.

Control (never rate limited, never logged): GET /_test/log, GET /_test/counters,
GET /_test/special, POST /_test/reset_log (log and counters), /_test/config, /_test/fault,
/_test/clear_faults, /_test/expire_sessions, /_test/add_late, /_test/clock
({"offset_s": N} sets, {"advance_s": N} adds to, the clock offset; the clock
drives session deadlines, rate windows, now-N, CREATION_DATE of late elsets and
the log's "time").  --log FILE appends each log entry as a JSON line.
"""

import argparse
import collections
import datetime as dt
import http.cookies
import http.server
import json
import os
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse

ALPHA5 = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # A=10 .. Z=33, I and O skipped
FILE_ORIGIN = dt.datetime(1957, 1, 1)
RATE_TEXT = ("You've violated your query rate limit.  Please refer to our Acceptable Use "
             "guidelines (https://www.space-track.org/documentation#/api).")
NOT_LOGGED_IN = '{"error":"You must be logged in to complete this action"}'
EXPIRED_HTML = ("<!DOCTYPE html>\n<html><head><title>Error</title></head><body>"
                "<h1>An Error Was Encountered</h1><p>Your session has expired.</p></body></html>\n")
GONE_CLASSES = ("tle", "tle_latest", "tle_publish", "omm")
MAX_BODY = 1 << 20


def compact(obj):
    """JSON as Space-Track prints it: no spaces."""
    return json.dumps(obj, separators=(",", ":"))


class BadRequest(Exception):
    """A request the real server would answer with 400."""


# ---------------------------------------------------------------- TLE lines

def checksum(line):
    return sum(int(c) if c.isdigit() else 1 if c == "-" else 0 for c in line[:68]) % 10


def decode_catnum(field):
    """Catalogue number from columns 3-7: digits (maybe space-padded) or Alpha-5."""
    f = field.strip()
    if not f:
        raise ValueError("blank catalogue number")
    if f[0] in ALPHA5 and len(f) == 5 and f[1:].isdigit():
        return (ALPHA5.index(f[0]) + 10) * 10000 + int(f[1:])
    if not f.isdigit():
        raise ValueError("bad catalogue number %r" % field)
    return int(f)


def encode_catnum(n):
    if n < 100000:
        return "%05d" % n
    return ALPHA5[n // 10000 - 10] + "%04d" % (n % 10000)


def parse_epoch(field):
    """Columns 19-32, YYDDD.DDDDDDDD, to a datetime rounded to the microsecond."""
    f = field.strip()
    whole, dot, frac = f.partition(".")
    if len(whole) != 5 or not whole.isdigit() or not dot or not frac.isdigit():
        raise ValueError("bad epoch %r" % field)
    yy, doy = int(whole[:2]), int(whole[2:])
    if doy > 366:
        raise ValueError("bad day of year in epoch %r" % field)
    year = 1900 + yy if yy >= 57 else 2000 + yy
    # Integer arithmetic: a float would lose the last microsecond digit.
    us = (int(frac) * 86400000000 * 2 + 10 ** len(frac)) // (2 * 10 ** len(frac))
    return dt.datetime(year, 1, 1) + dt.timedelta(days=doy - 1, microseconds=us)


def check_record(l1, l2):
    """Return the problem with a line pair, or None."""
    for n, line in ((1, l1), (2, l2)):
        if len(line) < 68:
            return "line %d has %d columns" % (n, len(line))
        if len(line) >= 69 and line[68].isdigit() and int(line[68]) != checksum(line):
            return "line %d checksum %s, expected %d" % (n, line[68], checksum(line))
        if len(line) >= 69 and not line[68].isdigit():
            return "line %d column 69 is not a checksum digit" % n
    try:
        if decode_catnum(l1[2:7]) != decode_catnum(l2[2:7]):
            return "catalogue numbers differ"
        parse_epoch(l1[18:32])
    except ValueError as e:
        return str(e)
    return None


def make_lines(catnum, epoch_date, frac8, seq, rng):
    """Two valid TLE lines; frac8 is the epoch's day fraction in units of 1e-8."""
    doy = epoch_date.timetuple().tm_yday
    cat = encode_catnum(catnum)
    intl = "%02d%03d%-3s" % (epoch_date.year % 100, 1 + seq % 999, "A")
    l1 = "1 %sU %-8s %02d%03d.%08d  .%08d  00000-0  %05d-4 0  %3d" % (
        cat, intl, epoch_date.year % 100, doy, frac8, rng() % 10000, rng() % 100000, 1 + seq % 999)
    l2 = "2 %s %8.4f %8.4f %07d %8.4f %8.4f %11.8f%5d" % (
        cat, (rng() % 1800000) / 10000, (rng() % 3600000) / 10000, rng() % 300000,
        (rng() % 3600000) / 10000, (rng() % 3600000) / 10000,
        11.0 + (rng() % 500000000) / 1e8, rng() % 100000)
    l1 += str(checksum(l1))
    l2 += str(checksum(l2))
    assert len(l1) == 69 and len(l2) == 69, (l1, l2)
    return l1, l2


def lcg(seed):
    state = [seed & 0xFFFFFFFF]

    def nxt():
        state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return state[0] >> 4
    return nxt


def synthetic_day(day, n):
    """n deterministic valid elsets (l0, l1, l2) for NORAD 1..n spread over the UTC day."""
    rng = lcg(day.toordinal())
    out = []
    for i in range(n):
        frac8 = (2 * i + 1) * 10 ** 8 // (2 * n)
        l1, l2 = make_lines(i + 1, day, frac8, i, rng)
        out.append(("0 SYN %s %06d" % (day.isoformat(), i + 1), l1, l2))
    return out


def write_3le(path, records):
    with open(path, "wb") as f:
        for rec in records:
            f.write(("\r\n".join(rec) + "\r\n").encode("latin-1"))


def read_tle_file(path, warn):
    """(l0 or None, l1, l2) records from a TLE/3LE file, bad ones reported to warn()."""
    with open(path, "rb") as f:
        # Split on LF only: str.splitlines() would also split at bytes such as 0x85 inside a name.
        lines = [x[:-1] if x.endswith("\r") else x for x in f.read().decode("latin-1").split("\n")]
    out, name, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("1 "):
            if i < len(lines) and lines[i].startswith("2 "):
                l2 = lines[i]
                i += 1
                problem = check_record(line, l2)
                if problem:
                    warn("%s:%d: skipped record %s: %s" % (path, i - 1, line[2:7].strip(), problem))
                else:
                    out.append((name, line, l2))
            else:
                warn("%s:%d: skipped line 1 without a line 2" % (path, i))
            name = None
        elif line.startswith("2 "):
            warn("%s:%d: skipped line 2 without a line 1" % (path, i))
        else:
            name = line if line.startswith("0 ") else "0 " + line.strip()
    return out


# ---------------------------------------------------------------- dataset

class Elset:
    __slots__ = ("l0", "l1", "l2", "epoch", "norad", "creation", "file", "gp_id")

    def __init__(self, l0, l1, l2, gp_id, creation=None, file=None):
        self.l0 = l0 if l0 is not None else "0 UNKNOWN"
        self.l1, self.l2 = l1, l2
        self.epoch = parse_epoch(l1[18:32])
        self.norad = decode_catnum(l1[2:7])
        self.creation = creation or (self.epoch + dt.timedelta(hours=3)).replace(microsecond=0)
        self.file = file if file is not None else int((self.creation - FILE_ORIGIN).total_seconds() // 3600)
        self.gp_id = gp_id


def _num(kind, text):
    try:
        return kind(text) if text else None
    except ValueError:
        return None


def _object_id(e):
    d = e.l1[9:17].strip()
    if len(d) < 5 or not d[:5].isdigit():
        return None
    yy = int(d[:2])
    return "%d-%s" % (1900 + yy if yy >= 57 else 2000 + yy, d[2:])


# Column name -> (type, typed value, SQL type for modeldef).  JSON shows them in this order.
MODEL = collections.OrderedDict([
    ("CCSDS_OMM_VERS", ("str", lambda e: "3.0", "varchar(3)")),
    ("COMMENT", ("str", lambda e: "GENERATED VIA SPACE-TRACK.ORG API", "varchar(33)")),
    ("CREATION_DATE", ("date", lambda e: e.creation, "datetime")),
    ("ORIGINATOR", ("str", lambda e: "18 SPCS", "varchar(7)")),
    ("OBJECT_NAME", ("str", lambda e: e.l0[2:] if e.l0.startswith("0 ") else e.l0, "varchar(25)")),
    ("OBJECT_ID", ("str", _object_id, "varchar(12)")),
    ("EPOCH", ("date", lambda e: e.epoch, "datetime(6)")),
    ("MEAN_MOTION", ("float", lambda e: e.l2[52:63].strip(), "decimal(13,8)")),
    ("ECCENTRICITY", ("float", lambda e: "0." + e.l2[26:33].strip(), "decimal(13,8)")),
    ("INCLINATION", ("float", lambda e: e.l2[8:16].strip(), "decimal(7,4)")),
    ("RA_OF_ASC_NODE", ("float", lambda e: e.l2[17:25].strip(), "decimal(7,4)")),
    ("ARG_OF_PERICENTER", ("float", lambda e: e.l2[34:42].strip(), "decimal(7,4)")),
    ("MEAN_ANOMALY", ("float", lambda e: e.l2[43:51].strip(), "decimal(7,4)")),
    ("EPHEMERIS_TYPE", ("int", lambda e: e.l1[62:63].strip(), "tinyint(4)")),
    ("CLASSIFICATION_TYPE", ("str", lambda e: e.l1[7:8], "char(1)")),
    ("NORAD_CAT_ID", ("int", lambda e: e.norad, "int(10) unsigned")),
    ("ELEMENT_SET_NO", ("int", lambda e: e.l1[64:68].strip(), "smallint(5) unsigned")),
    ("REV_AT_EPOCH", ("int", lambda e: e.l2[63:68].strip(), "mediumint(8) unsigned")),
    ("DECAY_DATE", ("date", lambda e: None, "date")),
    ("FILE", ("int", lambda e: e.file, "bigint(20) unsigned")),
    ("GP_ID", ("int", lambda e: e.gp_id, "int(10) unsigned")),
    ("TLE_LINE0", ("str", lambda e: e.l0, "varchar(27)")),
    ("TLE_LINE1", ("str", lambda e: e.l1, "varchar(71)")),
    ("TLE_LINE2", ("str", lambda e: e.l2, "varchar(71)")),
])
GENERIC = ("orderby", "limit", "predicates", "distinct", "emptyresult", "format", "metadata", "favorites")


def typed(col, e):
    kind, get, _ = MODEL[col]
    v = get(e)
    if kind == "int" and not isinstance(v, int):
        return _num(int, v)
    if kind == "float":
        return _num(float, v)
    return v


def show(col, e):
    """The column as the JSON API prints it: a string, or None."""
    v = MODEL[col][1](e)
    if v is None or v == "":
        return None
    if isinstance(v, dt.datetime):
        if col == "EPOCH":
            return v.strftime("%Y-%m-%dT%H:%M:%S.%f")
        return v.strftime("%Y-%m-%dT%H:%M:%S")
    return str(v)


def parse_date(text, now):
    t = text.strip()
    low = t.lower()
    if low.startswith("now"):
        rest = low[3:]
        days = float(rest) if rest else 0.0
        return now + dt.timedelta(days=days)
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(t, fmt)
        except ValueError:
            pass
    raise ValueError("bad date %r" % text)


def convert(col, text, now):
    kind = MODEL[col][0]
    try:
        if kind == "date":
            return parse_date(text, now)
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise BadRequest("invalid value %r for %s" % (text, col))
    return text.lower()


def make_test(col, value, now):
    """A function elset -> bool for one predicate/value pair."""
    kind = MODEL[col][0]

    def val(e):
        v = typed(col, e)
        return v.lower() if kind == "str" and v is not None else v

    low = value.lower()
    if low == "null-val":
        return lambda e: typed(col, e) is None
    if low.startswith("~~") or low.startswith("^"):
        like = low.startswith("~~")
        needle = low[2:] if like else low[1:]

        def text_match(e):
            s = show(col, e)
            return s is not None and (needle in s.lower() if like else s.lower().startswith(needle))
        return text_match
    if "," in value and all(t[:1] in "<>" and not t.startswith("<>") for t in value.split(",")):
        # ">a,<b": every bound must hold (a range, as clients such as
        # sattle write gp_history epoch windows), not a list of values
        bounds = [make_test(col, t, now) for t in value.split(",")]
        return lambda e: all(b(e) for b in bounds)
    for op, fn in (("<>", lambda a, b: a != b), (">", lambda a, b: a > b), ("<", lambda a, b: a < b)):
        if value.startswith(op):
            ref = convert(col, value[len(op):], now)

            def compare(e, ref=ref, fn=fn):
                v = val(e)
                return v is not None and fn(v, ref)
            return compare
    terms = []
    for term in value.split(","):
        lo, sep, hi = term.partition("--")
        terms.append((convert(col, lo, now), convert(col, hi if sep else lo, now)))

    def within(e):
        v = val(e)
        return v is not None and any(a <= v <= b for a, b in terms)
    return within


def column(name):
    col = name.strip().upper()
    if col not in MODEL:
        raise BadRequest("Unknown predicate %s" % name.strip())
    return col


def run_query(rows, pairs, now):
    """Filter, order and page `rows` for the (key, value) pairs of a query path."""
    opts, tests = {}, []
    for key, value in pairs:
        k = key.lower()
        if k in GENERIC:
            opts[k] = value
        else:
            tests.append(make_test(column(key), value, now))
    result = [e for e in rows if all(t(e) for t in tests)]
    if "orderby" in opts:
        keys = []
        for item in opts["orderby"].split(","):
            words = item.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
                raise BadRequest("bad orderby %r" % item)
            keys.append((column(words[0]), len(words) == 2 and words[1].lower() == "desc"))
        for col, desc in reversed(keys):
            # None sorts first ascending, as in MySQL.
            result.sort(key=lambda e: (lambda v: (v is not None, v if v is not None else 0))(typed(col, e)),
                        reverse=desc)
    total = len(result)
    if "limit" in opts:
        parts = opts["limit"].split(",")
        try:
            n, off = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
        except (ValueError, IndexError):
            raise BadRequest("bad limit %r" % opts["limit"])
        if len(parts) > 2 or n < 0 or off < 0:
            raise BadRequest("bad limit %r" % opts["limit"])
        result = result[off:off + n]
    return result, opts, total


def render(result, opts, total):
    """(content type, body bytes) for a query result."""
    fmt = opts.get("format", "json").lower()
    cols = None
    if opts.get("predicates", "all").lower() != "all":
        cols = [column(c) for c in opts["predicates"].split(",")]
    distinct = opts.get("distinct", "false").lower() == "true"
    if fmt == "json":
        objs = [collections.OrderedDict((c, show(c, e)) for c in (cols or MODEL)) for e in result]
        if distinct:
            seen, uniq = set(), []
            for o in objs:
                k = tuple(o.values())
                if k not in seen:
                    seen.add(k)
                    uniq.append(o)
            objs = uniq
        if opts.get("metadata", "false").lower() == "true":
            objs = {"request_metadata": {"Total": total, "Limit": None, "LimitOffset": None,
                                         "ReturnedRows": len(objs), "RequestTime": "0.0010"},
                    "data": objs}
        return "application/json", compact(objs).encode()
    if fmt not in ("tle", "3le"):
        raise BadRequest("format %s is not served by the stand-in" % fmt)
    if cols:
        records = ["\r\n".join(show(c, e) or "" for c in cols) for e in result]
    elif fmt == "tle":
        records = [e.l1 + "\r\n" + e.l2 for e in result]
    else:
        records = [e.l0 + "\r\n" + e.l1 + "\r\n" + e.l2 for e in result]
    if distinct:
        records = list(collections.OrderedDict.fromkeys(records))
    body = "".join(r + "\r\n" for r in records)
    if not body and opts.get("emptyresult", "").lower() == "show":
        body = "NO RESULTS RETURNED"
    return "text/plain", body.encode("latin-1")


def newest_per_object(rows):
    best = {}
    for e in rows:
        b = best.get(e.norad)
        if b is None or (e.epoch, e.gp_id) > (b.epoch, b.gp_id):
            best[e.norad] = e
    return sorted(best.values(), key=lambda e: e.gp_id)


# ---------------------------------------------------------------- state

class State:
    """Everything mutable, behind one lock."""

    def __init__(self, args, records):
        self.lock = threading.Lock()
        self.user, self.password = args.user, args.password
        self.cfg = {"locked": False, "expired_500_html": False, "rate_mode": "500",
                    "rate_minute": args.rate_minute, "rate_hour": args.rate_hour,
                    "lock_on_hour": False, "session_ttl": args.session_ttl,
                    "cui_access": not args.no_cui_access}
        self.offset = 0.0
        self.sessions = {}
        self.hits = collections.deque()
        self.last_email = None
        self.faults = []
        self.release = threading.Event()   # wakes hung and slow requests
        self.stopping = False
        self.log, self.logfile = [], args.log
        self.counters = self.zero_counters()
        self.rows = []
        for l0, l1, l2 in records:
            self.rows.append(Elset(l0, l1, l2, 100000000 + len(self.rows)))
        self.midnight = self.add_special(90001, dt.date(2001, 1, 2), 0, "STANDIN MIDNIGHT", None)
        self.late = self.add_special(90002, dt.date(2001, 1, 1), 75000000, "STANDIN LATE EPOCH",
                                     dt.datetime(2000, 12, 29, 18, 0, 0))
        self.next_late = 90100
        self.gp = None
        # fileshare folder 59: controlled (CUI) element sets, served only
        # as files there; their objects are absent from gp and gp_history
        self.cui_files = []
        for i, (uploaded, path) in enumerate(args.cui, start=1):
            with open(path, "rb") as f:
                self.cui_files.append({"id": 1000 + i, "name": os.path.basename(path),
                                       "uploaded": uploaded, "body": f.read()})
        hidden = set()
        for cf in self.cui_files:
            for line in cf["body"].decode("latin-1").splitlines():
                if line.startswith("1 ") and len(line) >= 7:
                    hidden.add(decode_catnum(line[2:7]))
        self.rows = [e for e in self.rows if e.norad not in hidden]

    @staticmethod
    def zero_counters():
        return {"logins": 0, "logins_ok": 0, "logins_failed": 0, "logouts": 0, "queries": 0,
                "requests": 0, "rate_limited": 0, "emails": 0, "fileshare": 0,
                "by_path": {}}

    def now(self):
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).replace(tzinfo=None)

    def clock(self):
        return time.time() + self.offset

    def add_special(self, norad, day, frac8, name, creation):
        l1, l2 = make_lines(norad, day, frac8, norad, lcg(norad))
        e = Elset("0 " + name, l1, l2, 100000000 + len(self.rows), creation)
        self.rows.append(e)
        return e

    def add_late(self, day, count):
        with self.lock:
            now = self.now().replace(microsecond=0)
            file = max(e.file for e in self.rows) + 1
            rng, added = lcg(file), []
            rows = list(self.rows)   # copy on write: running queries keep their snapshot
            for i in range(count):
                l1, l2 = make_lines(self.next_late, day, (2 * i + 1) * 10 ** 8 // (2 * count), i, rng)
                e = Elset("0 STANDIN LATE %d" % self.next_late, l1, l2, 100000000 + len(rows), now, file)
                self.next_late += 1
                rows.append(e)
                added.append({"NORAD_CAT_ID": str(e.norad), "GP_ID": str(e.gp_id), "EPOCH": show("EPOCH", e)})
            self.rows, self.gp = rows, None
            return {"FILE": str(file), "CREATION_DATE": show("CREATION_DATE", rows[-1]) if added else None,
                    "added": added}

    def table(self, cls):
        with self.lock:
            if cls == "gp_history":
                return self.rows
            if self.gp is None:
                self.gp = newest_per_object(self.rows)
            return self.gp

    def count_request(self, now):
        """Record one request against the account; True when the minute limit is breached."""
        with self.lock:
            self.hits.append(now)
            while self.hits and self.hits[0] <= now - 3600:
                self.hits.popleft()
            per_minute = sum(1 for t in self.hits if t > now - 60)
            if len(self.hits) > self.cfg["rate_hour"] and (self.last_email is None or self.last_email <= now - 3600):
                self.last_email = now
                self.counters["emails"] += 1
                if self.cfg["lock_on_hour"]:
                    self.cfg["locked"] = True
                    self.sessions.clear()
            return per_minute > self.cfg["rate_minute"]

    def take_fault(self, path, kinds, rows=None):
        with self.lock:
            for f in self.faults:
                if f["kind"] in kinds and f.get("match", "") in path and (rows is None or rows > f.get("rows", 0)):
                    if f.get("count", 1) > 0:
                        f["count"] = f.get("count", 1) - 1
                        if f["count"] == 0:
                            self.faults.remove(f)
                    return dict(f)
        return None

    def session_ok(self, cookie, now):
        with self.lock:
            deadline = self.sessions.get(cookie)
            if deadline is None or deadline < now:
                self.sessions.pop(cookie, None)
                return False
            self.sessions[cookie] = now + self.cfg["session_ttl"]
            return True


FAULT_KINDS = ("reset", "truncate", "status", "slow_first_byte", "hang", "error_200", "rows_500")


# ---------------------------------------------------------------- HTTP

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin-spacetrack"
    st = None   # the State, set by main()

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def read_body(self):
        n = self.headers.get("Content-Length")
        try:
            n = int(n) if n else 0
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            raise BadRequest("bad Content-Length")
        return self.rfile.read(n)

    def dispatch(self, method):
        self.entry, self.truncate, self.logged = None, None, False
        try:
            if self.path.startswith("/_test/"):
                self.control(method)
            else:
                self.served(method)
        except BadRequest as e:
            self.send(400, compact({"error": str(e)}), "application/json")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            traceback.print_exc()
            try:
                self.send(500, "internal error in the stand-in\n", "text/plain")
            except OSError:
                pass
            self.close_connection = True
        finally:
            self.write_log()

    def write_log(self):
        """Append the request to --log once, before its answer goes out so a test can read it."""
        if self.entry is not None and self.st.logfile and not self.logged:
            self.logged = True
            with self.st.lock, open(self.st.logfile, "a") as f:
                f.write(json.dumps(self.entry) + "\n")

    def send(self, code, body, ctype, headers=()):
        """Answer with a chunked body, or the injected truncation of one."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if self.entry is not None:
            self.entry["status"] = code
            self.write_log()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if self.truncate == "length" or self.request_version == "HTTP/1.0":
            # HTTP/1.0 clients cannot take chunks.
            self.send_header("Content-Length", str(max(len(body), 16) if self.truncate else len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2] if self.truncate else body)
        else:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            part = body[:len(body) // 2] if self.truncate else body
            for i in range(0, len(part), 65536):
                piece = part[i:i + 65536]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            if not self.truncate:
                self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        if self.truncate:
            self.close_connection = True

    def cookie(self):
        try:
            c = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            return None
        return c["chocolatechip"].value if "chocolatechip" in c else None

    # -- the API

    def served(self, method):
        st = self.st
        path = self.path.split("?", 1)[0]
        decoded = urllib.parse.unquote(path, errors="replace")
        now = st.clock()
        self.entry = {"method": method, "path": self.path, "query_path_decoded": decoded,
                      "cookie": self.cookie(), "time": now, "status": None}
        with st.lock:
            st.log.append(self.entry)
            c = st.counters
            c["requests"] += 1
            c["by_path"][decoded] = c["by_path"].get(decoded, 0) + 1
            if path == "/ajaxauth/login":
                c["logins"] += 1
            elif path == "/ajaxauth/logout":
                c["logouts"] += 1
            elif path.startswith("/basicspacedata/"):
                c["queries"] += 1
            elif path.startswith("/fileshare/"):
                c["fileshare"] += 1
        breach = st.count_request(now)   # before anything can fail: every request counts
        body = self.read_body()

        fault = st.take_fault(path, ("reset", "truncate", "status", "slow_first_byte", "hang", "error_200"))
        kind = fault and fault["kind"]
        if kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()   # the real close (an RST) happens once rfile/wfile close
            self.close_connection = True
            return
        if kind in ("hang", "slow_first_byte"):
            st.release.wait(None if kind == "hang" else float(fault.get("seconds", 5)))
        if kind == "status":
            code = int(fault.get("status", 503))
            return self.send(code, fault.get("message", "<html><body><h1>%d</h1></body></html>\n" % code),
                             "text/html")
        if kind == "error_200":
            return self.send(200, compact([{"error": fault.get("message", "stand-in injected error")}]),
                             "application/json")
        if kind == "truncate":
            self.truncate = fault.get("style", "chunked")

        if breach:
            with st.lock:
                st.counters["rate_limited"] += 1
                mode = st.cfg["rate_mode"]
            if mode == "200":
                return self.send(200, compact([{"error": RATE_TEXT}]), "application/json")
            return self.send(500, RATE_TEXT, "text/plain")

        if method == "POST" and path == "/ajaxauth/login":
            return self.login(body)
        if method == "GET" and path == "/ajaxauth/logout":
            with st.lock:
                st.sessions.pop(self.entry["cookie"], None)
            return self.send(200, '"Successfully logged out"', "application/json")
        if method == "GET" and path.startswith("/basicspacedata/"):
            return self.query(path)
        if method == "GET" and path.startswith("/fileshare/"):
            return self.fileshare(path)
        self.send(404, "not found\n", "text/plain")

    def login(self, body):
        st = self.st
        form = urllib.parse.parse_qs(body.decode("latin-1"), keep_blank_values=True)
        if "query" in form:
            return self.send(400, "Single command deprecated. See API help for cookie use.", "text/plain")
        with st.lock:
            ok = (not st.cfg["locked"] and form.get("identity") == [st.user]
                  and form.get("password") == [st.password])
            st.counters["logins_ok" if ok else "logins_failed"] += 1
            if ok:
                token = secrets.token_hex(16)
                st.sessions[token] = st.clock() + st.cfg["session_ttl"]
        if not ok:
            return self.send(200, '{"Login":"Failed"}', "application/json")
        self.send(200, '""', "application/json", [("Set-Cookie", "chocolatechip=%s; path=/" % token)])

    def query(self, path):
        st = self.st
        if not st.session_ok(self.entry["cookie"], st.clock()):
            if st.cfg["expired_500_html"]:
                return self.send(500, EXPIRED_HTML, "text/html")
            return self.send(401, NOT_LOGGED_IN, "application/json")
        if "%25" in path:
            raise BadRequest("double-encoded path")
        parts = [urllib.parse.unquote(p) for p in path.split("/")[2:]]
        if len(parts) < 3 or parts[0].lower() not in ("query", "modeldef") or parts[1].lower() != "class":
            raise BadRequest("expected query/class/<class>/... or modeldef/class/<class>")
        cls = parts[2].lower()
        if cls in GONE_CLASSES:
            raise BadRequest("class %s has been removed; use gp or gp_history" % cls)
        if cls not in ("gp", "gp_history"):
            raise BadRequest("unknown class %s" % parts[2])
        if parts[0].lower() == "modeldef":
            data = [{"Field": k, "Type": v[2], "Null": "YES", "Key": "", "Default": None, "Extra": ""}
                    for k, v in MODEL.items()]
            return self.send(200, compact({"controller": "basicspacedata", "data": data}), "application/json")
        rest = parts[3:]
        if len(rest) % 2:
            raise BadRequest("predicate %s has no value" % rest[-1])
        result, opts, total = run_query(st.table(cls), list(zip(rest[::2], rest[1::2])), st.now())
        if st.take_fault(path, ("rows_500",), rows=len(result)):
            return self.send(500, "<html><body>Query result too large</body></html>\n", "text/html")
        ctype, body = render(result, opts, total)
        self.send(200, body, ctype)

    def fileshare(self, path):
        """Folder 59's file list and downloads.  An account without access
        to the folder sees it empty ([]) and is refused a download (403)."""
        st = self.st
        if not st.session_ok(self.entry["cookie"], st.clock()):
            return self.send(401, NOT_LOGGED_IN, "application/json")
        parts = [urllib.parse.unquote(p) for p in path.split("/")[2:]]
        if len(parts) < 3 or parts[0].lower() != "query" or parts[1].lower() != "class":
            raise BadRequest("expected query/class/<class>/...")
        cls, rest = parts[2].lower(), parts[3:]
        if len(rest) % 2:
            raise BadRequest("predicate %s has no value" % rest[-1])
        pred = {k.lower(): v for k, v in zip(rest[::2], rest[1::2])}
        with st.lock:
            access = st.cfg["cui_access"]
        if cls == "file":
            if pred.get("folder_id") != "59" or not access:
                return self.send(200, "[]", "application/json")
            files = sorted(st.cui_files, key=lambda f: f["uploaded"],
                           reverse="desc" in pred.get("orderby", "").lower())
            cols = [c.strip().upper() for c in pred.get("predicates", "file_id,file_name,file_uploaded").split(",")]
            val = {"FILE_ID": lambda f: str(f["id"]), "FILE_NAME": lambda f: f["name"],
                   "FILE_UPLOADED": lambda f: f["uploaded"], "FOLDER_ID": lambda f: "59"}
            if any(c not in val for c in cols):
                raise BadRequest("unknown predicate in %s" % pred.get("predicates"))
            return self.send(200, compact([{c: val[c](f) for c in cols} for f in files]), "application/json")
        if cls == "download":
            f = next((f for f in st.cui_files if str(f["id"]) == pred.get("file_id")), None)
            if f is None:
                return self.send(404, compact({"error": "no such file"}), "application/json")
            if not access:
                return self.send(403, compact({"error": "You do not have access to this folder"}),
                                 "application/json")
            return self.send(200, f["body"], "text/plain")
        raise BadRequest("unknown fileshare class %s" % parts[2])

    # -- control

    def control(self, method):
        path = self.path.split("?", 1)[0]
        arg = {}
        if method == "POST":
            raw = self.read_body()
            try:
                arg = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise BadRequest("body is not JSON")
            if not isinstance(arg, dict):
                raise BadRequest("body must be a JSON object")
        if (method, path) == ("POST", "/_test/add_late"):
            try:
                day, count = dt.date.fromisoformat(arg["day"]), int(arg.get("count", 1))
            except (KeyError, ValueError, TypeError):
                raise BadRequest('need {"day": "YYYY-MM-DD", "count": N}')
            return self.reply(self.st.add_late(day, count))
        try:
            with self.st.lock:
                out = self.control_locked(method, path, arg)
        except (ValueError, TypeError) as e:
            raise BadRequest("bad argument: %s" % e)
        if out is None:
            return self.send(404, "unknown control endpoint\n", "text/plain")
        self.reply(out)

    def control_locked(self, method, path, arg):
        st = self.st
        if (method, path) == ("GET", "/_test/log"):
            return list(st.log)
        if (method, path) == ("GET", "/_test/counters"):
            return st.counters
        if (method, path) == ("POST", "/_test/reset_log"):
            st.log, st.counters = [], st.zero_counters()
            return {"ok": True}
        if (method, path) == ("POST", "/_test/config"):
            for k, v in arg.items():
                if k not in st.cfg:
                    raise BadRequest("unknown switch %s" % k)
                kind = type(st.cfg[k])
                if k == "rate_mode":
                    if str(v) not in ("500", "200"):
                        raise BadRequest('rate_mode is "500" or "200"')
                    v = str(v)
                elif kind is bool and not isinstance(v, bool):
                    raise BadRequest("%s takes true or false" % k)
                elif kind is not bool and (isinstance(v, bool) or not isinstance(v, (int, float))):
                    raise BadRequest("%s takes a number" % k)
                st.cfg[k] = kind(v)
            return st.cfg
        if (method, path) == ("POST", "/_test/fault"):
            if arg.get("kind") not in FAULT_KINDS:
                raise BadRequest("kind must be one of %s" % ", ".join(FAULT_KINDS))
            f = dict(arg, count=int(arg.get("count", 1)), match=str(arg.get("match", "")))
            for key, conv in (("seconds", float), ("status", int), ("rows", int)):
                if key in f:
                    f[key] = conv(f[key])
            st.release.clear()
            st.faults.append(f)
            return st.faults
        if (method, path) == ("POST", "/_test/clear_faults"):
            st.faults = []
            st.release.set()
            return {"ok": True}
        if (method, path) == ("POST", "/_test/expire_sessions"):
            n = len(st.sessions)
            st.sessions.clear()
            return {"expired": n}
        if (method, path) == ("POST", "/_test/clock"):
            if "offset_s" in arg:
                st.offset = float(arg["offset_s"])
            st.offset += float(arg.get("advance_s", 0))
            return {"offset_s": st.offset}
        if (method, path) == ("GET", "/_test/special"):
            return {"midnight": self.describe(st.midnight), "late_epoch": self.describe(st.late),
                    "midnight_in_data": sorted({e.epoch.date().isoformat() for e in st.rows
                                                if e.epoch.time() == dt.time(0) and e is not st.midnight})}
        return None

    @staticmethod
    def describe(e):
        return {"day": e.epoch.date().isoformat(), "EPOCH": show("EPOCH", e),
                "CREATION_DATE": show("CREATION_DATE", e), "NORAD_CAT_ID": str(e.norad),
                "GP_ID": str(e.gp_id), "FILE": str(e.file), "TLE_LINE1": e.l1, "TLE_LINE2": e.l2}

    def reply(self, obj):
        self.send(200, json.dumps(obj), "application/json")


# ---------------------------------------------------------------- main

def day_count(text):
    day, sep, n = text.partition(":")
    try:
        day, n = dt.date.fromisoformat(day), int(n)
    except ValueError:
        raise argparse.ArgumentTypeError("expected YYYY-MM-DD:N, got %r" % text)
    if not 0 < n < 340000:
        raise argparse.ArgumentTypeError("N must be 1..339999 (the Alpha-5 range)")
    return day, n


def cui_file(text):
    path, sep, when = text.partition("@")
    when = when if sep else "2019-12-19 00:00:00"
    try:
        dt.datetime.strptime(when, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise argparse.ArgumentTypeError("upload time must be YYYY-MM-DD HH:MM:SS, got %r" % when)
    return when, path


def main(argv=None):
    p = argparse.ArgumentParser(description="space-track.org stand-in for tests")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--data", action="append", default=[])
    p.add_argument("--synthetic-day", action="append", default=[], type=day_count)
    p.add_argument("--rate-minute", type=int, default=30)
    p.add_argument("--rate-hour", type=int, default=300)
    p.add_argument("--session-ttl", type=float, default=7200)
    p.add_argument("--log")
    p.add_argument("--cui", action="append", default=[], type=cui_file,
                   metavar="FILE[@YYYY-MM-DD HH:MM:SS]",
                   help="a file of fileshare folder 59 (CUI), uploaded then (default 2019-12-19 00:00:00); "
                        "its objects leave gp and gp_history")
    p.add_argument("--no-cui-access", action="store_true",
                   help="the account cannot read folder 59 (switch: cui_access)")
    p.add_argument("--write-synthetic", metavar="FILE")
    args = p.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost"):
        p.error("the stand-in binds 127.0.0.1 only")

    def warn(msg):
        print("spacetrack.py: " + msg, file=sys.stderr)

    synth = [r for day, n in args.synthetic_day for r in synthetic_day(day, n)]
    if args.write_synthetic:
        write_3le(args.write_synthetic, synth)
        return 0
    records = []
    for path in args.data:
        records += read_tle_file(path, warn)
    state = State(args, records + synth)

    Handler.st = state
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
    while not stop.wait(0.1):
        pass
    state.release.set()   # let hung requests go
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
