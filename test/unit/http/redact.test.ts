import { REDACTED, redactUrl } from '../../../src/http/redact';

const TOKEN = 'kms1.AbCdEfGhIjKlMnOp.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';
const LICENSE_CREDENTIAL = 'lsc1.AbCdEfGhIjKlMnOp.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';
const LEGACY = Buffer.from('{"site_id":"DEMO","access_key":"dsIolc7h1G8Tabcdefghijklmnopqrstuvwxyz"}').toString('base64');

describe('redactUrl', () => {
  it.each([
    ['PallyCon v2 path', `/v2/cpix/pallycon/getKey/${TOKEN}`, `/v2/cpix/pallycon/getKey/${REDACTED}`],
    ['DoveRunner path with rotation', `/v2/cpix/doverunner/getKey/${TOKEN}?key-rotation=true`, `/v2/cpix/doverunner/getKey/${REDACTED}?key-rotation=true`],
    ['legacy path, legacy token', `/cpix/pallycon/getKey/${encodeURIComponent(LEGACY)}`, `/cpix/pallycon/getKey/${REDACTED}`],
    ['a short value after getKey', '/v1/cpix/pallycon/getKey/abc', `/v1/cpix/pallycon/getKey/${REDACTED}`],
    ['SPEKE query token', `/cpix/getKey?enc-token=${TOKEN}`, `/cpix/getKey?enc-token=${REDACTED}`],
    ['query token among others', `/speke/copyProtection?a=1&enc-token=${TOKEN}&b=2`, `/speke/copyProtection?a=1&enc-token=${REDACTED}&b=2`],
    ['URL-encoded parameter name', `/x?enc%2Dtoken=${TOKEN}`, `/x?enc%2Dtoken=${REDACTED}`],
    ['a token anywhere in a path', `/whatever/${TOKEN}/more`, `/whatever/${REDACTED}/more`],
    ['a license-server credential anywhere in a path', `/whatever/${LICENSE_CREDENTIAL}/more`, `/whatever/${REDACTED}/more`],
    ['no secrets', '/admin/v1/sites/ABCD/contents/movie-1/keys', '/admin/v1/sites/ABCD/contents/movie-1/keys'],
  ])('redacts %s', (_name, url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});
