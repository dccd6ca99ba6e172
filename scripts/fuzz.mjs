// HTTP fuzzer for every key route (README, Quick start: the test suite and the long fuzzing run).
//
//   npm run fuzz -- --count 100000 [--seed N] [--concurrency 8] [--case I] [--shared ../shared] [--json out.json]
//
// Starts the built service (dist/main.js) in production mode on a temporary SQLite store, creates a
// site, a license server and a second KMS token through the admin API, then sends --count mutated
// requests through the real HTTP stack. The corpus is every request document in ../shared/vectors (read
// in place) plus test/fixtures/cpix; each case picks a corpus document, a route and one to three
// mutators, all from a PRNG seeded by (seed, case index), so `--seed S --case I` replays one case.
//
// Properties checked on every answer (a violation is a failure and makes the exit status 1):
//   - the process never exits and every request is answered within HANG_MS (no crash, no hang);
//   - every status is 2xx or 4xx: nothing here injects a dependency fault, so any 5xx is unexpected;
//   - a 4xx body carries no key bytes (any key any 2xx answer of the run carried, in hex or base64),
//     no token, credential, access key or admin token, no markup and no run of the request longer than
//     ECHO_RUN characters (an error message may name a short value, never replay the document);
//   - a 2xx body is well-formed XML (strict xmldom parse, no DOCTYPE) whose root is urn:dashif:org:cpix CPIX.
// At the end /healthz must still answer 200. Prints the counts by route, status, mutator and property.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { cpuSeconds, MAIN, readOptions, ROOT, rssBytes, startProductionService } from './lib/processes.mjs';

const require = createRequire(import.meta.url);
const { DOMParser, XMLSerializer } = require('@xmldom/xmldom');
const CPIX_NS = 'urn:dashif:org:cpix';
/** Far above any honest answer (milliseconds here) and below the server's 30 s request timeout. */
const HANG_MS = 15_000;
/**
 * An error message may name a short identifier of the request (a KID, a period ID: the service shows
 * IDs of up to 64 characters, src/cpix/parse-values.ts); a longer run of the request is an echo.
 */
const ECHO_RUN = 72;
const MAX_FAILURE_SAMPLES = 20;

// ---------------------------------------------------------------------------------------------- options

const parseOptions = (argv) =>
  readOptions(argv, {
    integers: ['count', 'seed', 'concurrency', 'case'],
    paths: ['shared', 'json'],
    defaults: { count: 2000, seed: randomBytes(4).readUInt32BE(0), concurrency: 8, case: undefined, shared: resolve(ROOT, '..', 'shared'), json: undefined },
  });

// -------------------------------------------------------------------------------------------------- PRNG

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function prng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (list) => list[int(list.length)], chance: (p) => next() < p };
}

/** Per-case seed: the run's seed and the case index mixed, so cases are independent and replayable. */
const caseSeed = (seed, index) => (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;

// ------------------------------------------------------------------------------------------------ corpus

function xmlFilesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return xmlFilesUnder(path);
    return name.endsWith('.xml') ? [path] : [];
  });
}

/**
 * Request documents only: the vectors' responses are CPIX too but no client sends them. Each entry
 * records the routes it was written for, so most cases exercise a route with a document it accepts.
 */
function loadCorpus(shared) {
  const vectors = join(shared, 'vectors');
  if (!existsSync(vectors)) throw new Error(`${vectors} is missing: the corpus is read in place from ../shared/vectors (--shared to point elsewhere)`);
  const entries = [];
  const add = (path, family) => entries.push({ name: relative(resolve(ROOT, '..'), path), family, bytes: readFileSync(path) });
  for (const path of xmlFilesUnder(join(vectors, 'speke'))) {
    if (/response/i.test(path)) continue;
    add(path, /aws-speke-v1-docs/.test(path) ? 'speke-v1' : 'speke-v2');
  }
  for (const path of xmlFilesUnder(join(vectors, 'pallycon'))) if (/request/i.test(path)) add(path, 'pallycon');
  for (const path of xmlFilesUnder(join(vectors, 'dashif-cpix-test-vectors'))) add(path, 'cpix');
  for (const path of xmlFilesUnder(join(vectors, 'cpix-generated'))) add(path, 'cpix');
  for (const path of xmlFilesUnder(join(ROOT, 'test', 'fixtures', 'cpix'))) add(path, 'cpix');
  if (entries.length === 0) throw new Error('the corpus is empty');
  return entries;
}

// ------------------------------------------------------------------------------------------------ routes

/**
 * Every key route with how it takes its credential (docs/key-exchange.md, route table). `families` are the
 * corpus documents written for it; any document may still be sent anywhere (PROB_ANY_ROUTE).
 */
const ROUTES = [
  { name: 'SPEKE v1', families: ['speke-v1', 'cpix'], path: () => '/speke/copyProtection', headers: (t) => ({ 'x-kms-token': t }) },
  { name: 'SPEKE v2.0', families: ['speke-v2'], path: () => '/speke/copyProtection', headers: (t) => ({ authorization: `Bearer ${t}`, 'x-speke-version': '2.0' }) },
  { name: 'SPEKE v2.1', families: ['speke-v2'], path: () => '/speke/copyProtection', headers: (t) => ({ authorization: `Bearer ${t}`, 'x-speke-version': '2.1' }) },
  { name: 'SPEKE v2.0 (path alias)', families: ['speke-v2'], path: () => '/speke/fuzz/copyProtection', headers: (t) => ({ 'x-kms-token': t, 'x-speke-version': '2.0' }) },
  { name: 'PallyCon SPEKE (enc-token)', families: ['speke-v2', 'speke-v1'], path: (t) => `/cpix/getKey?enc-token=${encodeURIComponent(t)}`, headers: () => ({ 'x-speke-version': '2.0' }) },
  { name: 'PallyCon CPIX v1', families: ['pallycon', 'cpix'], path: (t) => `/v1/cpix/pallycon/getKey/${encodeURIComponent(t)}`, headers: () => ({}) },
  { name: 'PallyCon CPIX v1 (legacy path)', families: ['pallycon'], path: (t) => `/cpix/pallycon/getKey/${encodeURIComponent(t)}`, headers: () => ({}) },
  { name: 'PallyCon CPIX v2', families: ['pallycon', 'cpix'], path: (t) => `/v2/cpix/pallycon/getKey/${encodeURIComponent(t)}`, headers: () => ({}) },
  { name: 'DoveRunner CPIX v2 rotation', families: ['pallycon'], path: (t) => `/v2/cpix/doverunner/getKey/${encodeURIComponent(t)}?key-rotation=true`, headers: () => ({}) },
];
const PROB_ANY_ROUTE = 0.15;
const PROB_LICENSE_EXPORT = 0.08;

// ---------------------------------------------------------------------------------------------- mutators

const ODD_VALUES = [
  '', ' ', '\t', '0', '-1', '1e309', '99999999999999999999999999', 'NaN', 'true', 'null', 'undefined',
  '00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', '{6e5a1d26-2757-47d7-8046-eaa3d7a7a1b1}',
  '6e5a1d26275747d78046eaa3d7a7a1b1', '6E5A1D26-2757-47D7-8046-EAA3D7A7A1B1', '6e5a1d26-2757-47d7-8046-eaa3d7a7a1b', 'AAAA', '====',
  'AAECAwQFBgcICQoLDA0ODw==', 'AAECAwQFBgcICQoLDA0ODxA=', '!!!notbase64!!!', '../../../../etc/passwd', '%00', '%2e%2e%2f',
  '\u202e\u0644\u0627', '\ud83d\udd11\ud83d\udd11', 'kms1.AAAA.BBBB', 'javascript:alert(1)', "' OR 1=1 --", '${jndi:ldap://x}',
  'cenc', 'cbcs', 'cens', 'cbc1', 'VIDEO', 'AUDIO', 'SD', 'HD', 'UHD1', 'master', 'media', '2.0', '2.3', '2.4', '3.0',
];
/** Under and over the parser's 16 KiB attribute limit; the 512 KiB-2 MiB cases are in test/e2e/hostile-http.test.ts. */
const HUGE_LENGTHS = [1_000, 17_000, 60_000];
const NAMESPACE_VARIANTS = ['urn:dashif:org:cpix2', 'URN:DASHIF:ORG:CPIX', 'urn:dashif:org:cpix ', 'urn:ietf:params:xml:ns:keyprov:pskc', ''];
const TEXT_DECLARATIONS = [
  '<?xml version="1.0" encoding="ISO-8859-1"?>', '<?xml version="1.0" encoding="UTF-16"?>', '<?xml version="1.1"?>',
  '<?xml version="1.0" encoding="EBCDIC-CP-US"?>', '<?xml version="1.0" standalone="yes"?>', '<?xml-stylesheet href="x"?>',
];

const serializer = new XMLSerializer();
/** The corpus is trusted input: parsed leniently, mutated as a tree, serialized back. */
function parseTrusted(bytes) {
  try {
    const doc = new DOMParser({ onError: () => undefined }).parseFromString(bytes.toString('utf8').replace(/^\uFEFF?\s+/, ''), 'text/xml');
    return doc.documentElement ? doc : undefined;
  } catch {
    return undefined; // not a tree (a fragment, a deliberately broken fixture): byte mutators only
  }
}
function elementsOf(doc) {
  const all = [];
  const walk = (node) => {
    for (let child = node.firstChild; child; child = child.nextSibling) {
      if (child.nodeType === 1) {
        all.push(child);
        walk(child);
      }
    }
  };
  walk(doc);
  return all;
}
const attributesOf = (element) => Array.from({ length: element.attributes.length }, (_, i) => element.attributes.item(i));

/** Tree mutators: each returns a string or `undefined` when the document offers nothing to mutate. */
const TREE_MUTATORS = {
  'delete element': (doc, r) => {
    const nonRoot = elementsOf(doc).slice(1);
    if (nonRoot.length === 0) return undefined;
    const victim = r.pick(nonRoot);
    victim.parentNode.removeChild(victim);
    return serializer.serializeToString(doc);
  },
  'duplicate element': (doc, r) => {
    const nonRoot = elementsOf(doc).slice(1);
    if (nonRoot.length === 0) return undefined;
    const original = r.pick(nonRoot);
    const copies = r.chance(0.1) ? 50 : 1;
    for (let i = 0; i < copies; i += 1) original.parentNode.insertBefore(original.cloneNode(true), original.nextSibling);
    return serializer.serializeToString(doc);
  },
  'move element': (doc, r) => {
    const all = elementsOf(doc);
    if (all.length < 3) return undefined;
    const moved = r.pick(all.slice(1));
    const target = r.pick(all.filter((e) => e !== moved && !isInside(e, moved)));
    moved.parentNode.removeChild(moved);
    target.appendChild(moved);
    return serializer.serializeToString(doc);
  },
  'delete attribute': (doc, r) => {
    const candidates = elementsOf(doc).filter((e) => e.attributes.length > 0);
    if (candidates.length === 0) return undefined;
    const element = r.pick(candidates);
    element.removeAttributeNode(r.pick(attributesOf(element)));
    return serializer.serializeToString(doc);
  },
  'odd attribute value': (doc, r) => {
    const candidates = elementsOf(doc).filter((e) => e.attributes.length > 0);
    if (candidates.length === 0) return undefined;
    const element = r.pick(candidates);
    r.pick(attributesOf(element)).value = r.pick(ODD_VALUES);
    return serializer.serializeToString(doc);
  },
  'huge attribute value': (doc, r) => {
    const candidates = elementsOf(doc).filter((e) => e.attributes.length > 0);
    if (candidates.length === 0) return undefined;
    const element = r.pick(candidates);
    r.pick(attributesOf(element)).value = r.pick(['A', '9', 'é', '&', '<']).repeat(r.pick(HUGE_LENGTHS));
    return serializer.serializeToString(doc);
  },
  'odd text': (doc, r) => {
    const all = elementsOf(doc);
    const element = r.pick(all);
    while (element.firstChild) element.removeChild(element.firstChild);
    element.appendChild(doc.createTextNode(r.chance(0.2) ? 'A'.repeat(r.pick(HUGE_LENGTHS)) : r.pick(ODD_VALUES)));
    return serializer.serializeToString(doc);
  },
  'foreign element': (doc, r) => {
    const element = r.pick(elementsOf(doc));
    const namespace = r.pick([CPIX_NS, 'urn:aws:amazon:com:speke', 'http://www.w3.org/2000/09/xmldsig#', 'urn:fuzz']);
    const added = doc.createElementNS(namespace, r.pick(['cpix:ContentKey', 'cpix:DRMSystem', 'speke:ProtectionHeader', 'ds:Signature', 'x:Unknown', 'cpix:CPIX']));
    added.setAttribute(r.pick(['kid', 'systemId', 'id', 'contentId', 'version']), r.pick(ODD_VALUES));
    element.appendChild(added);
    return serializer.serializeToString(doc);
  },
  'fresh content ID': (doc, r) => {
    const root = doc.documentElement;
    if (!root) return undefined;
    // Half the cases get their own content so keys are created, not only read back.
    const name = root.hasAttribute('id') && !root.hasAttribute('contentId') ? 'id' : 'contentId';
    root.setAttribute(name, `fuzz-${r.int(1e9)}`);
    return serializer.serializeToString(doc);
  },
};

function isInside(node, ancestor) {
  for (let n = node; n; n = n.parentNode) if (n === ancestor) return true;
  return false;
}

/** Byte and text mutators: work on whatever the previous step produced, well-formed or not. */
const BYTE_MUTATORS = {
  'bit flips': (bytes, r) => {
    const out = Buffer.from(bytes);
    if (out.length === 0) return out;
    for (let i = 0, n = 1 + r.int(8); i < n; i += 1) out[r.int(out.length)] ^= 1 << r.int(8);
    return out;
  },
  truncation: (bytes, r) => bytes.subarray(0, r.int(bytes.length)),
  'byte splice': (bytes, r) => {
    const at = r.int(bytes.length + 1);
    const junk = r.pick([Buffer.from([0]), Buffer.from([0xff, 0xfe]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('\u00e9', 'latin1'), Buffer.from(']]>'), Buffer.from('<![CDATA['), Buffer.from('&#0;'), Buffer.from('&#xD800;'), Buffer.from('&unknown;'), Buffer.from('<!--'), Buffer.from('<?pi x?>')]);
    return Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]);
  },
  'namespace game': (bytes, r) => {
    let text = bytes.toString('utf8');
    const game = r.int(5);
    if (game === 0) text = text.replace(CPIX_NS, r.pick(NAMESPACE_VARIANTS));
    else if (game === 1) text = text.replace(/xmlns:cpix="[^"]*"/, '');
    else if (game === 2) text = text.replace(/<cpix:/g, '<c:').replace(/<\/cpix:/g, '</c:').replace('xmlns:cpix=', 'xmlns:c=');
    else if (game === 3) text = text.replace(/(<[A-Za-z:]+ )/, `$1xmlns:cpix="${r.pick(NAMESPACE_VARIANTS)}" `);
    else text = text.replace(/<cpix:(\w+)/, '<$1 xmlns=""');
    return Buffer.from(text, 'utf8');
  },
  'duplicate attribute': (bytes, r) => {
    const text = bytes.toString('utf8');
    const attributes = [...text.matchAll(/ ([A-Za-z:]+)="[^"]*"/g)];
    if (attributes.length === 0) return bytes;
    const chosen = r.pick(attributes);
    const at = chosen.index + chosen[0].length;
    return Buffer.from(`${text.slice(0, at)} ${chosen[1]}="${r.pick(ODD_VALUES)}"${text.slice(at)}`, 'utf8');
  },
  'encoding trick': (bytes, r) => {
    const text = bytes.toString('utf8').replace(/^\uFEFF?<\?xml[^>]*\?>/, '');
    const trick = r.int(6);
    if (trick === 0) return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
    if (trick === 1) return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    if (trick === 2) return Buffer.from(text, 'utf16le');
    if (trick === 3) return Buffer.concat([Buffer.from(r.pick(TEXT_DECLARATIONS)), Buffer.from(text, r.chance(0.5) ? 'latin1' : 'utf8')]);
    if (trick === 4) return Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    return Buffer.from(text.replace(/"([0-9a-f-]{36})"/, (_, v) => `"${[...v].map((c) => `&#x${c.charCodeAt(0).toString(16)};`).join('')}"`), 'utf8');
  },
  'DOCTYPE injection': (bytes, r) => {
    const text = bytes.toString('utf8').replace(/^\uFEFF?<\?xml[^>]*\?>/, '');
    const doctype = r.pick([
      '<!DOCTYPE CPIX [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
      '<!DOCTYPE CPIX SYSTEM "http://127.0.0.1:1/dtd">',
      '<!DOCTYPE CPIX [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
      '<!DOCTYPE CPIX>',
    ]);
    return Buffer.from(`${doctype}${text.replace(/(<[^!?][^>]*>)/, '$1&x;')}`, 'utf8');
  },
  'deep nesting': (bytes, r) => {
    const text = bytes.toString('utf8');
    const depth = r.pick([65, 500, 10_000]);
    return Buffer.from(text.replace(/(<\/[^>]+>)\s*$/, `${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}$1`), 'utf8');
  },
};

function spliceFromOther(doc, r, corpus) {
  const other = parseTrusted(r.pick(corpus).bytes);
  if (!other) return undefined;
  const donors = elementsOf(other).slice(1);
  const targets = elementsOf(doc);
  if (donors.length === 0 || targets.length === 0) return undefined;
  r.pick(targets).appendChild(doc.importNode(r.pick(donors), true));
  return serializer.serializeToString(doc);
}

/** One to three mutators; tree mutators first (they need a tree), byte mutators after. */
function mutate(entry, r, corpus) {
  const applied = [];
  let text;
  const treeNames = Object.keys(TREE_MUTATORS);
  const treeSteps = r.chance(0.7) ? 1 + r.int(2) : 0;
  let doc = treeSteps > 0 || r.chance(0.5) ? parseTrusted(entry.bytes) : undefined;
  if (doc) {
    if (r.chance(0.5)) {
      text = TREE_MUTATORS['fresh content ID'](doc, r);
      applied.push('fresh content ID');
      doc = parseTrusted(Buffer.from(text));
    }
    for (let i = 0; i < treeSteps && doc; i += 1) {
      const name = r.chance(0.1) ? 'splice from another document' : r.pick(treeNames);
      const result = name === 'splice from another document' ? spliceFromOther(doc, r, corpus) : TREE_MUTATORS[name](doc, r);
      if (result === undefined) continue;
      applied.push(name);
      text = result;
      if (i + 1 < treeSteps) doc = parseTrusted(Buffer.from(text));
    }
  }
  let bytes = text === undefined ? entry.bytes : Buffer.from(text, 'utf8');
  const byteNames = Object.keys(BYTE_MUTATORS);
  const byteSteps = applied.length === 0 ? 1 + r.int(2) : r.chance(0.4) ? 1 : 0;
  for (let i = 0; i < byteSteps; i += 1) {
    const name = r.pick(byteNames);
    bytes = BYTE_MUTATORS[name](bytes, r);
    applied.push(name);
  }
  return { bytes, applied };
}

const CONTENT_TYPES = ['application/xml', 'application/xml', 'application/xml', 'text/xml', 'application/cpix+xml', undefined, 'application/octet-stream', 'text/plain', 'application/json', 'application/xml; charset=utf-16', 'multipart/form-data; boundary=x'];

/** Header games: wrong content types, SPEKE versions, credentials; mostly the route's own headers. */
function headerGames(headers, r, credentials) {
  const applied = [];
  const out = { ...headers };
  if (r.chance(0.15)) {
    const type = r.pick(CONTENT_TYPES);
    if (type === undefined) delete out['content-type'];
    else out['content-type'] = type;
    applied.push('content type');
  }
  if (r.chance(0.08)) {
    out['x-speke-version'] = r.pick(['1.0', '2.0', '2.1', '2.2', '3', '', '2', '2.0, 2.1', 'v2.0', ' 2.0']);
    applied.push('SPEKE version header');
  }
  if (r.chance(0.05)) {
    out['content-encoding'] = r.pick(['gzip', 'deflate', 'br', 'x-fuzz']);
    applied.push('content encoding');
  }
  if (r.chance(0.06)) {
    out.authorization = `Bearer ${r.pick([credentials.otherToken, credentials.licenseServer, credentials.accessKey, 'kms1.x.y', ''])}`;
    applied.push('other credential');
  }
  return { headers: out, applied };
}

/** A wrong credential in the credential's place: a near miss of the real token, or another kind. */
function mutateToken(token, r, credentials) {
  const kind = r.int(5);
  if (kind === 0) return token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
  if (kind === 1) return token.slice(0, r.int(token.length));
  if (kind === 2) return `${token}${token}`;
  if (kind === 3) return r.pick([credentials.licenseServer, credentials.accessKey, credentials.adminToken]);
  return r.pick(ODD_VALUES.filter((v) => v.length > 0));
}

// ------------------------------------------------------------------------------------------ the service

function startService(dir) {
  return startProductionService(dir, {
    DATA_DIR: join(dir, 'data'),
    LOG_LEVEL: 'warn',
    // Token mutations fail authentication on purpose, thousands of times from 127.0.0.1: the limiter
    // (its own test: test/e2e/auth-rate-limit.test.ts) would turn the rest of the run into 429s.
    AUTH_FAILURES_PER_ADDRESS: '0',
    AUTH_FAILURES_PER_CREDENTIAL: '0',
  });
}

async function provision(url, adminToken) {
  const admin = async (path, body) => {
    const res = await fetch(`${url}/admin/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status !== 201 && res.status !== 200) throw new Error(`admin ${path} answered ${res.status}`);
    return res.json();
  };
  const created = await admin('/sites', { name: 'fuzzed' });
  const siteId = created.site.id;
  const other = await admin(`/sites/${siteId}/tokens`, {});
  const certificate = readFileSync(join(ROOT, 'test', 'fixtures', 'certificates', 'license-server-rsa2048.pem'), 'utf8');
  const licensed = await admin(`/sites/${siteId}/license-servers`, { name: 'fuzz license server', certificate });
  return { siteId, token: created.token.token, otherToken: other.token?.token ?? other.token, accessKey: created.accessKey, licenseServer: licensed.credential, adminToken };
}

// ----------------------------------------------------------------------------------------------- checks

function wellFormedCpix(body) {
  if (/<!DOCTYPE/i.test(body)) return 'DOCTYPE in a 2xx body';
  let problem;
  const doc = new DOMParser({ onError: (level, message) => { if (level !== 'warning') problem ??= message; } }).parseFromString(body, 'text/xml');
  if (problem) return `not well-formed: ${problem.slice(0, 120)}`;
  const root = doc.documentElement;
  if (!root || root.localName !== 'CPIX' || root.namespaceURI !== CPIX_NS) return `root is ${root?.namespaceURI ?? '(none)'} ${root?.localName ?? '(none)'}`;
  return undefined;
}

/** Base64 PlainValue contents of a 2xx body: every key the run has handed out so far. */
function keysIn(body) {
  return [...body.matchAll(/<(?:[\w-]+:)?PlainValue>([A-Za-z0-9+/=\s]+)<\/(?:[\w-]+:)?PlainValue>/g)].map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}

function formsOf(secret) {
  const bytes = Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
  const forms = [bytes.toString('hex'), bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url')];
  if (!Buffer.isBuffer(secret)) forms.push(secret, encodeURIComponent(secret));
  return forms.filter((form) => form.length >= 16);
}

/** Key forms are 32 (hex) or 22 (unpadded base64/base64url) characters: every window of the body is looked up. */
const KEY_FORM_LENGTHS = [22, 32];
function containsSeenKey(body, seenKeys) {
  for (const length of KEY_FORM_LENGTHS) {
    for (let start = 0; start + length <= body.length; start += 1) if (seenKeys.has(body.slice(start, start + length))) return true;
  }
  return false;
}

function echoes(body, request) {
  const text = request.toString('latin1');
  for (let start = 0; start + ECHO_RUN <= body.length; start += 4) if (text.includes(body.slice(start, start + ECHO_RUN))) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------- the run

function buildCase(index, options, corpus, credentials) {
  const r = prng(caseSeed(options.seed, index));
  if (r.chance(PROB_LICENSE_EXPORT)) {
    // The export is a GET: the content ID in the path and the credential are what can be fuzzed.
    const entry = r.pick(corpus);
    const contentId = /contentId="([^"]*)"/.exec(entry.bytes.toString('utf8'))?.[1] ?? r.pick(ODD_VALUES);
    const games = [];
    let id = contentId;
    if (r.chance(0.4)) (id = r.pick([...ODD_VALUES, 'A'.repeat(5000), '%', '..', '%2F', '\u0000'])), games.push('odd content ID');
    let credential = credentials.licenseServer;
    if (r.chance(0.3)) (credential = mutateToken(credential, r, credentials)), games.push('wrong credential');
    let path = `/license/v1/sites/${encodeURIComponent(credentials.siteId)}/contents/${encodeURIComponent(id)}`;
    if (r.chance(0.1)) (path = `/license/v1/sites/${encodeURIComponent(r.pick(ODD_VALUES))}/contents/${encodeURIComponent(id)}`), games.push('other site');
    return { index, route: 'license export', method: 'GET', path, headers: { authorization: `Bearer ${credential}` }, body: Buffer.alloc(0), applied: games, corpus: entry.name };
  }
  const route = r.pick(ROUTES);
  const fitting = corpus.filter((e) => route.families.includes(e.family));
  const entry = r.chance(PROB_ANY_ROUTE) || fitting.length === 0 ? r.pick(corpus) : r.pick(fitting);
  const { bytes, applied } = mutate(entry, r, corpus);
  let token = credentials.token;
  if (r.chance(0.05)) (token = mutateToken(token, r, credentials)), applied.push('wrong token');
  const games = headerGames({ 'content-type': 'application/xml', ...route.headers(token) }, r, credentials);
  return { index, route: route.name, method: 'POST', path: route.path(token), headers: games.headers, body: bytes, applied: [...applied, ...games.applied], corpus: entry.name };
}

/** HTTP header values are bytes: no client can send U+202E there, so such a value goes URL-encoded. */
const byteStringHeaders = (headers) =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, /[^\x00-\xff]/.test(value) ? encodeURIComponent(value) : value]));

async function send(url, fuzzCase) {
  const started = Date.now();
  try {
    const res = await fetch(`${url}${fuzzCase.path}`, {
      method: fuzzCase.method,
      headers: byteStringHeaders(fuzzCase.headers),
      body: fuzzCase.method === 'POST' ? fuzzCase.body : undefined,
      signal: AbortSignal.timeout(HANG_MS),
    });
    const body = Buffer.from(await res.arrayBuffer()).toString('utf8');
    return { status: res.status, body, ms: Date.now() - started };
  } catch (error) {
    const timedOut = error?.name === 'TimeoutError' || error?.cause?.name === 'TimeoutError';
    return { status: timedOut ? 'hang' : 'connection failed', body: String(error?.cause?.code ?? error?.message ?? error), ms: Date.now() - started };
  }
}

function check(fuzzCase, answer, secrets, seenKeys, handedOut) {
  const problems = [];
  if (answer.status === 'hang') return ['hang'];
  if (answer.status === 'connection failed') return ['connection failed'];
  if (answer.status >= 500) problems.push('unexpected 5xx');
  else if (answer.status >= 200 && answer.status < 300) {
    const malformed = wellFormedCpix(answer.body);
    if (malformed) problems.push(`malformed 2xx (${malformed})`);
    for (const key of keysIn(answer.body)) {
      if (key.length !== 16) continue; // content keys are 16 bytes (CENC); anything else is not one
      handedOut.add(key.toString('hex'));
      for (const form of [key.toString('hex'), key.toString('base64').replace(/=+$/, ''), key.toString('base64url')]) seenKeys.add(form);
    }
  } else if (answer.status >= 400) {
    if (answer.body.includes('<')) problems.push('markup in a 4xx body');
    if (echoes(answer.body, fuzzCase.body)) problems.push('request echoed in a 4xx body');
    for (const { name, forms } of secrets) if (forms.some((form) => answer.body.includes(form))) problems.push(`${name} in a 4xx body`);
    if (containsSeenKey(answer.body, seenKeys)) problems.push('key bytes in a 4xx body');
  } else problems.push(`status ${answer.status}`);
  return problems;
}

const increment = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
const table = (map) => Object.fromEntries([...map].sort((a, b) => b[1] - a[1]));

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm run fuzz does)`);
  const corpus = loadCorpus(options.shared);
  const dir = mkdtempSync(join(tmpdir(), 'cpix-kms-fuzz-'));
  const service = await startService(dir);
  let exitCode = 0;
  try {
    const credentials = await provision(service.url, service.adminToken);
    const secretOf = (name, value) => ({ name, forms: formsOf(value) });
    const secrets = [
      secretOf('KMS token', credentials.token),
      secretOf('KMS token secret', credentials.token.split('.').pop()),
      secretOf('second KMS token', credentials.otherToken),
      secretOf('license-server credential', credentials.licenseServer),
      secretOf('license-server credential secret', credentials.licenseServer.split('.').pop()),
      secretOf('access key', credentials.accessKey),
      secretOf('admin token', service.adminToken),
      secretOf('master key', service.masterKey),
      secretOf('master key bytes', Buffer.from(service.masterKey, 'base64')),
    ];
    const indexes = options.case === undefined ? Array.from({ length: options.count }, (_, i) => i) : [options.case];
    const rssStart = rssBytes([service.child.pid]);
    let crashed = false;
    service.child.once('exit', () => (crashed = true));

    const byRoute = new Map();
    const byStatus = new Map();
    const byMutator = new Map();
    const byProblem = new Map();
    const samples = [];
    const seenKeys = new Set();
    const handedOut = new Set();
    let next = 0;
    let done = 0;
    let slowest = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < indexes.length && !crashed) {
        const fuzzCase = buildCase(indexes[next++], options, corpus, credentials);
        const answer = await send(service.url, fuzzCase);
        slowest = Math.max(slowest, answer.ms);
        increment(byRoute, fuzzCase.route);
        increment(byStatus, String(answer.status));
        for (const name of fuzzCase.applied) increment(byMutator, name);
        const problems = check(fuzzCase, answer, secrets, seenKeys, handedOut);
        for (const problem of problems) increment(byProblem, problem.replace(/ \(.*$/, ''));
        if (problems.length > 0 && samples.length < MAX_FAILURE_SAMPLES) {
          const file = join(dir, `case-${fuzzCase.index}.bin`);
          writeFileSync(file, fuzzCase.body);
          samples.push({ case: fuzzCase.index, route: fuzzCase.route, corpus: fuzzCase.corpus, mutators: fuzzCase.applied.join(', '), status: answer.status, problems: problems.join('; '), answer: answer.body.slice(0, 160), body: file });
        }
        done += 1;
        if (options.count >= 20_000 && done % 10_000 === 0) process.stdout.write(`  ${done} cases, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
    const seconds = (Date.now() - started) / 1000;

    const health = crashed ? { status: 'process gone' } : await send(service.url, { method: 'GET', path: '/healthz', headers: {} });
    const rssEnd = rssBytes([service.child.pid]);
    const counts = {
      cases: done,
      seconds: Number(seconds.toFixed(1)),
      'cases/s': Math.round(done / seconds),
      '2xx': [...byStatus].filter(([s]) => /^2/.test(s)).reduce((n, [, c]) => n + c, 0),
      '4xx': [...byStatus].filter(([s]) => /^4/.test(s)).reduce((n, [, c]) => n + c, 0),
      crashes: crashed ? 1 : 0,
      hangs: byProblem.get('hang') ?? 0,
      'connection failures': byProblem.get('connection failed') ?? 0,
      'unexpected 5xx': byProblem.get('unexpected 5xx') ?? 0,
      'malformed 2xx': byProblem.get('malformed 2xx') ?? 0,
      leaks: [...byProblem].filter(([p]) => /in a 4xx body|echoed/.test(p)).reduce((n, [, c]) => n + c, 0),
      'distinct keys handed out': handedOut.size,
      'CPU s (service / fuzzer)': `${cpuSeconds([service.child.pid]).toFixed(1)} / ${(process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6).toFixed(1)}`,
      'slowest answer ms': slowest,
      'service RSS MiB (start → end)': `${(rssStart / 2 ** 20).toFixed(0)} → ${(rssEnd / 2 ** 20).toFixed(0)}`,
      '/healthz after the run': health.status,
    };
    process.stdout.write(`cpix-kms fuzz: seed ${options.seed}, ${corpus.length} corpus documents, concurrency ${options.concurrency}\n`);
    console.table(counts);
    console.log('answers by status:', table(byStatus));
    console.log('cases by route:', table(byRoute));
    console.log('mutators applied:', table(byMutator));
    if (byProblem.size > 0) console.log('property violations:', table(byProblem));
    if (samples.length > 0) {
      console.log(`first ${samples.length} failing cases (replay one with --seed ${options.seed} --case N):`);
      console.table(samples);
    }
    const failed = crashed || byProblem.size > 0 || health.status !== 200 || done !== indexes.length;
    if (crashed) console.log(`the service exited; its last output:\n${service.output().slice(-4000)}`);
    else if (failed) console.log(`the service's error lines:\n${service.output().split('\n').filter((line) => /"level":(50|60)/.test(line)).slice(0, 10).join('\n')}`);
    console.log(failed ? 'FUZZ FAILED' : 'fuzz passed: 0 crashes, 0 hangs, 0 unexpected 5xx, 0 malformed 2xx, 0 leaks');
    exitCode = failed ? 1 : 0;
    if (options.json) {
      const summary = { seed: options.seed, corpus: corpus.length, ...counts, byStatus: table(byStatus), byRoute: table(byRoute), byMutator: table(byMutator), violations: table(byProblem), samples, passed: !failed };
      writeFileSync(options.json, `${JSON.stringify(summary, null, 2)}\n`);
    }
    if (!failed) rmSync(dir, { recursive: true, force: true });
    else console.log(`failing request bodies kept in ${dir}`);
  } finally {
    if (service.child.exitCode === null) service.child.kill('SIGKILL');
  }
  process.exit(exitCode);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
