import { resolve } from 'node:path';
import { isLoopbackHost, type ListenAddress } from '../config/address.js';
import type { Config } from '../config/schema.js';
import { removeKeyFile } from '../keys/node-key-file.js';
import { NodeKeyService } from '../keys/node-key-service.js';
import type { Logger } from '../log/logger.js';

/**
 * TorchServe's start-up step: with token authorization on (the default), generate the node keys
 * and write `key_file.json`; with it off, make sure no stale key file suggests otherwise and
 * warn loudly, naming any listener reachable beyond this machine.
 */
export function setUpTokenAuthorization(
  config: Config,
  log: Logger,
  addresses: Readonly<Record<string, ListenAddress>>,
  /** The node's clock (epoch ms) the keys expire by; default `Date.now`. */
  clock?: () => number,
): NodeKeyService | undefined {
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
  const service = NodeKeyService.start({ path, expirationMin: config.token_expiration_min, now: clock });
  log.info({ key_file: path }, 'Token Authorization Enabled');
  return service;
}
