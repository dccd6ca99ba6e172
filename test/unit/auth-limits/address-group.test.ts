import { addressGroup } from '../../../src/auth-limits/address-group';

describe('addressGroup: what the per-address failure limit counts by', () => {
  it.each([
    ['an IPv4 address is its own group', '203.0.113.7', '203.0.113.7'],
    ['an IPv6 address is counted by its /64 (RFC 4291, RFC 6177)', '2001:db8:1:2:a:b:c:d', '2001:db8:1:2::/64'],
    ['two hosts of one /64 share a group', '2001:db8:1:2::ffff', '2001:db8:1:2::/64'],
    ['a compressed prefix', '2001:db8::1', '2001:db8:0:0::/64'],
    ['leading zeros and upper case', '2001:0DB8:0001:0002:0000:0000:0000:0001', '2001:db8:1:2::/64'],
    ['IPv4-mapped IPv6 (a dual-stack socket) is the IPv4 address', '::ffff:198.51.100.9', '198.51.100.9'],
    ['IPv4-mapped IPv6 in hex', '::ffff:c633:6409', '198.51.100.9'],
    ['a link-local address with a zone', 'fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['the loopback address', '::1', '0:0:0:0::/64'],
    ['no address', 'unknown', 'unknown'],
  ])('%s', (_name, address, group) => {
    expect(addressGroup(address)).toBe(group);
  });

  it('keeps neighbouring /64s apart', () => {
    expect(addressGroup('2001:db8:1:2::1')).not.toBe(addressGroup('2001:db8:1:3::1'));
  });
});
