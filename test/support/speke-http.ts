import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import type { ContentKey, CpixDocument } from '../../src/cpix/model';
import { parseCpixDocument } from '../../src/cpix/parse';
import { parseDom } from './dom-to-tree';
import { vectorPath } from './shared-vectors';

/**
 * Shared pieces of the SPEKE component tests (test/component/speke-*.test.ts): sending a request
 * over HTTP to the real app, and reading a response the way an encryptor would.
 */

export const CPIX_NS = 'urn:dashif:org:cpix';
export const PSKC_NS = 'urn:ietf:params:xml:ns:keyprov:pskc';
export const SPEKE_NS = 'urn:aws:amazon:com:speke';

/** The awslabs/speke-reference-server requests and its v2 suite's, read in place. */
export const AWSLABS_ROOT = vectorPath('speke', 'awslabs-speke-reference-server');
export const awslabsPath = (file: string): string => join(AWSLABS_ROOT, file);
export const readAwslabs = (file: string): string => readFileSync(awslabsPath(file), 'utf8');

/** Every `.xml` below `AWSLABS_ROOT`, relative with `/`, sorted: the folder is walked, never listed by hand. */
export function awslabsRequestFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return walk(path);
      return entry.name.endsWith('.xml') ? [path] : [];
    });
  return walk(AWSLABS_ROOT)
    .map((path) => relative(AWSLABS_ROOT, path).split('\\').join('/'))
    .sort();
}

export interface SpekePost {
  readonly body: string | Buffer;
  /** `X-Speke-Version`; absent = SPEKE v1. */
  readonly version?: string;
  readonly token?: string;
  /** Where the token goes (default an `Authorization: Bearer` header). */
  readonly tokenIn?: 'bearer' | 'x-kms-token' | 'enc-token';
  /** Header name to send the version under (default `X-Speke-Version`). */
  readonly versionHeader?: string;
  readonly path?: string;
}

/** One SPEKE POST over HTTP (supertest), bearer token by default. */
export function postSpeke(app: Express, post: SpekePost): request.Test {
  const req = request(app)
    .post(post.path ?? '/speke/v2.0/copyProtection')
    .set('Content-Type', 'application/xml')
    // Every body as text, whatever its type: errors are text/plain, responses application/xml.
    .buffer(true)
    .parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
    });
  if (post.token !== undefined) {
    const where = post.tokenIn ?? 'bearer';
    if (where === 'bearer') req.set('Authorization', `Bearer ${post.token}`);
    else if (where === 'x-kms-token') req.set('X-KMS-Token', post.token);
    else req.query({ 'enc-token': post.token });
  }
  if (post.version !== undefined) req.set(post.versionHeader ?? 'X-Speke-Version', post.version);
  return req.send(typeof post.body === 'string' ? Buffer.from(post.body, 'utf8') : post.body);
}

/** The response body as text (set by `postSpeke`'s parser). */
export function bodyText(res: request.Response): string {
  if (typeof res.body !== 'string') throw new Error('postSpeke keeps bodies as text');
  return res.body;
}

/** A parsed response (reference checks on: the echo must still be internally consistent). */
export function parseResponse(res: request.Response): CpixDocument {
  return parseCpixDocument(bodyText(res));
}

export function contentKeys(doc: CpixDocument): readonly ContentKey[] {
  return doc.contentKeyList?.items ?? [];
}

/** `kid → base64 key` of a response's plain keys (fails on an encrypted or missing value). */
export function plainKeys(doc: CpixDocument): Record<string, string> {
  return Object.fromEntries(
    contentKeys(doc).map((key) => {
      if (key.data?.kind !== 'plain') throw new Error(`ContentKey ${key.kid} has no PlainValue`);
      return [key.kid.toLowerCase(), key.data.value.toString('base64')];
    }),
  );
}

/** `kid → base64 explicitIV` (or null when absent). */
export function explicitIvs(doc: CpixDocument): Record<string, string | null> {
  return Object.fromEntries(contentKeys(doc).map((key) => [key.kid.toLowerCase(), key.explicitIV?.toString('base64') ?? null]));
}

/** Namespace declarations on the root element, `prefix → URI`, read with an independent parser (xmldom). */
export function rootDeclarations(xml: string): Record<string, string> {
  const root = parseDom(xml);
  const out: Record<string, string> = {};
  for (let i = 0; i < root.attributes.length; i += 1) {
    const attribute = root.attributes.item(i);
    if (attribute === null) continue;
    if (attribute.name === 'xmlns') out[''] = attribute.value;
    else if (attribute.name.startsWith('xmlns:')) out[attribute.name.slice('xmlns:'.length)] = attribute.value;
  }
  return out;
}

/** Root attributes other than namespace declarations, `name → value`. */
export function rootAttributes(xml: string): Record<string, string> {
  const root = parseDom(xml);
  const out: Record<string, string> = {};
  for (let i = 0; i < root.attributes.length; i += 1) {
    const attribute = root.attributes.item(i);
    if (attribute !== null && attribute.name !== 'xmlns' && !attribute.name.startsWith('xmlns:')) out[attribute.name] = attribute.value;
  }
  return out;
}

/** Every element of a document as `{namespace}localName`, document order. */
export function elementNames(xml: string): string[] {
  const names: string[] = [];
  const walk = (element: ReturnType<typeof parseDom>): void => {
    names.push(`{${element.namespaceURI ?? ''}}${element.localName ?? element.tagName}`);
    for (let child = element.firstChild; child !== null; child = child.nextSibling) {
      if (child.nodeType === 1) walk(child as ReturnType<typeof parseDom>);
    }
  };
  walk(parseDom(xml));
  return names;
}

/**
 * The filled children of each `DRMSystem`, `systemId → sorted childKey()s of the non-empty ones`; for
 * comparing which placeholders a response filled (element sets, not values).
 */
export function filledChildrenBySystem(xml: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const system of cpixElements(parseDom(xml), 'DRMSystem')) {
    const filled = childElements(system).filter((child) => (child.textContent ?? '').trim() !== '');
    out[system.getAttribute('systemId') ?? ''] = filled.map(childKey).sort();
  }
  return out;
}

/** A fresh content ID, so a test's keys are created by that test. */
export function freshContentId(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}-${Date.now().toString(36)}`;
}

/** Replaces the root `contentId` (v2) or `id` (v1) of a request; fails when the root has none. */
export function withContentId(xml: string, contentId: string, attribute: 'contentId' | 'id' = 'contentId'): string {
  const pattern = new RegExp(`(<cpix:CPIX\\b[^>]*?\\s${attribute}=")[^"]*"`);
  if (!pattern.test(xml)) throw new Error(`request root has no ${attribute}`);
  return xml.replace(pattern, `$1${contentId}"`);
}

type DomElement = ReturnType<typeof parseDom>;

/** Element children of `element`, document order. */
export function childElements(element: DomElement): DomElement[] {
  const out: DomElement[] = [];
  for (let child = element.firstChild; child !== null; child = child.nextSibling) {
    if (child.nodeType === 1) out.push(child as DomElement);
  }
  return out;
}

/** Every element named `{CPIX_NS}localName` below `root`, document order. */
export function cpixElements(root: DomElement, localName: string): DomElement[] {
  const list = root.getElementsByTagNameNS(CPIX_NS, localName);
  const out: DomElement[] = [];
  for (let i = 0; i < list.length; i += 1) {
    const item = list.item(i);
    if (item !== null) out.push(item);
  }
  return out;
}

/** `{namespace}localName` of an element, with `@playlist` when it has one (two HLSSignalingData differ only by it). */
export function childKey(element: DomElement): string {
  const playlist = element.getAttribute('playlist');
  return `{${element.namespaceURI ?? ''}}${element.localName ?? ''}${playlist ? `[playlist=${playlist}]` : ''}`;
}

export { parseDom };
