import type { FastifyInstance } from 'fastify';
import type { TrafficRing } from '../../../kernel/traffic-ring.js';
import { authorizeDeployment } from '../../access/authorize.js';
import type { ControlContext } from '../../operations/context.js';
import { getDeployment } from '../../operations/deployments.js';
import { API_PREFIX } from '../prefix.js';
import { namesParams, ref } from '../schemas.js';

/** A deployment's last hour (a component of the OpenAPI document). */
export const TRAFFIC_SCHEMAS = [
  {
    $id: 'DeploymentTraffic',
    type: 'object',
    required: ['deployment', 'minutes'],
    properties: {
      deployment: { type: 'string' },
      minutes: {
        type: 'array',
        description: 'The last 60 minutes, oldest first, each one even without requests',
        items: {
          type: 'object',
          required: ['start', 'requests', 'refused', 'p50_ms', 'p99_ms'],
          properties: {
            start: { type: 'string', format: 'date-time' },
            requests: { type: 'integer' },
            refused: {
              type: 'object',
              additionalProperties: { type: 'integer' },
              description:
                'Requests the model did not serve, by reason: a refusal (`missing`, `malformed`, `unknown`, `expired`, `revoked`, `forbidden`, `throttled`) or `unavailable`, `invalid`, `upstream_error`, `error`',
            },
            p50_ms: { type: ['number', 'null'], description: 'Median answer time (bucket bound, ~19 % wide)' },
            p99_ms: { type: ['number', 'null'], description: '99th percentile answer time' },
          },
        },
      },
    },
  },
];

/**
 * `GET /api/v1/deployments/{name}/traffic`: the deployment's requests, refusals by reason and
 * latency per minute over the last hour, as this node's gateway counted them (in memory, per
 * process). Whoever may read the deployment may read its traffic.
 */
export async function trafficRoutes(
  app: FastifyInstance,
  opts: { control: ControlContext; traffic: TrafficRing; now?: () => number },
): Promise<void> {
  const now = opts.now ?? Date.now;
  app.get<{ Params: { name: string } }>(
    `${API_PREFIX}/deployments/:name/traffic`,
    {
      schema: {
        tags: ['deployments'],
        operationId: 'getDeploymentTraffic',
        summary: "A deployment's last hour: requests, refusals by reason, p50/p99 latency per minute",
        description:
          "Counted in memory by this node's gateway (per process: with `workers`, by none of the workers; after a restart, from then on).",
        params: namesParams('name'),
        response: { 200: ref('DeploymentTraffic') },
      },
    },
    async (req) => {
      await authorizeDeployment(opts.control, req.principal, req.params.name, 'read');
      // 404 for a name that is not (or no longer) a deployment, as for its other routes.
      await getDeployment(opts.control, req.params.name);
      return { deployment: req.params.name, minutes: opts.traffic.lastHour(req.params.name, now()) };
    },
  );
}
