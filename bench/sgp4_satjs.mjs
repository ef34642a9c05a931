// satellite.js peer for bench/sgp4.sh: same TLEs, same instants as
// astrofs-sgp4-bench.  usage: node sgp4_satjs.mjs FILE TIMES STEP_MIN JD0 SECONDS
import { readFileSync } from 'node:fs';
import { twoline2satrec, sgp4 } from './.satjs/node_modules/satellite.js/dist/index.js';

const [file, times, stepMin, jd0, seconds] = process.argv.slice(2);
const lines = readFileSync(file, 'latin1').split(/\r?\n/);
const sats = [];
for (let i = 0; i + 1 < lines.length; i++) {
  if (lines[i].startsWith('1 ') && lines[i + 1].startsWith('2 ')) {
    sats.push(twoline2satrec(lines[i], lines[i + 1]));
    i++;
  }
}
const n = Number(times), step = Number(stepMin), t0 = Number(jd0);
let props = 0, sum = 0, errors = 0;
const start = process.hrtime.bigint();
let el = 0;
do {
  for (let k = 0; k < n; k++) {
    for (const s of sats) {
      // satellite.js keeps the epoch as one JD; split as it does itself
      const ts = (t0 - s.jdsatepoch) * 1440 + k * step;
      const pv = sgp4(s, ts);
      if (pv && pv.position) sum += pv.position.x; else errors++;
    }
    props += sats.length;
  }
  el = Number(process.hrtime.bigint() - start) / 1e9;
} while (el < Number(seconds));
console.log(`RESULT props_per_s=${Math.round(props / el)} sats=${sats.length} errors=${errors} checksum=${sum.toPrecision(6)}`);
