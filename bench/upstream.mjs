// A minimal model-server stand-in for benchmarks: a fixed small JSON answer, or, for the large
// transfer run, a counting sink (POST /sink) and a generator (GET /bytes?n=...).
import { createServer } from 'node:http';

const body = JSON.stringify({ label: 'positive', score: 0.93 });
const chunk = Buffer.alloc(64 * 1024, 120);

const server = createServer((req, res) => {
  if (req.url === '/sink') {
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
    });
    req.on('end', () => res.end(JSON.stringify({ received: n })));
    return;
  }
  if (req.url?.startsWith('/bytes')) {
    let left = Number(new URL(req.url, 'http://x').searchParams.get('n'));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
    const pump = () => {
      while (left > 0) {
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= part.length;
        if (!res.write(part)) return res.once('drain', pump);
      }
      res.end();
    };
    return pump();
  }
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
