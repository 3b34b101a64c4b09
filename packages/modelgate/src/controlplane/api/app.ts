import type { RequestListener, Server } from 'node:http';
import swagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { ClientAddress } from '../../http/client-address.js';
import { clientErrorHandler } from '../../http/client-error.js';
import type { Readiness } from '../../http/health.js';
import { REQUEST_ID_HEADER, requestIdOf } from '../../http/request-id.js';
import { TrafficRing } from '../../kernel/traffic-ring.js';
import type { NodeKeyService } from '../../keys/node-key-service.js';
import { type Logger, redactUrl } from '../../log/logger.js';
import type { AuditWriter } from '../audit/writer.js';
import type { ApiTokenSettings } from '../operations/api-tokens.js';
import type { ControlContext } from '../operations/context.js';
import type { SessionService } from '../sessions/service.js';
import { installAuditLog } from './audit-log.js';
import { installAuthentication, type ManagementAuth } from './authentication.js';
import { acceptEmptyJsonBodies, installErrorHandling, sendError } from './errors.js';
import { RouteMethods } from './method-not-allowed.js';
import { documentErrors, SWAGGER_OPTIONS } from './openapi.js';
import { type BrowserGuardPolicy, installBrowserGuard } from './origin-guard.js';
import { API_PREFIX } from './prefix.js';
import { installReplicaReport } from './replica-report.js';
import { installRequestLog } from './request-log.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { AUDIT_SCHEMAS, auditRoutes } from './routes/audit.js';
import { catalogRoutes } from './routes/catalog.js';
import { CLI_LOGIN_SCHEMAS, cliLoginRoutes } from './routes/cli-login.js';
import { type ConsoleRouteOptions, consoleRoutes } from './routes/console.js';
import { deploymentRoutes } from './routes/deployments.js';
import { GRANT_SCHEMAS, grantRoutes } from './routes/grants.js';
import { healthRoutes } from './routes/health.js';
import { JWT_SCHEMAS, type JwtRouteOptions, jwtRoutes } from './routes/jwt.js';
import { peopleRoutes } from './routes/people.js';
import { secretRoutes } from './routes/secrets.js';
import { SESSION_SCHEMAS, sessionRoutes } from './routes/sessions.js';
import { TOKEN_SCHEMAS, tokenRoutes } from './routes/token.js';
import { apiTokenRoutes } from './routes/tokens.js';
import { TRAFFIC_SCHEMAS, trafficRoutes } from './routes/traffic.js';
import { WHOAMI_SCHEMAS, whoamiRoutes } from './routes/whoami.js';
import { API_TOKEN_SCHEMAS, SHARED_SCHEMAS } from './schemas.js';
import { sharedSerializers } from './shared-serializers.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every management route as `METHOD /pattern`, sorted (see `RouteMethods.list`). */
    routeList(): string[];
  }
}

/** Everything the control plane's routes need, built once at start. */
export interface ManagementContext {
  readonly log: Logger;
  readonly readiness: Readiness;
  readonly auth: ManagementAuth;
  /** Undefined when token authorization is disabled. */
  readonly nodeKeys: NodeKeyService | undefined;
  readonly control: ControlContext;
  /** Which Host and Origin the listener accepts (DNS rebinding, cross-site requests). */
  readonly guard: BrowserGuardPolicy;
  /** Where management changes and refused attempts are recorded. */
  readonly audit: AuditWriter;
  /** Sign-in sessions; undefined when token authorization is disabled (nobody signs in). */
  readonly sessions?: SessionService | undefined;
  /** The caller's address for logs (the peer, or `X-Forwarded-For` from a trusted proxy). */
  readonly clientAddress: ClientAddress;
  /** Platform JWT signing keys and settings (issuing, revocation, JWKS). */
  readonly jwt: Omit<JwtRouteOptions, 'control'>;
  /** API token lifetimes (`api_token_default_ttl_s`, `api_token_max_ttl_s`). */
  readonly apiTokens: ApiTokenSettings;
  /** Each deployment's last hour, counted by this process's gateway (the console's chart). */
  readonly traffic?: TrafficRing;
  /** The web console's settings (the gateway URL it shows); default: no gateway URL. */
  readonly console?: ConsoleRouteOptions;
}

/**
 * Builds the management API (fastify): health, the OpenAPI document, and whatever resource
 * plugins the node passes in. The caller owns the node:http server through `serverFactory`.
 *
 * @example
 * ```ts
 * const app = await buildManagementApp(ctx, (handler) => http.createServer(handler));
 * await app.ready();
 * app.server.listen(8081);
 * ```
 */
export async function buildManagementApp(
  ctx: ManagementContext,
  serverFactory: (handler: RequestListener) => Server,
): Promise<FastifyInstance> {
  // One client address for logs, the audit and sign-in throttling (trusted_proxies aware).
  const clientOf = (req: FastifyRequest): string => ctx.clientAddress(req.raw);
  const app = Fastify({
    loggerInstance: (ctx.log as FastifyBaseLogger).child(
      { listener: 'management' },
      {
        serializers: {
          req: (req: FastifyRequest) => ({
            method: req.method,
            url: redactUrl(req.url),
            remote: clientOf(req),
          }),
        },
      },
    ),
    serverFactory: (handler) => serverFactory(handler as RequestListener),
    genReqId: (req) => requestIdOf(req),
    logController: new LogController({
      // One spelling of the request id on every line of every listener.
      requestIdLogLabel: 'request_id',
      // Our own line per request (request-log.ts) names the caller; fastify's two lines cannot.
      disableRequestLogging: true,
    }),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    // Heads node refuses (a 1 MB token, say) get the registry body too; see client-error.ts.
    clientErrorHandler: clientErrorHandler(ctx.log, 'management'),
    forceCloseConnections: 'idle',
    // Router-level failures (a malformed URL, say) get the registry body, never the URL echoed.
    frameworkErrors: (error, req, reply) => {
      const code = error.code === 'FST_ERR_BAD_URL' ? 'PATH_INVALID' : 'BAD_REQUEST';
      sendError(req as FastifyRequest, reply as FastifyReply, 400, code);
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
    schemaController: { compilersFactory: { buildSerializer: sharedSerializers() } },
  });
  app.addHook('onRequest', async (req: FastifyRequest, reply) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    reply.header('cache-control', 'no-store');
  });
  installRequestLog(app, clientOf);
  // Every route: its methods for 405 + Allow, and the error responses its shape can return.
  const routes = new RouteMethods();
  app.addHook('onRoute', (route) => {
    routes.add(route.method, route.url);
    route.schema = documentErrors(route);
  });
  const schemas = [
    SHARED_SCHEMAS,
    API_TOKEN_SCHEMAS,
    GRANT_SCHEMAS,
    AUDIT_SCHEMAS,
    JWT_SCHEMAS,
    SESSION_SCHEMAS,
    TOKEN_SCHEMAS,
    WHOAMI_SCHEMAS,
    TRAFFIC_SCHEMAS,
    CLI_LOGIN_SCHEMAS,
  ];
  for (const schema of schemas.flat()) app.addSchema(schema);
  app.decorate('routeList', () => routes.list());
  installErrorHandling(app, routes);
  acceptEmptyJsonBodies(app);
  installBrowserGuard(app, ctx.guard);
  installAuthentication(app, ctx.auth);
  installAuditLog(app, ctx.audit, clientOf);
  installReplicaReport(app);

  await app.register(swagger, SWAGGER_OPTIONS);
  await app.register(healthRoutes, { readiness: ctx.readiness });
  await app.register(tokenRoutes, { nodeKeys: ctx.nodeKeys });
  await app.register(whoamiRoutes, { control: ctx.control });
  await app.register(deploymentRoutes, { control: ctx.control });
  await app.register(secretRoutes, { control: ctx.control });
  await app.register(apiKeyRoutes, { control: ctx.control });
  await app.register(catalogRoutes, { control: ctx.control });
  await app.register(auditRoutes, { store: ctx.control.store });
  await app.register(peopleRoutes, { control: ctx.control, sessions: ctx.sessions, clientAddress: clientOf });
  await app.register(grantRoutes, { control: ctx.control });
  if (ctx.sessions) await app.register(sessionRoutes, { sessions: ctx.sessions, clientAddress: clientOf });
  await app.register(jwtRoutes, { control: ctx.control, ...ctx.jwt });
  await app.register(apiTokenRoutes, { control: ctx.control, settings: ctx.apiTokens });
  await app.register(cliLoginRoutes, { control: ctx.control, settings: ctx.apiTokens });
  await app.register(trafficRoutes, { control: ctx.control, traffic: ctx.traffic ?? new TrafficRing() });
  await app.register(consoleRoutes, ctx.console ?? { inferenceUrl: () => '', basicUsername: 'modelgate' });
  app.get(`${API_PREFIX}/openapi.json`, { schema: { hide: true }, config: { auth: 'public' } }, async () =>
    app.swagger(),
  );
  return app;
}
