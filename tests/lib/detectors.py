"""One visit's detectors, as the pipeline sends them: the DIASource
request of every detector at once, one new connection each, and whether
each was answered 200 with its own detector id.  Shared by burst.py and
slowloris.py, which differ only in what they hold open around it."""
import http.client
import json
import threading


def detector_requests(port, sources, n, timeout=30, line_up=False):
    """Send n PUT /diasource_allow_list requests concurrently; returns
    one entry per detector: 200, -status for a wrong answer, or the
    exception's repr.  line_up: a barrier makes the connects start
    together instead of as the threads come up."""
    barrier = threading.Barrier(n) if line_up else None
    codes = []
    lock = threading.Lock()

    def detector(d):
        body = json.dumps(dict(sources, detector_id=d))
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            if barrier:
                barrier.wait(timeout)
            c.connect()
            c.request("PUT", "/diasource_allow_list", body)
            r = c.getresponse()
            ok = r.status == 200 and json.loads(r.read()).get("detector_id") == d
            code = 200 if ok else -r.status
            c.close()
        except Exception as e:  # noqa: BLE001 - any failure is a finding
            code = repr(e)
        with lock:
            codes.append(code)

    ts = [threading.Thread(target=detector, args=(d,)) for d in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(2 * timeout)
    return codes
