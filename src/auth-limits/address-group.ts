import { isIPv4, isIPv6 } from 'node:net';

/**
 * The group a client address is counted in by the per-address failure limit.
 *
 * - IPv4: the address itself.
 * - IPv6: its /64 prefix, written `<first four groups>::/64`. A /64 is the smallest subnet an IPv6 site
 *   is given (RFC 4291 §2.5.4: interface IDs are 64 bits; RFC 6177: end sites get a /48 to /64), and
 *   every host in it picks its own interface ID (SLAAC privacy addresses, RFC 8981), so one client can
 *   present 2^64 addresses: counting by whole address would not limit it at all.
 * - IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a dual-stack socket reports for an IPv4 client,
 *   RFC 4291 §2.5.5.2): the IPv4 address, so that all IPv4 clients do not fall into `::ffff:0:0/64`.
 * - Anything else (no address known): as given.
 */
export function addressGroup(address: string): string {
  if (isIPv4(address)) return address;
  const unzoned = address.replace(/%.*$/, ''); // a link-local zone (`fe80::1%eth0`) names an interface, not a host
  if (!isIPv6(unzoned)) return address;
  const groups = ipv6Groups(unzoned);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a trailing dotted IPv4 converted). */
function ipv6Groups(address: string): number[] {
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  let text = address;
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${address.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const before = parse(head);
  if (tail === undefined) return before;
  const after = parse(tail);
  return [...before, ...new Array<number>(8 - before.length - after.length).fill(0), ...after];
}
