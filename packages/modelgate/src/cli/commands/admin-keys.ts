import type { Command } from 'commander';
import { printCredential, printJson, printList, printText } from '../output.js';
import { storeCommand, wantsJson, withStore } from '../store-command.js';
import { renderTable } from '../table.js';

const adminKeys = () => import('../../keys/admin-keys.js');
const audited = async () => (await import('../../controlplane/audit/cli.js')).auditedCliCommand;

/**
 * Dataiku's apinode-admin commands: `admin-key-create`, `admin-keys-list`, `admin-key-delete`.
 * They work on the store directly, with or without a running server.
 */
export function registerAdminKeys(program: Command): void {
  storeCommand(
    program
      .command('admin-key-create')
      .description('Create an admin key (full control of the management API); it is shown once')
      .option('--description <text>', 'what the key is for', ''),
  ).action((opts: Record<string, unknown>) =>
    withStore(opts, async (store) => {
      const created = await (await audited())(
        store,
        { action: 'admin_key.create', targetKind: 'admin_key' },
        async () => {
          const key = await (await adminKeys()).createAdminKey(store, String(opts.description ?? ''));
          return { result: key, targetName: key.id };
        },
      );
      if (wantsJson(opts)) {
        printJson(created);
        return;
      }
      printCredential(
        created.key,
        `Admin key ${created.id} created. Store it now: it cannot be shown again.\n` +
          'Use it as: Authorization: Bearer <key>',
      );
    }),
  );

  storeCommand(program.command('admin-keys-list').description('List admin keys (never the keys themselves)')).action(
    (opts: Record<string, unknown>) =>
      withStore(opts, async (store) => {
        const keys = await (await audited())(
          store,
          { action: 'admin_key.list', targetKind: 'admin_key' },
          async () => ({
            result: await (await adminKeys()).listAdminKeyInfos(store),
          }),
        );
        if (wantsJson(opts)) {
          printList(keys);
          return;
        }
        const rows = keys.map((k) => [k.id, `${k.prefix}...`, k.description, k.created_at, k.last_used_at ?? 'never']);
        printText(renderTable(['ID', 'PREFIX', 'DESCRIPTION', 'CREATED', 'LAST USED'], rows));
      }),
  );

  storeCommand(
    program
      .command('admin-key-delete')
      .description('Delete an admin key, given the key itself or its id; running servers refuse it within a second')
      .argument('<key-or-id>', 'the admin key, or its id from admin-keys-list'),
  ).action((keyOrId: string, opts: Record<string, unknown>) =>
    withStore(opts, async (store) => {
      // The argument may be the key itself: only an id-shaped one is recorded (safeName).
      const action = { action: 'admin_key.delete', targetKind: 'admin_key', targetName: keyOrId };
      const deleted = await (await audited())(store, action, async () => {
        const info = await (await adminKeys()).deleteAdminKey(store, keyOrId);
        return { result: info, targetName: info.id };
      });
      if (wantsJson(opts)) printJson({ deleted: deleted.id });
      else printText(`Deleted admin key ${deleted.id}`);
    }),
  );
}
