// Reference point for benchmarks: the least a Node proxy can do (node:http, one undici Pool,
// `pipe()`; no routing, no authentication, no header rewriting, no logging). Not part of the
// product. `pipe()` rather than `pipeline()`: pipeline's per-request AbortController makes the
// reference slower and so flatters every ratio against it.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(process.argv[2]);
const server = createServer((req, res) => {
  pool.request({ path: req.url, method: req.method, headers: { host: 'x' } }).then(
    (answer) => {
      res.writeHead(answer.statusCode, {
        'content-type': answer.headers['content-type'],
        'content-length': answer.headers['content-length'],
      });
      answer.body.pipe(res);
    },
    () => res.destroy(),
  );
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
