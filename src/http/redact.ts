/**
 * URLs as they may appear in logs. PallyCon clients put the KMS token in the path
 * (`/v2/cpix/pallycon/getKey/<token>`) and SPEKE clients in the query (`?enc-token=`), so both are
 * replaced before a URL is logged.
 */
const SECRET_QUERY_PARAMS = new Set(['enc-token', 'token', 'kms-token', 'access_key', 'access-key']);
/** Path segments that follow these segments are credentials. */
const SECRET_AFTER_SEGMENT = new Set(['getkey']);
/**
 * Anything long and token-shaped is redacted wherever it stands: our KMS tokens and license-server
 * credentials (`kms1.…`, `lsc1.…`, whose dots keep them out of the second branch) and legacy base64 tokens.
 */
const TOKEN_SHAPED = /^((kms1|lsc1)\..*|[A-Za-z0-9+/_=%-]{32,})$/;

export const REDACTED = '[redacted]';

export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  const segments = path.split('/');
  const redactedPath = segments
    .map((segment, i) => {
      const previous = segments[i - 1]?.toLowerCase();
      return (previous !== undefined && SECRET_AFTER_SEGMENT.has(previous)) || TOKEN_SHAPED.test(segment)
        ? REDACTED
        : segment;
    })
    .join('/');
  if (queryStart === -1) return redactedPath;
  const query = url
    .slice(queryStart + 1)
    .split('&')
    .map((pair) => {
      const name = pair.split('=')[0] ?? '';
      return SECRET_QUERY_PARAMS.has(decodeURIComponentSafe(name).toLowerCase()) ? `${name}=${REDACTED}` : pair;
    })
    .join('&');
  return `${redactedPath}?${query}`;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
