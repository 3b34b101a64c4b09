import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ModelgateError } from '../kernel/errors.js';

/** How the CLI checks an `https://` management API: a CA file, or (warned) no check at all. */
export interface TlsSettings {
  /** Absolute path of a PEM file of trusted CA certificates (or the node's self-signed one). */
  readonly caFile?: string | undefined;
  readonly insecure?: boolean | undefined;
}

/** Error codes of a TLS handshake whose certificate could not be trusted (OpenSSL's and Node's). */
const UNTRUSTED_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Whether a connection error code means "the certificate is not trusted". */
export function isUntrustedCertificate(code: string | undefined): boolean {
  return code !== undefined && UNTRUSTED_CODES.has(code);
}

/** The one error for an untrusted certificate, saying what to do (never "use --insecure" first). */
export function untrustedCertificate(endpoint: string, reason: string, settings: TlsSettings): ModelgateError {
  const tried = settings.caFile ? ` with --cacert ${settings.caFile}` : '';
  return new ModelgateError(
    'CLI_TLS_UNTRUSTED',
    `the management API at ${endpoint} presented a certificate this CLI does not trust${tried} (${reason}): ` +
      'pass --cacert FILE with the CA that signed it (for a self-signed node, its certificate_file), or set ' +
      'NODE_EXTRA_CA_CERTS; --insecure skips the check (anyone on the path can then read the credential)',
  );
}

/**
 * Reads a `--cacert` file: PEM certificates, else a usage error naming the file. The path is
 * made absolute so a login context that saves it works from any directory.
 */
export function readCaFile(path: string): { caFile: string; pem: string } {
  const caFile = resolve(path);
  let pem: string;
  try {
    pem = readFileSync(caFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ModelgateError('CLI_USAGE', `--cacert ${caFile} cannot be read (${code})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ModelgateError('CLI_USAGE', `--cacert ${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return { caFile, pem };
}

/**
 * A `fetch` that trusts exactly the CA file's certificates (like curl's `--cacert`), or checks
 * nothing with `insecure`; undefined when neither is set (the global fetch and system CAs).
 * undici is loaded only then, so plain commands do not pay for it.
 */
export async function tlsFetch(settings: TlsSettings): Promise<typeof fetch | undefined> {
  if (!settings.caFile && !settings.insecure) return undefined;
  const ca = settings.caFile ? readCaFile(settings.caFile).pem : undefined;
  const undici = await import('undici');
  const dispatcher = new undici.Agent({
    connect: { ...(ca ? { ca } : {}), rejectUnauthorized: settings.insecure !== true },
  });
  const tlsAware = (input: string | URL | Request, init?: RequestInit) =>
    undici.fetch(input as Parameters<typeof undici.fetch>[0], {
      ...(init as Parameters<typeof undici.fetch>[1]),
      dispatcher,
    });
  return tlsAware as unknown as typeof fetch;
}
