/**
 * URLs as they may appear in logs. Credentials travel in URLs: PallyCon clients put the KMS token in
 * the path (`/v2/cpix/pallycon/getKey/<token>`), SPEKE clients in the query (`?enc-token=`), and a
 * confused client anywhere else. So a URL is logged only after every credential form is replaced,
 * whatever route it was meant for (unknown paths are logged too) and however it is percent-encoded.
 */

export const REDACTED = '[redacted]';

/**
 * Query parameter names that carry a credential, matched after percent-decoding, lower-casing,
 * dropping a bracket suffix (`enc-token[a]`) and everything but letters and digits: `enc-token`,
 * `token`, `access_key`, `api-key`, `client_secret`, `password`, `Authorization`, `X-KMS-Token`…
 */
const CREDENTIAL_PARAMETER = /(token|secret|passw(or)?d|credential|auth|accesskey|apikey|privatekey|signature|session)|^(key|sig|pwd)$/;
/** Path segments after one of these (decoded, lower-cased) are credentials: `…/getKey/<token>`. */
const SECRET_AFTER_SEGMENT = new Set(['getkey']);
/**
 * Text that holds something token-shaped: one of our credentials (`kms1.…`, `lsc1.…`) or a run of 32
 * or more base64/base64url characters (a credential's secret part, an access key, an admin token, a
 * legacy PallyCon token). The run also catches long harmless IDs (a UUID): over-redacting a log line
 * costs nothing, under-redacting leaks a secret.
 */
const TOKEN_SHAPED = /(kms1|lsc1)\.|[A-Za-z0-9+/_=-]{32,}/;
/** Percent-decoding rounds tried: a double-encoded token (`%252E`) is still found, a deeper one is redacted unread. */
const MAX_DECODINGS = 3;

/** `text` and its percent-decodings, innermost last; undefined when it is still encoded after MAX_DECODINGS. */
function decodings(text: string): string[] | undefined {
  const forms = [text];
  let current = text;
  for (let i = 0; i < MAX_DECODINGS; i += 1) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(current.replace(/\+/g, ' '));
    } catch {
      return forms; // not valid percent-encoding: what is there is what a reader sees
    }
    if (decoded === current) return forms;
    forms.push(decoded);
    current = decoded;
  }
  return /%[0-9A-Fa-f]{2}/.test(current) ? undefined : forms;
}

/** True when `text`, raw or decoded, holds something token-shaped (or is encoded too deep to tell). */
function holdsSecret(text: string): boolean {
  const forms = decodings(text);
  return forms === undefined || forms.some((form) => TOKEN_SHAPED.test(form));
}

function isCredentialParameter(name: string): boolean {
  const forms = decodings(name) ?? [name];
  return forms.some((form) => CREDENTIAL_PARAMETER.test(form.replace(/\[.*$/s, '').toLowerCase().replace(/[^a-z0-9]/g, '')));
}

function redactPath(path: string): string {
  let afterSecretSegment = false;
  return path
    .split('/')
    .map((segment) => {
      // Everything after `getKey` is the token: a raw `/` in a legacy token splits it over segments.
      if (afterSecretSegment) return segment === '' ? segment : REDACTED;
      const lower = (decodings(segment) ?? [segment]).map((form) => form.toLowerCase());
      if (lower.some((form) => SECRET_AFTER_SEGMENT.has(form))) afterSecretSegment = true;
      return holdsSecret(segment) ? REDACTED : segment;
    })
    .join('/');
}

function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals === -1 ? pair : pair.slice(0, equals);
      if (holdsSecret(name)) return REDACTED;
      if (equals === -1) return pair;
      return isCredentialParameter(name) || holdsSecret(pair.slice(equals + 1)) ? `${name}=${REDACTED}` : pair;
    })
    .join('&');
}

export function redactUrl(url: string): string {
  // A fragment is never meaningful to the server; a raw client can still send one.
  const hash = url.indexOf('#');
  const fragment = hash === -1 ? '' : `#${REDACTED}`;
  const target = hash === -1 ? url : url.slice(0, hash);
  const queryStart = target.indexOf('?');
  if (queryStart === -1) return redactPath(target) + fragment;
  return `${redactPath(target.slice(0, queryStart))}?${redactQuery(target.slice(queryStart + 1))}${fragment}`;
}
