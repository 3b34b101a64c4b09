import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../config/address.js';
import { ModelgateError } from '../kernel/errors.js';

export interface TlsFiles {
  readonly certificateFile: string;
  readonly privateKeyFile: string;
}

/** Creates an http or https server for a listener address, not yet listening. */
export function createListenerServer(
  address: ListenAddress,
  handler: RequestListener | undefined,
  tls: TlsFiles,
): Server {
  if (address.protocol === 'https') {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = readFileSync(tls.certificateFile);
      key = readFileSync(tls.privateKeyFile);
    } catch (err) {
      throw new ModelgateError(
        'CONFIG_INVALID',
        `Cannot read the TLS certificate or key: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      );
    }
    return createHttpsServer({ cert, key }, handler);
  }
  return createHttpServer(handler);
}

/**
 * Binds a server, turning the usual failures into one clear line.
 *
 * @returns the port actually bound (useful with port 0).
 */
export function listen(server: Server, address: ListenAddress, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const where = `${address.protocol}://${formatHost(address.host)}:${address.port}`;
      if (err.code === 'EADDRINUSE') {
        reject(new ModelgateError('ADDRESS_IN_USE', `${name} ${where} is already in use`));
      } else if (err.code === 'EACCES') {
        reject(new ModelgateError('ADDRESS_IN_USE', `${name} ${where}: permission denied`));
      } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
        reject(new ModelgateError('ADDRESS_IN_USE', `${name} ${where}: no such local address`));
      } else {
        reject(err);
      }
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(address.port, address.host);
  });
}

export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
