/**
 * The one configuration schema: every key, its type, default and meaning. The loader, the CLI
 * flags, the environment variables and the README's configuration reference are all derived
 * from this table, so a key exists in one place only.
 */

export type KeyType = 'string' | 'number' | 'boolean' | 'address' | 'enum';

export interface KeySpec {
  readonly type: KeyType;
  readonly default: string | number | boolean;
  readonly description: string;
  /** Allowed values for `enum` keys. */
  readonly values?: readonly string[];
  /** Lower bound for `number` keys (inclusive unless `exclusiveMin`). */
  readonly min?: number;
  readonly exclusiveMin?: boolean;
  /** Extra long flags accepted for this key (TorchServe's spelling, for example). */
  readonly flagAliases?: readonly string[];
  /** A `string` key holding a list: comma-separated as text, or a YAML sequence of strings in the file. */
  readonly list?: boolean;
}

export const CONFIG_SCHEMA = {
  inference_address: {
    type: 'address',
    default: 'http://127.0.0.1:8080',
    description: 'Data-plane listener: model traffic, `/<deployment>/<path>`.',
  },
  management_address: {
    type: 'address',
    default: 'http://127.0.0.1:8081',
    description: 'Control-plane listener: `/api/v1`, `/token`, the console.',
  },
  metrics_address: {
    type: 'address',
    default: 'http://127.0.0.1:8082',
    description: 'Prometheus listener: `/metrics`.',
  },
  certificate_file: {
    type: 'string',
    default: '',
    description: 'PEM certificate for `https://` addresses.',
  },
  private_key_file: {
    type: 'string',
    default: '',
    description: 'PEM private key for `https://` addresses.',
  },
  data_dir: {
    type: 'string',
    default: './.modelgate',
    description: 'Directory for the embedded SQLite database and the master key file.',
  },
  database_url: {
    type: 'string',
    default: '',
    description: 'Empty for embedded SQLite; `postgres://user@host:5432/db` for PostgreSQL.',
  },
  cluster_ack_timeout_ms: {
    type: 'number',
    default: 1000,
    min: 0,
    description:
      'PostgreSQL: how long a change waits for every live replica to apply it; one that has not is named (`X-Modelgate-Unacknowledged-Replicas`, audit log) and dropped from the live set.',
  },
  cluster_grace_ms: {
    type: 'number',
    default: 3000,
    min: 0,
    description:
      'PostgreSQL: how long a replica that lost its change feed or heartbeat keeps admitting protected requests, then refuses them (503 `NOT_READY`) until caught up; 0 = at once.',
  },
  redis_url: {
    type: 'string',
    default: '',
    description:
      'Optional `redis://[:password@]host:6379[/db]` (or `rediss://`): replicas then count the failure and sign-in throttles and the password-check failure memory together; empty = per replica. Unreachable: counted per replica meanwhile.',
  },
  redis_key_prefix: {
    type: 'string',
    default: 'modelgate:',
    description: 'Prefix of every Redis key and channel this cluster uses (several clusters may share one Redis).',
  },
  redis_timeout_ms: {
    type: 'number',
    default: 500,
    min: 1,
    description:
      'Bound on one Redis command (and on waiting for the replicas to take a lock); past it the node counts locally.',
  },
  public_hosts: {
    type: 'string',
    list: true,
    default: '',
    description: 'More `host[:port]` names, comma-separated, the management API answers to (docs/security.md).',
  },
  base_domain: {
    type: 'string',
    default: '',
    description: 'When set, a Host of `<deployment>.<base_domain>` routes to that deployment.',
  },
  basic_auth_username: {
    type: 'string',
    default: 'modelgate',
    description: 'The fixed username of HTTP Basic credentials on protected deployments.',
  },
  key_file: {
    type: 'string',
    default: 'key_file.json',
    description: 'Where the node keys are written (relative to the working directory).',
  },
  token_expiration_min: {
    type: 'number',
    default: 60,
    min: 0,
    exclusiveMin: true,
    description: 'Minutes until the management and inference keys expire.',
  },
  disable_token_authorization: {
    type: 'boolean',
    default: false,
    description: 'Turn token authorization off: no key file, nothing asks for a credential.',
    flagAliases: ['disable-token-auth'],
  },
  enable_envvars_config: {
    type: 'boolean',
    default: false,
    description: 'Read `MODELGATE_*` environment variables as configuration.',
  },
  default_deployment_access: {
    type: 'enum',
    values: ['protected', 'public'],
    default: 'protected',
    description: 'Access of a new deployment when none is given.',
  },
  log_level: {
    type: 'enum',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    description: 'Log verbosity.',
  },
  shutdown_timeout_ms: {
    type: 'number',
    default: 10000,
    min: 0,
    description: 'On SIGINT/SIGTERM, how long in-flight requests may take before being cut.',
  },
  workers: {
    type: 'string',
    default: '1',
    description:
      "Data-plane processes: a number, or `auto` for one per core. Above 1, the node forks workers that share the inference port and the node's keys, throttle and revocations.",
  },
  upstream_connect_timeout_ms: {
    type: 'number',
    default: 5000,
    min: 0,
    exclusiveMin: true,
    description: 'Time allowed to connect to a model server (then 502).',
  },
  upstream_timeout_ms: {
    type: 'number',
    default: 60000,
    min: 0,
    exclusiveMin: true,
    description:
      'Time allowed for a model server to send response headers (then 504); also the longest silence within its answer (then it is cut).',
  },
  failure_limit: {
    type: 'number',
    default: 10,
    min: 1,
    description: 'Failed authentications per client address (and deployment, on model traffic) before 429.',
  },
  failure_window_s: {
    type: 'number',
    default: 60,
    min: 0,
    exclusiveMin: true,
    description: 'Window, in seconds, over which `failure_limit` is counted; also the lockout.',
  },
  forward_auth_cache_s: {
    type: 'number',
    default: 0,
    min: 0,
    description:
      'Seconds a proxy may cache an allowing forward-auth decision (`Cache-Control: max-age`); 0 (default): never, so a revocation is in force on the next request. With N > 0 a revoked credential may pass for up to N s through a caching proxy, and requests it answers from its cache escape rate limits (docs/forward-auth.md).',
  },
  trusted_proxies: {
    type: 'string',
    default: '',
    description:
      'Comma-separated CIDR blocks (IPv4, IPv6) of load balancers whose `X-Forwarded-For` (or PROXY header, see `proxy_protocol`) gives the client address; empty: the header is ignored.',
  },
  proxy_protocol: {
    type: 'enum',
    values: ['off', 'inference', 'all'],
    default: 'off',
    description:
      'PROXY protocol (v1 and v2) from `trusted_proxies`: `inference` on the inference listener, `all` on the management listener too (never metrics). Peers in `trusted_proxies` must send the header; others must not.',
  },
  proxy_protocol_timeout_ms: {
    type: 'number',
    default: 10000,
    min: 0,
    exclusiveMin: true,
    description:
      'With `proxy_protocol`, how long a new connection may take to send its PROXY header (or, from other peers, its first bytes) before it is closed.',
  },
  password_check_concurrency: {
    type: 'number',
    default: 16,
    min: 1,
    description: 'Concurrent password checks node-wide; one address may hold a quarter (at least 1).',
  },
  audit_retention_days: {
    type: 'number',
    default: 90,
    min: 0,
    description: 'Days audit records are kept (deleted hourly after that); 0 keeps them forever.',
  },
  audit_refusals_per_second: {
    type: 'number',
    default: 50,
    min: 0,
    exclusiveMin: true,
    description: 'Data-plane refusals (401/403/429) audited per second, bursts of 4x; the rest are dropped.',
  },
  usage_flush_interval_ms: {
    type: 'number',
    default: 5000,
    min: 100,
    description:
      'How often each data-plane process writes per-credential usage (requests, last used) to the store, in one transaction; also on shutdown.',
  },
  traffic_counts: {
    type: 'boolean',
    default: true,
    description:
      "Count each deployment's requests, refusals and latency per minute for the last hour, in this process's memory (the console's chart and last-hour columns); false: nothing counted, the chart stays empty. Read at start.",
  },
  session_idle_timeout_min: {
    type: 'number',
    default: 60,
    min: 0,
    exclusiveMin: true,
    description: 'Minutes without a request after which a sign-in session ends.',
  },
  session_absolute_timeout_min: {
    type: 'number',
    default: 720,
    min: 0,
    exclusiveMin: true,
    description: 'Minutes after sign-in at which a session ends, however active.',
  },
  api_token_default_ttl_s: {
    type: 'number',
    default: 2592000,
    min: 0,
    exclusiveMin: true,
    description: 'Lifetime, in seconds, of an API token created without `expires_at` (30 days).',
  },
  api_token_max_ttl_s: {
    type: 'number',
    default: 31536000,
    min: 0,
    exclusiveMin: true,
    description: 'Longest lifetime, in seconds, an API token may be created for (365 days).',
  },
  jwt_signing_algorithm: {
    type: 'enum',
    values: ['Ed25519', 'ES256'],
    default: 'Ed25519',
    description: 'Algorithm of new platform JWT signing keys (existing keys keep theirs).',
  },
  jwt_issuer: {
    type: 'string',
    default: 'modelgate',
    description: 'The `iss` of platform JWTs; give replicas sharing a store the same value.',
  },
  jwt_default_ttl_s: {
    type: 'number',
    default: 86400,
    min: 0,
    exclusiveMin: true,
    description: 'Lifetime, in seconds, of a platform JWT issued without `expires_at`.',
  },
  jwt_max_ttl_s: {
    type: 'number',
    default: 2592000,
    min: 0,
    exclusiveMin: true,
    description: 'Longest lifetime, in seconds, a platform JWT may be issued for.',
  },
  jwt_clock_skew_s: {
    type: 'number',
    default: 30,
    min: 0,
    description: 'Clock skew, in seconds, tolerated on `exp`, `nbf` and `iat` of platform JWTs.',
  },
  oidc_jwks_cooldown_s: {
    type: 'number',
    default: 30,
    min: 0,
    description: 'External OIDC issuers: at most one JWKS fetch per this many seconds for an unknown `kid`.',
  },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_SCHEMA;

type ValueOf<K extends ConfigKey> = (typeof CONFIG_SCHEMA)[K]['type'] extends 'number'
  ? number
  : (typeof CONFIG_SCHEMA)[K]['type'] extends 'boolean'
    ? boolean
    : (typeof CONFIG_SCHEMA)[K] extends { values: readonly (infer V)[] }
      ? V
      : string;

/** The validated, frozen configuration. */
export type Config = { readonly [K in ConfigKey]: ValueOf<K> };

export const CONFIG_KEYS = Object.keys(CONFIG_SCHEMA) as ConfigKey[];

/** `inference_address` → `inference-address`. */
export function flagName(key: ConfigKey): string {
  return key.replaceAll('_', '-');
}

/** `inference_address` → `MODELGATE_INFERENCE_ADDRESS`. */
export function envName(key: ConfigKey): string {
  return `MODELGATE_${key.toUpperCase()}`;
}
