#!/usr/bin/python3
"""Write the plot test's input: one MSID per kind of series a plot must show.

TCONST constant, TSPARSE 3 samples in a day, TDENSE a day at 1 Hz, TNEG values
around -0.209546387 that differ in the 7th digit (JWST's SA_ZATTEST1), TSTATE
a state MSID, TBAD numbers under a BAD_TIMES interval (written to argv[2]),
TLONG 20 days every minute (plotted from 5-minute statistics, not samples).
"""
import math
import random
import sys

r = random.Random(2)


def t(s):
    day, rem = 1 + int(s // 86400), s % 86400
    return '2024:%03d:%02d:%02d:%06.3f' % (day, rem // 3600, rem % 3600 // 60, rem % 60)


with open(sys.argv[1], 'w') as f:
    f.write('msid,time,value,quality,unit\n')
    for i in range(1000):
        f.write('TCONST,%s,5.0,0,V\n' % t(86.4 * i))
    for s in (3600, 40000, 80000):
        f.write('TSPARSE,%s,%d,0,\n' % (t(s), s // 1000))
    for i in range(0, 86400, 1):
        f.write('TDENSE,%s,%.3f,0,DEGC\n' % (t(i), 20 + 5 * math.sin(i / 86400 * 2 * math.pi) + r.gauss(0, 0.3)))
    for i in range(2000):
        f.write('TNEG,%s,%.9f,0,rad\n' % (t(43.2 * i), -0.209546387 + r.choice([0, -4e-7, -3.9e-7, 3e-8])))
    states = ['NPNT', 'NMAN', 'NSUN']
    for i in range(500):
        f.write('TSTATE,%s,%s,0,\n' % (t(172.8 * i), states[(i // 60) % 3]))
    for i in range(1500):
        f.write('TBAD,%s,%.2f,0,A\n' % (t(57.6 * i), 1.5 + (i % 100) / 100))
    for i in range(20 * 1440):
        f.write('TLONG,%s,%.2f,0,K\n' % (t(60 * i), 270 + 10 * math.sin(i / 1440 * 2 * math.pi) + i / 2000))
with open(sys.argv[2], 'w') as f:
    f.write('TBAD 2024:001:06:00:00 2024:001:09:00:00\n')
