// Reference point for benchmarks: the least a Node proxy can do (one undici Agent, no routing,
// no authentication, no header rewriting, no logging). Not part of the product.
import { createServer } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Agent } from 'undici';

const upstream = process.argv[2];
const agent = new Agent();
const server = createServer(async (req, res) => {
  try {
    const answer = await agent.request({ origin: upstream, path: req.url, method: req.method, headers: { host: 'x' } });
    res.writeHead(answer.statusCode, {
      'content-type': answer.headers['content-type'],
      'content-length': answer.headers['content-length'],
    });
    await pipeline(answer.body, res);
  } catch {
    res.destroy();
  }
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
