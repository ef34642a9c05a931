#!/usr/bin/env python3
"""Run tests/oracles/crossings.py cases against /satfilter (the file) or the
HTTP listener, and report how the boxes came out.

usage: satfilter_cases.py CASES (file PATH | http URL) [--historical] [--visits N]
Prints one line: "R <on-path boxes> <of them allowed> A <far boxes> <of them allowed>
V <visits cached>".  Exit status 1 when a request fails outright.
"""
import json
import sys
import urllib.request


def main():
    cases, mode, target = sys.argv[1], sys.argv[2], sys.argv[3]
    historical = "--historical" in sys.argv
    nvis = int(sys.argv[sys.argv.index("--visits") + 1]) if "--visits" in sys.argv else 99
    visits, boxes = [], {}
    for line in open(cases):
        w = line.split()
        if w and w[0] == "V":
            visits.append(w)
        elif w and w[0] in ("R", "A"):
            corners = [[float(w[k]), float(w[k + 1])] for k in range(2, 10, 2)]
            boxes.setdefault(w[1], []).append((w[0], corners))
    visits = visits[:nvis]
    fh = open(target, "r+b", buffering=0) if mode == "file" else None

    def ask(path, req):
        body = json.dumps(req).encode()
        if fh:
            fh.write(body + b"\n")
            line = b""
            while not line.endswith(b"\n"):
                chunk = fh.read(65536)
                if not chunk:
                    break
                line += chunk
            return json.loads(line)
        r = urllib.request.Request(target + path, data=body, method="PUT")
        try:
            with urllib.request.urlopen(r, timeout=60) as a:
                return json.loads(a.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    out = {"R": [0, 0], "A": [0, 0]}
    cached = 0
    for v in visits:
        vid = int(v[1])
        req = {"visit_id": vid, "exposure_start_mjd": float(v[2]), "exposure_end_mjd": float(v[3]),
               "boresight_ra": float(v[4]), "boresight_dec": float(v[5])}
        if historical:
            req["historical"] = True
        a = ask("/visit_cache", req)
        if a.get("status") != "cached":
            print("visit %d: %s" % (vid, a), file=sys.stderr)
            continue
        cached += 1
        src = [{"diasource_id": i, "bbox": c} for i, (_, c) in enumerate(boxes.get(v[1], []))]
        req = {"visit_id": vid, "detector_id": 1, "diasources": src}
        if historical:
            req["historical"] = True
        a = ask("/diasource_allow_list", req)
        if "allow_list" not in a or "error" in a:
            print("diasources %d: %s" % (vid, a), file=sys.stderr)
            return 1
        allowed = set(a["allow_list"])
        for i, (kind, _) in enumerate(boxes.get(v[1], [])):
            out[kind][0] += 1
            out[kind][1] += i in allowed
    print("R %d %d A %d %d V %d" % (out["R"][0], out["R"][1], out["A"][0], out["A"][1], cached))
    return 0


if __name__ == "__main__":
    sys.exit(main())
