/**
 * modelgate's architecture in one page: which folder of src/ may import which. Checked by
 * `npm test` (test/architecture.test.ts runs dependency-cruiser with this file).
 *
 *   kernel/        pure and shared: errors, events, credential formats, principal, denials,
 *                  permission decisions, the deployment snapshot. Imports nothing else.
 *   config/        the configuration schema, its merge and file loading.
 *   log/           the logger and what it redacts.
 *   store/         kysely schema and migrations (SQLite | PostgreSQL), sealed secrets, and the
 *                  reads both planes share (a caller's rights, a token by hash, JWT revocations).
 *   http/          node:http helpers both planes use: respond, request ids, client address,
 *                  PROXY protocol, listen, health, throttles, access log.
 *   keys/          the node's own key material both planes verify against: node keys, admin
 *                  keys, JWT signing keys.
 *   dataplane/     the gateway: server.ts wires admission.ts (stages/: shape → route →
 *                  availability → credential → throttle; then forward, observe), verifiers/
 *                  (one per credential kind behind verifier.ts, chosen by authenticate.ts's
 *                  kind → verifier table), authorize.ts (every scope decision), proxy, WebSocket.
 *   controlplane/  the management API: routes, access decisions, control operations, audit,
 *                  sessions.
 *   node/          the composition root: starts both planes, workers, reload. Only the CLI
 *                  (and the package entry) import it.
 *   cli/           the commands, including declarative apply/diff/export.
 */
const LAYERS = {
  kernel: [],
  config: ['kernel'],
  log: ['kernel', 'config'],
  store: ['kernel', 'config', 'log'],
  http: ['kernel', 'config', 'log', 'store'],
  keys: ['kernel', 'config', 'log', 'store', 'http'],
  dataplane: ['kernel', 'config', 'log', 'store', 'http', 'keys'],
  controlplane: ['kernel', 'config', 'log', 'store', 'http', 'keys'],
  node: ['kernel', 'config', 'log', 'store', 'http', 'keys', 'dataplane', 'controlplane'],
  cli: ['kernel', 'config', 'log', 'store', 'http', 'keys', 'dataplane', 'controlplane', 'node'],
};

const forbidden = Object.entries(LAYERS).map(([layer, allowed]) => ({
  name: `${layer}-imports-only-${allowed.length ? allowed.join('-') : 'itself'}`,
  comment: `src/${layer}/ may import ${allowed.length ? allowed.map((a) => `${a}/`).join(', ') : 'nothing outside itself'}`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: '^src/', pathNot: [`^src/${layer}/`, ...allowed.map((a) => `^src/${a}/`)] },
}));

module.exports = {
  forbidden: [
    ...forbidden,
    {
      name: 'verifiers-prove-only',
      comment:
        'A verifier proves who a credential is and what it may reach (dataplane/verifier.ts); whether that covers a deployment is decided only in dataplane/authorize.ts',
      severity: 'error',
      from: { path: '^src/dataplane/verifiers/' },
      to: { path: '^src/dataplane/', pathNot: ['^src/dataplane/verifiers/', '^src/dataplane/verifier[.]ts$'] },
    },
    {
      name: 'no-circular',
      comment: 'No import circles (a type-only circle counts too: it is still one concept split in two)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
