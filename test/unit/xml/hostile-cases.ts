/**
 * Hostile XML inputs shared by the parser table (test/unit/xml/hostile-input.test.ts) and the HTTP table
 * (test/e2e/hostile-http.test.ts). `marker` is a string from the payload that must never appear in the
 * error message.
 */

export interface HostileCase {
  readonly name: string;
  readonly input: () => Buffer | string;
  readonly marker: string;
}

const CPIX = 'urn:dashif:org:cpix';

export const HOSTILE_CASES: readonly HostileCase[] = [
  {
    name: 'XXE file',
    input: () => `<?xml version="1.0"?><!DOCTYPE CPIX [<!ENTITY x SYSTEM "file:///etc/passwd">]><CPIX xmlns="${CPIX}">&x;</CPIX>`,
    marker: '/etc/passwd',
  },
  {
    name: 'XXE URL',
    input: () => `<!DOCTYPE CPIX [<!ENTITY x SYSTEM "http://attacker.example/xxe">]><CPIX xmlns="${CPIX}">&x;</CPIX>`,
    marker: 'attacker.example',
  },
  {
    // The parser decodes by BOM, so a DOCTYPE must be refused in UTF-16 as well as in UTF-8.
    name: 'XXE in UTF-16 LE with a BOM',
    input: () =>
      Buffer.concat([
        Buffer.from([0xff, 0xfe]),
        Buffer.from(`<!DOCTYPE CPIX [<!ENTITY x SYSTEM "file:///etc/shadow">]><CPIX xmlns="${CPIX}">&x;</CPIX>`, 'utf16le'),
      ]),
    marker: '/etc/shadow',
  },
  {
    name: 'billion laughs',
    input: () => {
      const entities = ['<!ENTITY lol0 "lol">'];
      for (let i = 1; i <= 9; i += 1) entities.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
      return `<!DOCTYPE CPIX [${entities.join('')}]><CPIX xmlns="${CPIX}">&lol9;</CPIX>`;
    },
    marker: 'lol',
  },
  {
    name: 'quadratic blow-up',
    input: () => `<!DOCTYPE CPIX [<!ENTITY a "${'A'.repeat(50_000)}">]><CPIX xmlns="${CPIX}">${'&a;'.repeat(10_000)}</CPIX>`,
    marker: 'AAAA',
  },
  {
    name: 'undeclared entity without DOCTYPE',
    input: () => `<CPIX xmlns="${CPIX}">&secretentity;</CPIX>`,
    marker: 'secretentity',
  },
  {
    name: '10,000-deep nesting',
    input: () => `${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}`,
    marker: '<a>',
  },
  {
    name: '10 MB body',
    input: () => Buffer.concat([Buffer.from(`<CPIX xmlns="${CPIX}">`), Buffer.alloc(10 * 1024 * 1024, 0x41), Buffer.from('</CPIX>')]),
    marker: 'AAAA',
  },
  {
    name: '100k elements',
    input: () => `<CPIX xmlns="${CPIX}">${'<e/>'.repeat(100_000)}</CPIX>`,
    marker: '<e/>',
  },
  {
    name: 'too many attributes',
    input: () => `<CPIX xmlns="${CPIX}" ${Array.from({ length: 1000 }, (_, i) => `a${i}="v"`).join(' ')}/>`,
    marker: 'a999',
  },
  {
    name: '2 MB attribute value',
    input: () => `<CPIX xmlns="${CPIX}" id="${'B'.repeat(2 * 1024 * 1024)}"/>`,
    marker: 'BBBB',
  },
  {
    // Under the byte cap, so only the attribute-value limit stands between it and the tree.
    name: '512 KiB attribute value',
    input: () => `<CPIX xmlns="${CPIX}" id="${'C'.repeat(512 * 1024)}"/>`,
    marker: 'CCCC',
  },
  {
    name: 'invalid UTF-8',
    input: () => Buffer.concat([Buffer.from(`<CPIX xmlns="${CPIX}" id="`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"/>')]),
    marker: 'CPIX xmlns',
  },
  {
    name: 'undeclared prefix (P24)',
    input: () => `<CPIX xmlns="${CPIX}"><ds:X509Data>MIIBsecret</ds:X509Data></CPIX>`,
    marker: 'MIIBsecret',
  },
  {
    name: 'text after the root element',
    input: () => `<CPIX xmlns="${CPIX}"/>trailing-secret`,
    marker: 'trailing-secret',
  },
];
