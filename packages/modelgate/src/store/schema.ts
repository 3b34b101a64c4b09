import type { Generated } from 'kysely';
import type { Access } from '../kernel/validation.js';

/**
 * Table types for kysely. Timestamps are ISO-8601 UTC text and booleans are 0/1 integers, so
 * one set of migrations and queries serves SQLite and PostgreSQL alike.
 */
export interface Database {
  admin_keys: AdminKeysTable;
  change_log: ChangeLogTable;
  infrastructures: InfrastructuresTable;
  services: ServicesTable;
  service_versions: ServiceVersionsTable;
  secrets: SecretsTable;
  deployments: DeploymentsTable;
  deployment_revisions: DeploymentRevisionsTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  users: UsersTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  grants: GrantsTable;
  owners: OwnersTable;
  sessions: SessionsTable;
  signing_keys: SigningKeysTable;
  jwt_revocations: JwtRevocationsTable;
  api_tokens: ApiTokensTable;
  credential_usage: CredentialUsageTable;
  replicas: ReplicasTable;
  cluster_node_keys: ClusterNodeKeysTable;
}

export interface InfrastructuresTable {
  id: string;
  name: string;
  description: string;
  created_at: string;
}

export interface ServicesTable {
  id: string;
  name: string;
  description: string;
  created_at: string;
}

/** Immutable once created: the design-time auth settings travel with the version (D6). */
export interface ServiceVersionsTable {
  id: string;
  service_id: string;
  version: string;
  /** JSON of `AuthSettings`. */
  auth_settings: string;
  created_at: string;
}

/** A named value, AES-256-GCM under the node master key; only the name is ever listed. */
export interface SecretsTable {
  id: string;
  name: string;
  ciphertext: string;
  created_at: string;
  updated_at: string;
}

export interface DeploymentsTable {
  id: string;
  name: string;
  infrastructure_id: string;
  service_id: string;
  version_id: string;
  upstream_url: string;
  access: Access;
  enabled: number;
  /** JSON of `AuthSettings`, or null to use the version's (D7). */
  auth_override: string | null;
  /** JSON of a `RateLimit` (X3), or null for none; snapshotted into each revision. */
  rate_limit?: string | null;
  revision: number;
  created_at: string;
  updated_at: string;
}

/** What one (re)deploy froze: the gateway serves the latest revision of each deployment. */
export interface DeploymentRevisionsTable {
  deployment_id: string;
  revision: number;
  /** JSON of `DeploymentSnapshot`. */
  snapshot: string;
  created_at: string;
}

export interface ApiKeysTable {
  id: string;
  /** `deployment` or `version` (a service version's design-time keys). */
  owner_type: 'deployment' | 'version';
  owner_id: string;
  prefix: string;
  hash: string;
  /** AES-256-GCM of the key, so readers of the service can reveal it (Dataiku). */
  ciphertext: string;
  description: string;
  created_at: string;
  last_used_at: string | null;
  /** Set when the key was rolled: it is refused from then on (X2). */
  retires_at: string | null;
  /** The key this one succeeded, when it was made by a roll. */
  predecessor_id: string | null;
  /** JSON of the key's own `RateLimit` (X3): a deployment key's replaces the per-caller one, a version key's narrows it; null for none. */
  rate_limit?: string | null;
}

export interface AdminKeysTable {
  id: string;
  /** The first characters of the key, safe to show (`mga_AbC1`). */
  prefix: string;
  /** SHA-256 hex of the whole key. */
  hash: string;
  description: string;
  created_at: string;
  last_used_at: string | null;
}

/** An append-only feed of revoking changes, polled by every process (CLI writes included). */
export interface ChangeLogTable {
  id: Generated<number>;
  topic: string;
  subject: string;
  created_at: string;
  /** The `Store.origin` of the writer; its own follower skips the row ('' reaches everyone). */
  origin: Generated<string>;
}

/** One audit record (X4): append-only, names and ids only, never a value or a credential. */
export interface AuditLogTable {
  id: Generated<number>;
  /** ISO-8601 UTC. */
  time: string;
  /** Principal id (`node:management`, an admin key id, ...), `anonymous` when none was verified. */
  actor: string;
  /** Principal kind (`management_key`, `admin_key`, `anonymous`, ...). */
  actor_kind: string;
  /** `deployment.create`, `secret.delete`, `inference.refuse`, ... */
  action: string;
  /** `deployment`, `service.version`, `admin_key`, ... */
  target_kind: string;
  /** The target's name or id (`sentiment/1.0` for nested ones), null when the request named none. */
  target_name: string | null;
  outcome: 'allowed' | 'denied' | 'failed';
  /** HTTP status, or 0 for a CLI command that failed before any answer. */
  status: number;
  /** The error registry code when refused or failed. */
  code: string | null;
  request_id: string | null;
  client_address: string | null;
  listener: 'management' | 'inference' | 'cli';
}

export interface UsersTable {
  id: string;
  username: string;
  /** scrypt (`src/secrets/password-hash.ts`). */
  password_hash: string;
  disabled: number;
  created_at: string;
}

export interface GroupsTable {
  id: string;
  name: string;
  /** JSON array of global privileges: `admin`, `create_service`. */
  privileges: string;
  created_at: string;
}

export interface GroupMembersTable {
  group_id: string;
  user_id: string;
}

/** Rights of a group on one resource, by the resource's id (never reused). */
export interface GrantsTable {
  resource_type: 'infrastructure' | 'service' | 'secret';
  resource_id: string;
  group_id: string;
  /** JSON array of rights, e.g. `["view","deploy"]`. */
  rights: string;
}

/** The user who created a service or secret: it has every right on it. */
export interface OwnersTable {
  resource_type: 'service' | 'secret';
  resource_id: string;
  user_id: string;
}

/** A sign-in session: only the SHA-256 of the `mgu_` credential is kept. */
export interface SessionsTable {
  id: string;
  hash: string;
  user_id: string;
  created_at: string;
  last_seen_at: string;
  /** Absolute expiry; the idle expiry is `last_seen_at` plus the configured idle timeout. */
  expires_at: string;
}

/** A platform JWT signing key; retired keys stay published until their last token expired. */
export interface SigningKeysTable {
  kid: string;
  /** `EdDSA` (Ed25519) or `ES256`: the one algorithm this key verifies. */
  alg: string;
  /** JSON of the public JWK (with `kid`, `alg`, `use`). */
  public_jwk: string;
  /** AES-256-GCM of the private JWK under the master key, context `signing_key:<kid>`. */
  private_sealed: string;
  created_at: string;
  retired_at: string | null;
}

/** A revoked platform JWT (`jti`) or every token of a target issued before a time. */
export interface JwtRevocationsTable {
  id: string;
  jti: string | null;
  target_type: 'deployment' | 'infrastructure' | null;
  target_id: string | null;
  issued_before: string | null;
  /** After this no token it could match is still valid, so the row can go. */
  expires_at: string;
  created_at: string;
}

/** A person's API token (BentoCloud B1): only the SHA-256 of the `mgt_` credential is kept. */
export interface ApiTokensTable {
  id: string;
  /** The owner: the token acts with this user's permissions. */
  user_id: string;
  name: string;
  description: string;
  /** The first characters of the token, safe to show (`mgt_AbC1`). */
  prefix: string;
  hash: string;
  /** 1: Developer Operations access (the management API, as the owner). */
  ops_access: number;
  /** JSON `{"all":true}` or `{"deployments":[names]}`; null: no Protected Endpoint access. */
  endpoint_access: string | null;
  created_at: string;
  expires_at: string;
  /** Written by the usage recorder; null until first use. */
  last_used_at: string | null;
  /** Set when the token was rolled: it is refused from then on (X2). */
  retires_at: string | null;
  /** The token this one succeeded, when it was made by a roll. */
  predecessor_id: string | null;
  /** JSON of the token's own `RateLimit` (X3), within each deployment's per-caller one; null for none. */
  rate_limit?: string | null;
}

/** Requests made with one credential and when it was last used (batched, additive writes). */
export interface CredentialUsageTable {
  /** The principal kind: `api_key`, `api_token`, ... */
  kind: string;
  credential_id: string;
  /** A 64-bit integer: PostgreSQL returns it as a string, so read it through `Number()`. */
  requests: number | string;
  /** ISO-8601 UTC. */
  last_used_at: string;
}

/** A replica of a PostgreSQL cluster (see `store/replicas.ts`). */
export interface ReplicasTable {
  /** The replica's `Store.origin`. */
  id: string;
  /** `host-pid`, what responses, logs and the audit log name it by. */
  name: string;
  /** ISO-8601 UTC. */
  started_at: string;
  /** Epoch ms by the database's clock; a string from PostgreSQL (bigint). */
  heartbeat_ms: number | string;
  /** ISO-8601 UTC when a writer dropped it from the live set; null while live. */
  dropped_at: string | null;
}

/** The cluster's one set of node keys (one row, id `node`), sealed with the master key. */
export interface ClusterNodeKeysTable {
  id: string;
  /** The key file's content, sealed (`store/secrets/seal.ts`, context `cluster_node_keys`). */
  sealed: string;
  /** ISO-8601 UTC. */
  updated_at: string;
}
