import { type AuthSettings, parseAuthSettings } from '../../kernel/auth-settings.js';
import { ModelgateError } from '../../kernel/errors.js';
import type { Principal } from '../../kernel/principal.js';
import {
  checkDescription,
  checkName,
  checkVersion,
  conflict,
  newId,
  notFound,
  Problems,
} from '../../kernel/validation.js';
import type { ServiceVersionsTable } from '../../store/schema.js';
import { insertOrFind, lockForUpdate } from '../../store/transaction.js';
import { authorizeSecretReference } from '../access/secret-references.js';
import type { ControlContext } from './context.js';
import { nowIso } from './context.js';
import { deleteOwnedKeys } from './owned-keys.js';
import { rowByName } from './rows.js';
import { transact } from './transaction.js';

/**
 * Infrastructures (where deployments live) and services with their immutable versions (what is
 * deployed). Kept together: both are the named catalog a deployment points into.
 */
export interface NamedInfo {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly created_at: string;
}

export interface VersionInfo {
  readonly id: string;
  readonly service: string;
  readonly version: string;
  readonly auth: AuthSettings;
  readonly created_at: string;
}

type NamedTable = 'infrastructures' | 'services';

async function createNamed(ctx: ControlContext, table: NamedTable, what: string, name: string, description = '') {
  const problems = new Problems();
  checkName(problems, 'name', name);
  checkDescription(problems, description);
  problems.throwIfAny();
  return transact(ctx, async (tx) => {
    if (await findNamed(tx, table, name)) throw conflict(what, name);
    const row = newNamedRow(table, name, description);
    await tx.store.db.insertInto(table).values(row).execute();
    return row;
  });
}

function newNamedRow(table: NamedTable, name: string, description = ''): NamedInfo {
  return { id: newId(table === 'services' ? 'svc' : 'inf'), name, description, created_at: nowIso() };
}

/** Get-or-create of a parent that parallel deploys may all be creating (see `insertOrFind`). */
function ensureNamed(ctx: ControlContext, table: NamedTable, name: string) {
  return insertOrFind(
    newNamedRow(table, name),
    (row) =>
      ctx.store.db
        .insertInto(table)
        .values(row)
        .onConflict((oc) => oc.column('name').doNothing())
        .returning('id')
        .executeTakeFirst(),
    () => findNamed(ctx, table, name),
  );
}

async function findNamed(ctx: ControlContext, table: NamedTable, name: string): Promise<NamedInfo | undefined> {
  return ctx.store.db.selectFrom(table).selectAll().where('name', '=', name).executeTakeFirst();
}

async function getNamed(ctx: ControlContext, table: NamedTable, name: string): Promise<NamedInfo> {
  return rowByName(ctx, table, name);
}

async function updateNamed(ctx: ControlContext, table: NamedTable, _what: string, name: string, description: string) {
  const problems = new Problems();
  checkDescription(problems, description);
  problems.throwIfAny();
  return transact(ctx, async (tx) => {
    const row = await rowByName(tx, table, name, { lock: true });
    await tx.store.db.updateTable(table).set({ description }).where('id', '=', row.id).execute();
    return { ...row, description };
  });
}

async function deleteNamed(ctx: ControlContext, table: NamedTable, what: string, name: string): Promise<void> {
  await transact(ctx, async (tx) => {
    const found = await rowByName(tx, table, name, { lock: true });
    const column = table === 'services' ? 'service_id' : 'infrastructure_id';
    const used = await tx.store.db
      .selectFrom('deployments')
      .select('name')
      .where(column, '=', found.id)
      .executeTakeFirst();
    if (used) {
      throw new ModelgateError('RESOURCE_IN_USE', `The ${what} "${name}" is used by deployment "${used.name}"`);
    }
    await tx.store.db.deleteFrom(table).where('id', '=', found.id).execute();
  });
}

export const infrastructures = {
  create: (ctx: ControlContext, name: string, description?: string) =>
    createNamed(ctx, 'infrastructures', 'infrastructure', name, description),
  find: (ctx: ControlContext, name: string) => findNamed(ctx, 'infrastructures', name),
  ensure: (ctx: ControlContext, name: string) => ensureNamed(ctx, 'infrastructures', name),
  get: (ctx: ControlContext, name: string) => getNamed(ctx, 'infrastructures', name),
  list: (ctx: ControlContext) => ctx.store.db.selectFrom('infrastructures').selectAll().orderBy('name').execute(),
  update: (ctx: ControlContext, name: string, description: string) =>
    updateNamed(ctx, 'infrastructures', 'infrastructure', name, description),
  delete: (ctx: ControlContext, name: string) => deleteNamed(ctx, 'infrastructures', 'infrastructure', name),
};

export const services = {
  create: (ctx: ControlContext, name: string, description?: string) =>
    createNamed(ctx, 'services', 'service', name, description),
  find: (ctx: ControlContext, name: string) => findNamed(ctx, 'services', name),
  ensure: (ctx: ControlContext, name: string) => ensureNamed(ctx, 'services', name),
  get: (ctx: ControlContext, name: string) => getNamed(ctx, 'services', name),
  list: (ctx: ControlContext) => ctx.store.db.selectFrom('services').selectAll().orderBy('name').execute(),
  update: (ctx: ControlContext, name: string, description: string) =>
    updateNamed(ctx, 'services', 'service', name, description),
  delete: (ctx: ControlContext, name: string) => deleteNamed(ctx, 'services', 'service', name),
};

function versionInfo(service: string, row: ServiceVersionsTable): VersionInfo {
  return {
    id: row.id,
    service,
    version: row.version,
    auth: parseAuthSettings(JSON.parse(row.auth_settings)),
    created_at: row.created_at,
  };
}

export const versions = {
  /**
   * Versions are immutable: a version's auth settings are fixed when it is created (D6). A Basic
   * secret they name is a reference like a deploy's: `by` must be allowed to use it (a key or a
   * global admin may name one that a later deploy generates).
   */
  async create(
    ctx: ControlContext,
    serviceName: string,
    version: string,
    auth: unknown,
    by: Principal,
  ): Promise<VersionInfo> {
    const problems = new Problems();
    checkVersion(problems, version);
    problems.throwIfAny();
    const settings = parseAuthSettings(auth);
    return transact(ctx, async (tx) => {
      const service = await services.get(tx, serviceName);
      if (settings.basic_secret !== null) await authorizeSecretReference(tx, by, settings.basic_secret);
      if (await versions.find(tx, service.id, version)) throw conflict(`version of "${serviceName}"`, version);
      const row = newVersionRow(service.id, version, settings);
      await tx.store.db.insertInto('service_versions').values(row).execute();
      return versionInfo(serviceName, row);
    });
  },
  /** Get-or-create for parallel deploys; `settings` count only when this call creates it. */
  ensure(ctx: ControlContext, serviceId: string, version: string, settings: AuthSettings) {
    return insertOrFind(
      newVersionRow(serviceId, version, settings),
      (row) =>
        ctx.store.db
          .insertInto('service_versions')
          .values(row)
          .onConflict((oc) => oc.columns(['service_id', 'version']).doNothing())
          .returning('id')
          .executeTakeFirst(),
      () => versions.find(ctx, serviceId, version),
    );
  },
  /** Locked inside `transact`: keys made for it and its delete cannot interleave. */
  async find(ctx: ControlContext, serviceId: string, version: string) {
    const query = ctx.store.db
      .selectFrom('service_versions')
      .selectAll()
      .where('service_id', '=', serviceId)
      .where('version', '=', version);
    return lockForUpdate(ctx.store, query).executeTakeFirst();
  },
  async get(ctx: ControlContext, serviceName: string, version: string): Promise<VersionInfo> {
    const service = await services.get(ctx, serviceName);
    const row = await versions.find(ctx, service.id, version);
    if (!row) throw notFound(`version of "${serviceName}"`, version);
    return versionInfo(serviceName, row);
  },
  async list(ctx: ControlContext, serviceName: string): Promise<VersionInfo[]> {
    const service = await services.get(ctx, serviceName);
    const rows = await ctx.store.db
      .selectFrom('service_versions')
      .selectAll()
      .where('service_id', '=', service.id)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => versionInfo(serviceName, r));
  },
  async delete(ctx: ControlContext, serviceName: string, version: string): Promise<void> {
    await transact(ctx, async (tx) => {
      const info = await versions.get(tx, serviceName, version);
      const used = await tx.store.db
        .selectFrom('deployments')
        .select('name')
        .where('version_id', '=', info.id)
        .executeTakeFirst();
      if (used) throw new ModelgateError('RESOURCE_IN_USE', `Version ${version} is used by deployment "${used.name}"`);
      await deleteOwnedKeys(tx, 'version', info.id);
      await tx.store.db.deleteFrom('service_versions').where('id', '=', info.id).execute();
    });
  },
};

function newVersionRow(serviceId: string, version: string, settings: AuthSettings): ServiceVersionsTable {
  return {
    id: newId('ver'),
    service_id: serviceId,
    version,
    auth_settings: JSON.stringify(settings),
    created_at: nowIso(),
  };
}
