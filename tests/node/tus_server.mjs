// tus_server.mjs - an independent tus 1.0 server (@tus/server with
// @tus/file-store) for the uplink's integration tests, plus a stand-in for
// the enrolment endpoint of `capscreen serve`:
//   POST /api/v1/devices/enrol {"code": C} -> {"token": T, "study": S}
// Every /uploads/ request but OPTIONS must carry "Authorization: Bearer T".
// With --checksum-log L it also offers the checksum extension (sha256) in
// OPTIONS, checks each PATCH body against its Upload-Checksum itself, and
// appends "ok" or "mismatch" per checksummed PATCH to L (answering 460 on a
// mismatch is left to the real server: this one only records).
// With --offset-lie METHOD:COUNT:DELTA the first COUNT answers to METHOD
// (HEAD or PATCH) that carry Upload-Offset report it DELTA bytes higher than
// the store holds (a garbled or lying answer; the bytes stay as they are),
// and --lie-log L gets one line "METHOD MILLISECONDS" per lie told.
//
//   node tus_server.mjs --dir DIR --port-file F [--port N] [--code C]
//                       [--token T] [--study S] [--checksum-log L]
//                       [--offset-lie METHOD:COUNT:DELTA [--lie-log L]]
// Uploads land in DIR/<id> (bytes) and DIR/<id>.json (metadata). The port it
// listens on (127.0.0.1 only) is written to F once it accepts connections.
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []));
if (!args.dir || !args['port-file']) {
  console.error('usage: node tus_server.mjs --dir DIR --port-file F [--port N] [--code C] [--token T] [--study S]');
  process.exit(2);
}
const token = args.token || 'test-token';
const study = args.study || 'study-1';
let code = args.code || 'TEST-CODE';   // works once

let [lieMethod, lieCount, lieDelta] = (args['offset-lie'] || '::').split(':');
lieCount = Number(lieCount || 0);

// Add lieDelta to the Upload-Offset of this answer, while lies are left.
function lie(req, res) {
  const tell = (v) => {
    if (lieCount <= 0) return v;
    lieCount--;
    if (args['lie-log']) fs.appendFileSync(args['lie-log'], `${req.method} ${Date.now()}\n`);
    return String(BigInt(v) + BigInt(lieDelta));
  };
  const setHeader = res.setHeader;
  res.setHeader = function (name, value) {
    return setHeader.call(this, name,
      String(name).toLowerCase() === 'upload-offset' ? tell(value) : value);
  };
  const writeHead = res.writeHead;
  res.writeHead = function (status, ...rest) {
    const h = rest.find((x) => x && typeof x === 'object');
    for (const k of Object.keys(h || {}))
      if (k.toLowerCase() === 'upload-offset') h[k] = tell(h[k]);
    return writeHead.call(this, status, ...rest);
  };
}

const tus = new Server({ path: '/uploads', datastore: new FileStore({ directory: args.dir }) });

function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  if (req.url === '/api/v1/devices/enrol' && req.method === 'POST') {
    let body = '';
    req.on('data', (c) => { body += c; if (body.length > 4096) req.destroy(); });
    req.on('end', () => {
      let sent;
      try { sent = JSON.parse(body).code; } catch { return json(res, 400, { error: 'body is not JSON' }); }
      if (!code || sent !== code) return json(res, 404, { error: 'unknown or used enrolment code' });
      code = null;
      json(res, 201, { token, study });
    });
    return;
  }
  if (req.url.startsWith('/uploads')) {
    if (req.method !== 'OPTIONS' && req.headers.authorization !== `Bearer ${token}`)
      return json(res, 401, { error: 'missing or wrong bearer token' });
    const log = args['checksum-log'];
    if (log && req.method === 'OPTIONS') {
      res.setHeader('Tus-Extension', 'creation,creation-defer-length,termination,checksum');
      res.setHeader('Tus-Checksum-Algorithm', 'sha1,sha256');
      res.setHeader('Tus-Resumable', '1.0.0');
      res.setHeader('Tus-Version', '1.0.0');
      res.writeHead(204);
      return res.end();
    }
    if (req.method === lieMethod) lie(req, res);
    const sum = req.headers['upload-checksum'];
    if (log && req.method === 'PATCH' && sum) {
      const [algo, want] = sum.split(' ');
      const h = crypto.createHash(algo === 'sha256' ? 'sha256' : 'sha1');
      let complete = false;
      // Watch the body as the HTTP parser hands it over, without becoming a
      // reader of the stream (which would steal it from @tus/server).
      const push = req.push;
      req.push = function (chunk, enc) {
        if (chunk === null) complete = true;
        else h.update(chunk);
        return push.call(this, chunk, enc);
      };
      res.on('finish', () => {
        if (complete)  // a cut-off body is not the client's whole chunk
          fs.appendFileSync(log, `${algo === 'sha256' && h.digest('base64') === want ? 'ok' : 'mismatch'}\n`);
      });
    }
    return tus.handle(req, res);
  }
  json(res, 404, { error: 'no such path' });
});

server.listen(Number(args.port || 0), '127.0.0.1', () => {
  const tmp = `${args['port-file']}.tmp`;
  fs.writeFileSync(tmp, `${server.address().port}\n`);
  fs.renameSync(tmp, args['port-file']);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
