import type { IncomingMessage } from 'node:http';
import { SESSION_COOKIE } from '../http/cookie.js';
import { readCredentialCookieValue } from '../http/cookie-header.js';
import { readAuthorization } from '../kernel/authorization-header.js';
import { parseCredential } from '../kernel/credential.js';
import { type Denial, deny, isDenial } from '../kernel/denial.js';
import type { Principal } from '../kernel/principal.js';
import type { AdminKeyVerifier } from '../keys/admin-keys.js';
import type { NodeKeyService } from '../keys/node-key-service.js';
import type { Store } from '../store/database.js';
import { verifyOpsToken } from './api-token-authenticator.js';
import type { SessionService } from './sessions/service.js';

/** Turns a management API request into a principal or a denial. */
export type ManagementAuthenticator = (req: IncomingMessage) => Promise<Principal | Denial>;

/**
 * The management API's loader chain: a Bearer credential in the modelgate format, routed by
 * its prefix to the verifier that knows it. Malformed or bad-checksum input is refused before
 * any lookup.
 */
export function createManagementAuthenticator(verifiers: {
  nodeKeys: NodeKeyService;
  adminKeys: AdminKeyVerifier;
  sessions?: SessionService;
  /** The store holding API tokens (`mgt_`); without it they are unknown. */
  apiTokens?: Store;
  /** The clock (epoch ms) API tokens' expiry and grace are judged by; default `Date.now`. */
  now?: () => number;
}): ManagementAuthenticator {
  const now = verifiers.now ?? Date.now;
  return async (req) => {
    const header = readAuthorization(req);
    if (header === undefined) {
      // The console's session cookie, only when no Authorization header was sent.
      // Two of them are ambiguous, as on the data plane: never "the first one wins".
      const cookie = readCredentialCookieValue(req.headers.cookie, SESSION_COOKIE);
      if (isDenial(cookie)) return cookie;
      if (cookie === undefined || !verifiers.sessions) return deny('missing');
      const parsed = parseCredential(cookie);
      if (parsed?.kind !== 'user_session') return deny('malformed', 'The session cookie is not a session credential');
      return verifiers.sessions.verify(parsed, true);
    }
    if (isDenial(header)) return header;
    if (header.scheme !== 'bearer') return deny('malformed', 'The management API takes a Bearer credential');
    const credential = parseCredential(header.token);
    if (!credential) return deny('malformed', 'Not a modelgate credential (bad prefix, characters or checksum)');
    switch (credential.kind) {
      case 'management_key':
      case 'inference_key':
      case 'token_api_key':
        return verifiers.nodeKeys.verify(credential);
      case 'admin_key':
        return verifiers.adminKeys.verify(credential);
      case 'user_session':
        return verifiers.sessions ? verifiers.sessions.verify(credential, false) : deny('unknown');
      case 'api_token':
        return verifiers.apiTokens ? verifyOpsToken(verifiers.apiTokens, credential, now()) : deny('unknown');
      default:
        return deny('unknown');
    }
  };
}
