import { BlockList, isIP } from 'node:net';

/** The parsed `trusted_proxies`: the peers whose `X-Forwarded-For` is believed. */
export interface TrustedProxies {
  /** Whether `address` (as a socket or a forwarded hop gives it) is a trusted proxy. */
  has(address: string): boolean;
}

/**
 * Parses `trusted_proxies`: a comma- or space-separated list of CIDR blocks or single addresses,
 * IPv4 and IPv6 (`10.0.0.0/8, 2001:db8::/32, 192.0.2.7`). Returns the list, or every problem.
 * An empty text is an empty list (nothing trusted). IPv4-mapped IPv6 peers (`::ffff:10.0.0.1`)
 * match IPv4 blocks.
 *
 * @example
 * ```ts
 * const parsed = parseTrustedProxies('127.0.0.0/8');
 * if (!('problems' in parsed)) parsed.has('127.0.0.1'); // true
 * ```
 */
export function parseTrustedProxies(text: string): TrustedProxies | { problems: string[] } {
  const list = new BlockList();
  const problems: string[] = [];
  for (const entry of text.split(/[\s,]+/).filter((e) => e.length > 0)) {
    const block = parseBlock(entry);
    if (typeof block === 'string')
      problems.push(`trusted_proxies: ${block}, got ${JSON.stringify(entry.slice(0, 60))}`);
    else list.addSubnet(block.address, block.prefix, block.family);
  }
  if (problems.length > 0) return { problems };
  return {
    has(address) {
      const family = isIP(address);
      return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/** One `address[/prefix]` entry, or why it is not one. */
function parseBlock(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | string {
  const [address = '', prefixText, extra] = entry.split('/');
  if (extra !== undefined) return 'not a CIDR block';
  const version = isIP(address);
  if (version === 0) return 'not an IPv4 or IPv6 address';
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefix >= 0 && prefix <= max)) return `the prefix length must be 0 to ${max}`;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}
