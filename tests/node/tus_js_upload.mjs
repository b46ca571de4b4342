// tus_js_upload.mjs - tus-js-client (npm) as an independent client of
// `capscreen serve`: upload a file in 64 KiB chunks, abort() after a few
// chunks, then resume from the stored upload URL and finish.
//
//   node tus_js_upload.mjs --endpoint URL/uploads/ --token T --file F
//                          [--abort-after N]
// Prints one JSON line: {"upload_url", "aborted_at", "resumed_from", "size"}.
// Exits 1 (message on stderr) on any failure.
import fs from 'node:fs';
import { Upload } from 'tus-js-client';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []));
if (!args.endpoint || !args.token || !args.file) {
  console.error('usage: node tus_js_upload.mjs --endpoint URL --token T --file F [--abort-after N]');
  process.exit(2);
}
const data = fs.readFileSync(args.file);
const abortAfter = Number(args['abort-after'] || 3);
const common = {
  chunkSize: 64 * 1024,
  headers: { Authorization: `Bearer ${args.token}` },
  uploadLengthDeferred: false,
  retryDelays: [0, 200, 1000],
  metadata: { filename: 'study.csfs', filetype: 'application/octet-stream' },
};

function fail(what, err) {
  console.error(`tus_js_upload: ${what}: ${err && err.message ? err.message : err}`);
  process.exit(1);
}

// Phase 1: create and send `abortAfter` chunks, then abort().
const first = await new Promise((resolve, reject) => {
  let chunks = 0;
  const up = new Upload(data, {
    ...common,
    endpoint: args.endpoint,
    onChunkComplete(_size, accepted) {
      chunks += 1;
      if (chunks === abortAfter) {
        up.abort().then(() => resolve({ url: up.url, accepted }), reject);
      }
    },
    onSuccess() { reject(new Error('finished before the abort (file too small?)')); },
    onError: reject,
  });
  up.start();
}).catch((e) => fail('first part', e));

if (!first.url) fail('first part', 'no upload URL after the abort');

// Phase 2: a new Upload resumes from the stored URL (HEAD, then PATCH).
let resumedFrom = null;
await new Promise((resolve, reject) => {
  const up = new Upload(data, {
    ...common,
    uploadUrl: first.url,
    onBeforeRequest(req) {
      if (resumedFrom === null && req.getMethod() === 'PATCH')
        resumedFrom = Number(req.getHeader('Upload-Offset'));
    },
    onSuccess: resolve,
    onError: reject,
  });
  up.start();
}).catch((e) => fail('resume', e));

console.log(JSON.stringify({
  upload_url: first.url, aborted_at: first.accepted, resumed_from: resumedFrom, size: data.length,
}));
