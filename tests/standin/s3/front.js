#!/usr/bin/env node
'use strict';
/*
 * front.js — s3rver 3.7.1 behind a verifying front, for astrofs tests.
 *
 * s3rver accepts any SigV4 signature, lets anyone read and write, and gets
 * suffix and 0-0 ranges wrong (docs/reference/s3-testing.md §2).  This
 * launcher embeds it and adds what S3 does:
 *  - full SigV4 verification of every signed request, header auth and
 *    presigned URLs: 403 SignatureDoesNotMatch, 400
 *    AuthorizationHeaderMalformed (wrong region/service/date in the scope),
 *    403 RequestTimeTooSkewed (15 min), 403 InvalidAccessKeyId, 403
 *    AccessDenied for an expired presigned URL or an x-amz-* header that is
 *    present but not signed;
 *  - one key pair (S3_AK/S3_SK); s3rver's built-in S3RVER key is removed;
 *  - anonymous access: GET/HEAD only, and only on S3_PUBLIC buckets;
 *  - RFC 7233 single ranges (a-b, a-, -n, 0-0; 416 past the end);
 *  - a per-request log (S3_LOG): method, path, range, status, body bytes;
 *  - --latency-ms N (or S3_LATENCY_MS): added before each response;
 *  - If-Match on GET/HEAD of an object: 412 PreconditionFailed on a
 *    mismatch (s3rver ignores it);
 *  - CreateBucket on an existing bucket: 200 in us-east-1, as S3 does for
 *    its owner (s3rver: 409 BucketAlreadyExists);
 *  - a plain GET/HEAD of an existing object answered here, byte for byte as
 *    s3rver would (see fastGet; S3_FAST=0 turns it off, and
 *    tests/bats/s3front.bats compares the two).
 * Known limits: a hex x-amz-content-sha256 is not checked against PUT
 * bodies; STREAMING-* chunk signatures are not checked; no SigV2.
 * Temporary credentials: S3_TEMP_CREDS names a file of JSON lines
 * {ak, sk, token, expires_ms} (written by ../awscreds.py as it issues them),
 * re-read per request; such a key is accepted only with its session token,
 * signed, in x-amz-security-token (else 403 InvalidToken) and only until it
 * expires (then 400 ExpiredToken, as S3).  The S3_AK key ignores the token.
 *
 * Env: S3_DIR (state), S3_PORT=0, S3_AK, S3_SK, S3_BUCKETS=astro,cache,
 * S3_PUBLIC=pub, S3_REGION=us-east-1, S3_LOG=<file>, S3_FAST=1.  Prints
 * "listening on 127.0.0.1:<port>".  SIGTERM/SIGINT: clean exit, saying on
 * stdout how many GET/HEADs fastGet answered.
 * Run node with --openssl-legacy-provider (s3rver's continuation tokens use DES).
 */
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { AsyncLocalStorage } = require('async_hooks');

const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');
const S3Object = require('s3rver/lib/models/object');
const { capitalizeHeader } = require('s3rver/lib/utils');

const env = process.env;
const DIR = env.S3_DIR;
const AK = env.S3_AK;
const SK = env.S3_SK;
const REGION = env.S3_REGION || 'us-east-1';
const LOG = env.S3_LOG || '';
const TEMP = env.S3_TEMP_CREDS || '';
const FAST = env.S3_FAST !== '0';

// The temporary key `ak` as issued by the credential stand-ins, or null.
function tempCred(ak) {
  if (!TEMP) return null;
  let text = '';
  try { text = fs.readFileSync(TEMP, 'utf8'); } catch (e) { return null; }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const c = JSON.parse(line);
    if (c.ak === ak) return c;
  }
  return null;
}
const split = s => (s || '').split(',').map(x => x.trim()).filter(Boolean);
const BUCKETS = split(env.S3_BUCKETS === undefined ? 'astro,cache' : env.S3_BUCKETS);
const PUBLIC = split(env.S3_PUBLIC === undefined ? 'pub' : env.S3_PUBLIC);
let latencyMs = Number(env.S3_LATENCY_MS || 0);
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--latency-ms') latencyMs = Number(process.argv[++i]);
  else if (process.argv[i].startsWith('--latency-ms=')) latencyMs = Number(process.argv[i].slice(13));
  else die(`unknown argument ${process.argv[i]}`);
}
if (!DIR || !AK || !SK) die('S3_DIR, S3_AK and S3_SK are required');
if (!Number.isFinite(latencyMs) || latencyMs < 0) die('--latency-ms wants a number >= 0');

function die(msg) {
  process.stderr.write(`front.js: ${msg}\n`);
  process.exit(2);
}

const als = new AsyncLocalStorage();
const SKEW_MS = 15 * 60 * 1000;

/* ---------- SigV4 ---------- */

function hmac(key, s) {
  return crypto.createHmac('sha256', key).update(s, 'utf8').digest();
}
function sha256hex(s) {
  return crypto.createHash('sha256').update(s, 'utf8').digest('hex');
}
// RFC 3986 unreserved kept; every other byte %XX (upper case), once.
function uriEncode(str, keepSlash) {
  let out = '';
  for (const b of Buffer.from(str, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
// Percent-decode to a UTF-8 string, leaving malformed escapes as they are.
function pctDecode(s) {
  const bytes = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(s.substr(i + 1, 2))) {
      bytes.push(parseInt(s.substr(i + 1, 2), 16));
      i += 2;
    } else {
      for (const b of Buffer.from(s[i], 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
function parseAmzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
}

class S3Fail extends Error {
  constructor(status, code, message, extra) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra || {};
  }
}

// Values of header `name` in arrival order, from the raw list.
function rawValues(req, name) {
  const out = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    if (req.rawHeaders[i].toLowerCase() === name) out.push(req.rawHeaders[i + 1]);
  return out;
}

function canonicalRequest(req, rawPath, params, signedHeaders, payloadHash) {
  const uri = rawPath.split('/').map(seg => uriEncode(pctDecode(seg), false)).join('/');
  const query = params
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headers = signedHeaders
    .map(h => `${h}:${rawValues(req, h).map(v => v.trim().replace(/\s+/g, ' ')).join(',')}\n`)
    .join('');
  return [req.method, uri, query, headers, signedHeaders.join(';'), payloadHash].join('\n');
}

function verify(req) {
  const url = req.url;
  const qpos = url.indexOf('?');
  const rawPath = qpos < 0 ? url : url.slice(0, qpos);
  const rawQuery = qpos < 0 ? '' : url.slice(qpos + 1);
  const params = rawQuery
    ? rawQuery.split('&').map(p => {
        const eq = p.indexOf('=');
        return eq < 0 ? [pctDecode(p), ''] : [pctDecode(p.slice(0, eq)), pctDecode(p.slice(eq + 1))];
      })
    : [];
  const q = new Map(params);
  const auth = req.headers['authorization'];
  const presigned = q.has('X-Amz-Algorithm');
  if (!auth && !presigned) return { anonymous: true };
  if (auth && presigned)
    throw new S3Fail(400, 'InvalidArgument', 'Only one auth mechanism allowed');

  let credential, signedHeaders, signature, amzDate, payloadHash, expires;
  if (presigned) {
    if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256')
      throw new S3Fail(400, 'AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    credential = q.get('X-Amz-Credential');
    signedHeaders = q.get('X-Amz-SignedHeaders');
    signature = q.get('X-Amz-Signature');
    amzDate = q.get('X-Amz-Date');
    expires = Number(q.get('X-Amz-Expires'));
    payloadHash = 'UNSIGNED-PAYLOAD';
    if (!credential || !signedHeaders || !signature || !amzDate || !Number.isInteger(expires) ||
        expires < 1 || expires > 604800)
      throw new S3Fail(400, 'AuthorizationQueryParametersError',
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, ' +
        'X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
  } else {
    const m = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/.exec(auth);
    if (!m) {
      if (/^AWS /.test(auth))
        throw new S3Fail(400, 'InvalidRequest', 'SigV2 is not supported by this test server');
      throw new S3Fail(400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed');
    }
    [, credential, signedHeaders, signature] = m;
    const dates = rawValues(req, 'x-amz-date');
    amzDate = dates.length === 1 ? dates[0] : undefined;
    if (!amzDate)
      throw new S3Fail(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    const sha = rawValues(req, 'x-amz-content-sha256');
    if (sha.length !== 1)
      throw new S3Fail(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    payloadHash = sha[0].trim();
  }

  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request')
    throw new S3Fail(400, 'AuthorizationHeaderMalformed', `The credential is malformed: '${credential}'`);
  const [ak, date, region, service] = parts;
  const t = parseAmzDate(amzDate);
  if (Number.isNaN(t))
    throw new S3Fail(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  const temp = ak === AK ? null : tempCred(ak);
  if (ak !== AK && !temp)
    throw new S3Fail(403, 'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: ak });
  if (region !== REGION)
    throw new S3Fail(400, 'AuthorizationHeaderMalformed',
      `The authorization header is malformed; the region '${region}' is wrong; expecting '${REGION}'`,
      { Region: REGION });
  if (service !== 's3')
    throw new S3Fail(400, 'AuthorizationHeaderMalformed',
      `The authorization header is malformed; incorrect service '${service}'. This endpoint belongs to 's3'.`);
  if (date !== amzDate.slice(0, 8))
    throw new S3Fail(400, 'AuthorizationHeaderMalformed',
      `The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date: '${date}'.`);
  const now = Date.now();
  if (t - now > SKEW_MS || (!presigned && now - t > SKEW_MS))
    throw new S3Fail(403, 'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
      { RequestTime: amzDate, ServerTime: new Date(now).toISOString(), MaxAllowedSkewMilliseconds: SKEW_MS });
  if (presigned && now > t + expires * 1000)
    throw new S3Fail(403, 'AccessDenied', 'Request has expired', { XAmzExpires: expires });

  const signed = signedHeaders.split(';');
  if (!signed.includes('host'))
    throw new S3Fail(400, 'AuthorizationHeaderMalformed', 'The host header must be signed');
  // S3 refuses x-amz-* headers that are present but not signed.
  const unsigned = Object.keys(req.headers).filter(h => h.startsWith('x-amz-') && !signed.includes(h));
  if (unsigned.length)
    throw new S3Fail(403, 'AccessDenied', 'There were headers present in the request which were not signed',
      { HeadersNotSigned: unsigned.join(', ') });

  if (temp) {
    const tok = presigned ? q.get('X-Amz-Security-Token') : rawValues(req, 'x-amz-security-token')[0];
    if (tok !== temp.token || (!presigned && !signed.includes('x-amz-security-token')))
      throw new S3Fail(403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
    if (Date.now() >= temp.expires_ms)
      throw new S3Fail(400, 'ExpiredToken', 'The provided token has expired.');
    // s3rver looks the key up again behind us: let it know this one.
    AWSAccount.DUMMY_ACCOUNT.createKeyPair(ak, temp.sk);
  }
  const cparams = presigned ? params.filter(([k]) => k !== 'X-Amz-Signature') : params;
  const creq = canonicalRequest(req, rawPath, cparams, signed, payloadHash);
  const sts = ['AWS4-HMAC-SHA256', amzDate, `${date}/${region}/${service}/aws4_request`, sha256hex(creq)].join('\n');
  let k = hmac('AWS4' + (temp ? temp.sk : SK), date);
  k = hmac(k, region);
  k = hmac(k, service);
  k = hmac(k, 'aws4_request');
  const want = hmac(k, sts).toString('hex');
  const got = Buffer.from(String(signature));
  if (got.length !== want.length || !crypto.timingSafeEqual(got, Buffer.from(want)))
    throw new S3Fail(403, 'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { AWSAccessKeyId: ak, StringToSign: sts, CanonicalRequest: creq });
  return { anonymous: false };
}

/* ---------- anonymous access ---------- */

function bucketOf(req) {
  const host = (req.headers.host || '').replace(/:\d+$/, '').toLowerCase();
  const m = /^(.+)\.s3\.localhost$/.exec(host);
  if (m) return m[1];
  if (host && !net.isIP(host) && host !== 'localhost' && host !== 's3.localhost') return host;
  const p = req.url.split('?')[0].split('/');
  return pctDecode(p[1] || '');
}

// PUT /<bucket> (path style, no subresource): CreateBucket.
function isCreateBucket(req) {
  const [p, q] = req.url.split('?');
  return req.method === 'PUT' && /^\/[^/]+\/?$/.test(p) && !q;
}

/* ---------- ranges ---------- */

// One range of RFC 7233 against `size`: {start,end}, 'unsatisfiable', or null (ignore).
function parseRange(header, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec((header || '').trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? Infinity : Number(m[2]);
  if (end < start) return null;		// syntactically invalid: ignored, as S3 does
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/* ---------- plain object reads without s3rver ---------- */

// Behind Koa, s3rver spends about 4 ms of CPU on each GET: a dozen async
// middleware, its own second signature check, five files read through
// promises.  The stand-in shares the test machine's cores with the client
// being measured, so that cost showed up as the client's wall time.  The
// common case -- a path-style GET or HEAD of an existing object, with no
// query, no CORS or website configuration in play and no conditional header
// -- is answered here from the same files, with the headers s3rver's
// getObject sets, in the same order.  Everything else, errors included,
// still goes to s3rver.
let fastCount = 0;
const FAST_BODY_MAX = 1 << 20;	// read at once below this; streamed above
const FAST_SKIP_HEADERS = ['origin', 'if-none-match', 'if-modified-since',
  'if-unmodified-since', 'x-amz-website-redirect-location'];

function readOr(file, fallback) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return fallback;
    throw err;
  }
}

// What s3rver's store.getMetadata gives, read without its promise chain
// (stat and two reads through graceful-fs cost ~0.5 ms of CPU, and a LIST
// does it for every key: 50 ms for 100 keys).  Throws as it does (ENOENT
// when there is no object); null when the object has no .md5 yet, which
// s3rver's own version computes and writes.
function metadataSync(store, bucket, key) {
  const objectPath = store.getResourcePath(bucket, key, 'object');
  const st = fs.statSync(objectPath);
  if (!st.isFile()) return null;
  const md5 = readOr(`${objectPath}.md5`, null);
  if (md5 === null) return null;
  const stored = JSON.parse(readOr(store.getResourcePath(bucket, key, 'metadata.json'), 'null'));
  return {
    ...stored,
    etag: JSON.stringify(md5),
    'last-modified': st.mtime.toUTCString(),
    'content-length': st.size,
  };
}

// {bucket, key} of a path-style GET or HEAD of an object with no query, or null.
function plainObjectRead(req) {
  if (req.method !== 'GET' && req.method !== 'HEAD') return null;
  const url = req.url;
  if (url.includes('?') || url.endsWith('/')) return null;
  const host = (req.headers.host || '').replace(/:\d+$/, '');
  if (!net.isIP(host) && host !== 'localhost') return null;	// virtual-host style
  const slash = url.indexOf('/', 1);
  if (slash < 0) return null;
  let bucket, key;
  try {
    bucket = decodeURIComponent(url.slice(1, slash));
    key = decodeURIComponent(url.slice(slash + 1));
  } catch (err) {
    return null;		// s3rver's router has its own idea of a bad escape
  }
  return bucket && key && !bucket.includes('/') ? { bucket, key } : null;
}

// The object a plain GET or HEAD reads ({bucket, key, metadata}), or null:
// not such a request, or any surprise (no object, no .md5 yet, bad JSON),
// which is s3rver's to answer.
function plainObject(store, req) {
  const o = plainObjectRead(req);
  if (!o) return null;
  try {
    o.metadata = metadataSync(store, o.bucket, o.key);
  } catch (err) {
    return null;
  }
  return o.metadata ? o : null;
}

// If-Match on a GET or HEAD of object o, as S3 has it (s3rver ignores the
// header): 412 PreconditionFailed unless one of the listed ETags, quoted or
// not, or "*" matches the object's.  Without an object (or its .md5, which
// s3rver writes on first read) there is nothing to compare: s3rver answers.
// astrofs pins ranged reads to the ETag it walked with this header.
function ifMatchFails(o, req) {
  const want = req.headers['if-match'];
  if (!o || want === undefined) return false;
  const tags = want.split(',').map(t => t.trim());	// W/ never matches
  return !tags.includes('*') && !tags.includes(o.metadata.etag) &&
    !tags.includes(JSON.parse(o.metadata.etag));
}

// Answer a GET or HEAD of object o here; false leaves it to s3rver.
function fastGet(store, o, req, res) {
  if (!o) return false;
  for (const h of FAST_SKIP_HEADERS) if (h in req.headers) return false;
  const { bucket, key, metadata } = o;
  if (fs.existsSync(store.getResourcePath(bucket, undefined, 'cors.xml')) ||
      fs.existsSync(store.getResourcePath(bucket, undefined, 'website.xml')))
    return false;
  const objectPath = store.getResourcePath(bucket, key, 'object');
  const size = metadata['content-length'];
  if (size === 0) return false;
  const range = /^bytes=/.test(req.headers.range || '') ? parseRange(req.headers.range, size) : null;
  if (range === 'unsatisfiable') return false;
  const object = new S3Object(bucket, key, null, metadata);
  const start = range ? range.start : 0;
  const end = range ? range.end : size - 1;
  res.setHeader('Accept-Ranges', 'bytes');
  for (const h of Object.keys(object.metadata))
    res.setHeader(capitalizeHeader(h), String(object.metadata[h]));
  if (range) res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  res.setHeader('Content-Length', String(end + 1 - start));
  res.statusCode = range ? 206 : 200;
  fastCount++;
  req.resume();
  if (req.method === 'HEAD') {
    res.end();
  } else if (end + 1 - start <= FAST_BODY_MAX) {
    // A failed or short read (the file changed under us) drops the
    // connection rather than send a short body with a full length.
    const buf = Buffer.alloc(end + 1 - start);
    let fd = -1, got = 0;
    try {
      fd = fs.openSync(objectPath, 'r');
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, start + got);
        if (n === 0) break;
        got += n;
      }
    } catch (err) {
      got = -1;
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
    if (got === buf.length) res.end(buf);
    else res.destroy();
  } else {
    fs.createReadStream(objectPath, { start, end })
      .on('error', () => res.destroy())
      .pipe(res);
  }
  return true;
}

/* ---------- server ---------- */

function xmlEscape(s) {
  return String(s).replace(/[<>&'"]/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' }[c]));
}

function sendError(req, res, err) {
  const extra = Object.entries(err.extra).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join('');
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${err.code}</Code><Message>${xmlEscape(err.message)}</Message>${extra}` +
    `<RequestId>${crypto.randomBytes(8).toString('hex').toUpperCase()}</RequestId></Error>`;
  res.statusCode = err.status;
  res.setHeader('Content-Type', 'application/xml');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}

function logRequest(req, res, bytes) {
  if (!LOG) return;
  const range = req.headers.range || '-';
  const p = req.url.split('?')[0];
  fs.appendFileSync(LOG, `${req.method}\t${p}\t${range}\t${res.statusCode}\t${bytes}\n`);
}

async function main() {
  fs.mkdirSync(path.join(DIR, 'data'), { recursive: true });
  const app = new S3rver({
    directory: path.join(DIR, 'data'),
    silent: true,
    serviceEndpoint: 'localhost',
    configureBuckets: [...new Set([...BUCKETS, ...PUBLIC])].map(name => ({ name })),
  });
  await app.configureBuckets();
  AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(AK, SK);

  const store = app.store;
  const getMetadataAsync = store.getMetadata.bind(store);
  store.getMetadata = async function getMetadata(bucket, key) {
    return metadataSync(store, bucket, key) || getMetadataAsync(bucket, key);
  };

  // Replace the store's object read so ranges follow RFC 7233.
  store.getObject = async function getObject(bucket, key) {
    let metadata;
    try {
      metadata = await store.getMetadata(bucket, key);
    } catch (err) {
      if (err.code === 'ENOENT') return null;
      throw err;
    }
    const size = Number(metadata['content-length']);
    const ctx = als.getStore() || {};
    const r = parseRange(ctx.range, size);
    if (r === 'unsatisfiable') {
      const o = new S3Object(bucket, key, null, metadata);
      o.range = { start: size, end: size };
      return o;
    }
    const opts = r ? { start: r.start, end: r.end } : {};
    if (size === 0) opts.end = undefined;
    const content = await new Promise((resolve, reject) => {
      const s = fs.createReadStream(store.getResourcePath(bucket, key, 'object'), opts)
        .on('error', reject)
        .on('open', () => resolve(s));
    });
    const o = new S3Object(bucket, key, content, metadata);
    if (r) o.range = r;
    return o;
  };

  const handler = app.callback();
  const server = http.createServer((req, res) => {
    let bytes = 0;
    const write = res.write, end = res.end;
    res.write = function (chunk, ...rest) {
      if (chunk && typeof chunk !== 'function') bytes += Buffer.byteLength(chunk);
      return write.call(this, chunk, ...rest);
    };
    res.end = function (chunk, ...rest) {
      if (chunk && typeof chunk !== 'function') bytes += Buffer.byteLength(chunk);
      return end.call(this, chunk, ...rest);
    };
    res.on('finish', () => logRequest(req, res, bytes));
    const go = () => {
      try {
        const v = verify(req);
        if (v.anonymous) {
          const b = bucketOf(req);
          if (!(req.method === 'GET' || req.method === 'HEAD') || !b || !PUBLIC.includes(b))
            throw new S3Fail(403, 'AccessDenied', 'Access Denied');
        }
      } catch (err) {
        if (!(err instanceof S3Fail)) throw err;
        req.resume();
        sendError(req, res, err);
        return;
      }
      const o = plainObject(store, req);
      if (ifMatchFails(o, req)) {
        req.resume();
        sendError(req, res, new S3Fail(412, 'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' }));
        return;
      }
      if (FAST && fastGet(store, o, req, res)) return;
      if (isCreateBucket(req)) {
        // S3 in us-east-1 answers 200 to CreateBucket on a bucket its caller
        // already owns (legacy behaviour, relied on by the observatory
        // simulator, which creates its bucket on every start); s3rver says
        // 409 BucketAlreadyExists whoever asks.
        store.getBucket(bucketOf(req)).then(b => {
          if (b && REGION === 'us-east-1') {
            req.resume();
            res.statusCode = 200;
            res.setHeader('Location', `/${b.name}`);
            res.end();
          } else {
            als.run({ range: req.headers.range }, () => handler(req, res));
          }
        }, err => die(err.stack || String(err)));
        return;
      }
      als.run({ range: req.headers.range }, () => handler(req, res));
    };
    if (latencyMs > 0) setTimeout(go, latencyMs);
    else go();
  });
  server.keepAliveTimeout = 5000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(env.S3_PORT || 0), '127.0.0.1', resolve);
  });
  process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${fastCount} GET/HEAD answered without s3rver\n`);
    server.close(() => process.exit(0));
    if (server.closeAllConnections) server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch(err => die(err.stack || String(err)));
