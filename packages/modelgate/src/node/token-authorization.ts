import { resolve } from 'node:path';
import { isLoopbackHost, type ListenAddress } from '../config/address.js';
import type { Config } from '../config/schema.js';
import type { EventBus } from '../kernel/event-bus.js';
import { removeKeyFile } from '../keys/node-key-file.js';
import { NodeKeyService } from '../keys/node-key-service.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/database.js';

/**
 * TorchServe's start-up step: with token authorization on (the default), generate the node keys
 * (in PostgreSQL mode: take the cluster's, see `NodeKeyService.startShared`) and write
 * `key_file.json`; with it off, make sure no stale key file suggests otherwise and
 * warn loudly, naming any listener reachable beyond this machine.
 */
export async function setUpTokenAuthorization(
  config: Config,
  log: Logger,
  addresses: Readonly<Record<string, ListenAddress>>,
  /** The node's clock (epoch ms) the keys expire by; default `Date.now`. */
  clock?: () => number,
  /** In PostgreSQL mode: the store the cluster's one set of keys is kept in, sealed. */
  cluster?: { readonly store: Store; readonly masterKey: Buffer; readonly bus: EventBus },
): Promise<NodeKeyService | undefined> {
  const path = resolve(config.key_file);
  if (config.disable_token_authorization) {
    removeKeyFile(path);
    const exposed = Object.entries(addresses)
      .filter(([, a]) => !isLoopbackHost(a.host))
      .map(([name, a]) => `${name} on ${a.host}:${a.port}`);
    const beyond = exposed.length > 0 ? ` Listeners bound beyond loopback: ${exposed.join(', ')}.` : '';
    log.warn(
      `Token Authorization Disabled: the management API and every deployment accept requests without a credential.${beyond}`,
    );
    return undefined;
  }
  const options = { path, expirationMin: config.token_expiration_min, now: clock };
  const service = cluster
    ? await NodeKeyService.startShared({ ...options, ...cluster })
    : NodeKeyService.start(options);
  log.info({ key_file: path, shared: cluster !== undefined }, 'Token Authorization Enabled');
  return service;
}
