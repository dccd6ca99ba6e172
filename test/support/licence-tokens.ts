import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import request from 'supertest';
import type { Express } from 'express';

/**
 * Licence tokens as a customer's backend makes them (docs/clearkey.md), signed with panva's `jose`;
 * and, for hostile cases, compact JWS assembled by hand (alg none, alg confusion, odd headers).
 */

export interface TokenClaims {
  readonly iss: string;
  readonly sub?: string;
  readonly cid?: string;
  readonly exp?: number;
  readonly iat?: number;
  readonly nbf?: number;
  readonly kids?: readonly string[];
  readonly [claim: string]: unknown;
}

export type SigningKey = { readonly alg: 'HS256'; readonly kid: string; readonly secret: Buffer } | { readonly alg: 'ES256' | 'RS256'; readonly kid: string; readonly privateKey: KeyObject };

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Seconds since the epoch of `date`. */
export const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** A token signed by `key` with jose, `kid` in its header. */
export async function mintToken(key: SigningKey, claims: TokenClaims, header: Record<string, unknown> = {}): Promise<string> {
  const jwt = new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header });
  return jwt.sign(key.alg === 'HS256' ? key.secret : key.privateKey);
}

/** A compact JWS with any header, HMAC-SHA256-signed with any bytes (for alg confusion and odd headers). */
export function hmacToken(header: Record<string, unknown>, claims: TokenClaims, secret: Buffer | string): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** An unsecured JWS (RFC 7515 `alg: none`, empty signature). */
export function unsecuredToken(header: Record<string, unknown>, claims: TokenClaims): string {
  return `${b64({ alg: 'none', ...header })}.${b64(claims)}.`;
}

export function ecKeyPair() {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export function rsaKeyPair(bits = 2048) {
  return generateKeyPairSync('rsa', { modulusLength: bits });
}

/** Registers a licence-token key through the admin API and returns what signs with it. */
export async function registerTokenKey(app: Express, adminToken: string, siteId: string, alg: 'HS256' | 'ES256' | 'RS256'): Promise<SigningKey> {
  const path = `/admin/v1/sites/${siteId}/licence-token-keys`;
  if (alg === 'HS256') {
    const res = await request(app).post(path).set('Authorization', `Bearer ${adminToken}`).send({ alg });
    if (res.status !== 201) throw new Error(`register HS256: ${res.status} ${res.text}`);
    const body = res.body as { kid: string; secret: string };
    return { alg, kid: body.kid, secret: Buffer.from(body.secret, 'base64url') };
  }
  const pair = alg === 'ES256' ? ecKeyPair() : rsaKeyPair();
  const res = await request(app).post(path).set('Authorization', `Bearer ${adminToken}`).send({ alg, jwk: pair.publicKey.export({ format: 'jwk' }) });
  if (res.status !== 201) throw new Error(`register ${alg}: ${res.status} ${res.text}`);
  return { alg, kid: (res.body as { kid: string }).kid, privateKey: pair.privateKey };
}

/** The ClearKey KID form (base64url of the 16 bytes) of a UUID. */
export const b64Kid = (uuid: string) => Buffer.from(uuid.replace(/-/g, ''), 'hex').toString('base64url');
