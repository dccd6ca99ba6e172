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

/** The AWS reference server and suite requests, read in place (vectors/speke/PROVENANCE.md). */
export const AWSLABS_ROOT = vectorPath('speke', 'awslabs-speke-reference-server');
export const awslabsPath = (file: string): string => join(AWSLABS_ROOT, file);
export const readAwslabs = (file: string): string => readFileSync(awslabsPath(file), 'utf8');

/** Every `.xml` below `AWSLABS_ROOT`, relative with `/`, sorted: the folder is walked, never listed by hand. */
export function awslabsRequestFiles(dir: string = AWSLABS_ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return awslabsRequestFiles(path);
      return entry.name.endsWith('.xml') ? [path] : [];
    })
    .map((path) => relative(AWSLABS_ROOT, path).split('\\').join('/'))
    .sort();
}

export type Credential = { readonly kind: 'bearer' | 'x-kms-token' | 'enc-token'; readonly token: string };

export interface SpekePost {
  readonly body: string | Buffer;
  /** `X-Speke-Version`; absent = SPEKE v1. */
  readonly version?: string;
  readonly token?: string;
  /** Header name to send the version under (default `X-Speke-Version`). */
  readonly versionHeader?: string;
  readonly path?: string;
}

/** One SPEKE POST over HTTP (supertest), bearer token by default. */
export function postSpeke(app: Express, post: SpekePost): request.Test {
  const req = request(app)
    .post(post.path ?? '/speke/v2.0/copyProtection')
    .set('Content-Type', 'application/xml')
    // Keep every body as bytes: errors are text/plain, responses application/xml.
    .buffer(true)
    .parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
    });
  if (post.token !== undefined) req.set('Authorization', `Bearer ${post.token}`);
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
 * The children of each `DRMSystem`, `systemId → sorted local names of the non-empty ones`; for
 * comparing which placeholders a response filled (element sets, not values).
 */
export function filledChildrenBySystem(xml: string): Record<string, string[]> {
  const root = parseDom(xml);
  const out: Record<string, string[]> = {};
  const systems = root.getElementsByTagNameNS(CPIX_NS, 'DRMSystem');
  for (let i = 0; i < systems.length; i += 1) {
    const system = systems.item(i);
    if (system === null) continue;
    const filled: string[] = [];
    for (let child = system.firstChild; child !== null; child = child.nextSibling) {
      if (child.nodeType === 1 && (child.textContent ?? '').trim() !== '') filled.push((child as ReturnType<typeof parseDom>).localName ?? '');
    }
    out[system.getAttribute('systemId') ?? ''] = filled.sort();
  }
  return out;
}

/** A fresh content ID, so a test's keys are created by that test. */
export function freshContentId(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}-${Date.now().toString(36)}`;
}

/** Replaces the root `contentId` of a v2 request (fails when there is none). */
export function withContentId(xml: string, contentId: string): string {
  if (!/\scontentId="[^"]*"/.test(xml)) throw new Error('request has no contentId');
  return xml.replace(/\scontentId="[^"]*"/, ` contentId="${contentId}"`);
}
