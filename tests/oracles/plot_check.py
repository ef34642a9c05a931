#!/usr/bin/python3
"""Render /telemetry plots in headless Chromium and check what a reader sees.

usage: plot_check.py DIR MSID...   (DIR holds <MSID>.svg and <MSID>.png)

Every plot, SVG and PNG, is put on one HTML page at its natural size and
screenshot once.  In each picture:
  - nothing is drawn in the outer 2 px (a label running off the picture,
    like a y label wider than a fixed margin, leaves ink there);
  - the plot area holds the series (pixels of the data colour, blue);
  - there is a light grid (ticks on both axes);
  - for MSIDs named TBAD*, a shaded bad-time interval (pink).
In each SVG, every glyph cairo placed lies inside the viewBox.
Exit status 1 with one line per failure.
"""
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from PIL import Image

W, H, GAP = 920, 400, 20


def svg_glyphs_inside(path, fails):
    root = ET.parse(path).getroot()
    vb = [float(x) for x in root.get('viewBox', '').replace(',', ' ').split()]
    if len(vb) != 4 or vb[2] != W or vb[3] != H:
        fails.append('%s: viewBox %r, want 0 0 %d %d' % (path, root.get('viewBox'), W, H))
        return
    n = 0
    for el in root.iter():
        if el.tag.endswith('}use') and el.get('x') is not None:
            x, y = float(el.get('x')), float(el.get('y'))
            n += 1
            if not (vb[0] <= x <= vb[0] + vb[2] and vb[1] <= y <= vb[1] + vb[3]):
                fails.append('%s: a glyph at (%g, %g) lies outside the viewBox' % (path, x, y))
                return
    if n == 0 and b'<text' not in open(path, 'rb').read():
        fails.append('%s: no text at all' % path)


def check_picture(img, x0, y0, name, fails):
    px = img.load()

    def ink(x, y):
        r, g, b = px[x0 + x, y0 + y][:3]
        return r + g + b < 600

    edge = [(x, y) for x in range(W) for y in (0, 1, H - 2, H - 1)] + \
           [(x, y) for y in range(H) for x in (0, 1, W - 2, W - 1)]
    if any(ink(x, y) for x, y in edge):
        fails.append('%s: drawn to the edge of the picture (a label clipped?)' % name)
    blue = grid = pink = 0
    for y in range(30, H - 45):
        for x in range(40, W - 10):
            r, g, b = px[x0 + x, y0 + y][:3]
            if b > 120 and b - r > 50:
                blue += 1
            elif 215 <= r <= 240 and abs(r - g) < 6 and abs(g - b) < 6:
                grid += 1
            elif r > 220 and r - g > 20 and r - b > 20:
                pink += 1
    if blue < 40:
        fails.append('%s: the plot area shows no data (%d data pixels)' % (name, blue))
    if grid < 300:
        fails.append('%s: no grid (%d grid pixels)' % (name, grid))
    if name.startswith('TBAD') and pink < 1000:
        fails.append('%s: the bad-time interval is not shaded (%d pixels)' % (name, pink))


def main():
    d, msids = sys.argv[1], sys.argv[2:]
    fails = []
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for i, m in enumerate(msids):
            for j, ext in enumerate(('svg', 'png')):
                p = os.path.abspath(os.path.join(d, '%s.%s' % (m, ext)))
                if not os.path.exists(p):
                    fails.append('%s.%s: missing' % (m, ext))
                rows.append('<img src="file://%s" style="position:absolute;left:%dpx;top:%dpx;'
                            'width:%dpx;height:%dpx">' % (p, j * (W + GAP), i * (H + GAP), W, H))
            if os.path.exists(os.path.join(d, m + '.svg')):
                svg_glyphs_inside(os.path.join(d, m + '.svg'), fails)
        page = os.path.join(tmp, 'page.html')
        with open(page, 'w') as f:
            f.write('<!doctype html><html><body style="margin:0;background:#808080">%s</body></html>'
                    % ''.join(rows))
        shot = os.path.join(tmp, 'shot.png')
        size = '%d,%d' % (2 * W + GAP, len(msids) * (H + GAP))
        subprocess.run(['chromium', '--headless', '--no-sandbox', '--disable-gpu',
                        '--hide-scrollbars', '--force-device-scale-factor=1',
                        '--allow-file-access-from-files', '--screenshot=' + shot,
                        '--window-size=' + size, 'file://' + page],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
                       env=dict(os.environ, HOME=tmp), check=False)
        if not os.path.exists(shot):
            print('chromium made no screenshot')
            return 1
        img = Image.open(shot).convert('RGB')
        for i, m in enumerate(msids):
            for j, ext in enumerate(('svg', 'png')):
                check_picture(img, j * (W + GAP), i * (H + GAP), '%s.%s' % (m, ext), fails)
        if os.environ.get('PLOT_SHOT'):
            img.save(os.environ['PLOT_SHOT'])
    for f in fails:
        print(f)
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
