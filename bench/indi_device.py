#!/usr/bin/env python3
"""The INDI camera's own time for bench/indi.sh: a bare client on
127.0.0.1:PORT connects the CCD, enables BLOBs, then N times sends
CCD_EXPOSURE=SECONDS and times the wait for CCD_EXPOSURE to turn Ok (the
image BLOB arrives just before).  Prints ms each.

  indi_device.py PORT DEVICE SECONDS N
"""
import socket
import sys
import time


def main():
    port, dev, secs, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b'<getProperties version="1.7"/>')
    s.sendall(f'<newSwitchVector device="{dev}" name="CONNECTION"><oneSwitch name="CONNECT">'
              f'On</oneSwitch></newSwitchVector>'.encode())
    s.sendall(f'<enableBLOB device="{dev}">Also</enableBLOB>'.encode())
    buf = b""

    def wait_for(marker, deadline):
        nonlocal buf
        while marker not in buf:
            if time.monotonic() > deadline:
                raise SystemExit(f"no {marker!r} from {dev}")
            buf += s.recv(1 << 20)
            # Keep the tail only: BLOBs are megabytes.
            if len(buf) > (1 << 16) and marker not in buf:
                buf = buf[-4096:]
        buf = buf[buf.index(marker) + len(marker):]

    wait_for(b'name="CCD_EXPOSURE"', time.monotonic() + 10)
    time.sleep(0.5)
    ok = f'<setNumberVector device="{dev}" name="CCD_EXPOSURE" state="Ok"'.encode()
    for _ in range(n):
        buf = b""
        t0 = time.monotonic()
        s.sendall(f'<newNumberVector device="{dev}" name="CCD_EXPOSURE"><oneNumber '
                  f'name="CCD_EXPOSURE_VALUE">{secs}</oneNumber></newNumberVector>'.encode())
        wait_for(ok, t0 + 30)
        print(f"{(time.monotonic() - t0) * 1000:.1f}", flush=True)


if __name__ == "__main__":
    main()
