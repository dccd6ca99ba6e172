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

describe('redactUrl: every credential form, wherever it stands', () => {
  const SECRET = TOKEN.slice(TOKEN.lastIndexOf('.') + 1);
  it.each([
    ['a token inside a path segment', `/status/token:${TOKEN}/x`, `/status/${REDACTED}/x`],
    ['a token in an unknown query parameter', `/speke/copyProtection?next=${TOKEN}`, `/speke/copyProtection?next=${REDACTED}`],
    ['the secret part alone in a query value', `/x?a=${SECRET}`, `/x?a=${REDACTED}`],
    ['a bracketed enc-token', `/speke/copyProtection?enc-token[a]=short`, `/speke/copyProtection?enc-token[a]=${REDACTED}`],
    ['a percent-encoded bracketed enc-token', `/speke/copyProtection?enc-token%5Ba%5D=short`, `/speke/copyProtection?enc-token%5Ba%5D=${REDACTED}`],
    ['both copies of a repeated enc-token', '/cpix/getKey?enc-token=a&enc-token=b', `/cpix/getKey?enc-token=${REDACTED}&enc-token=${REDACTED}`],
    ['credential-named parameters with short values', '/x?client_secret=s&api-key=k&access_token=t&password=p&Authorization=Bearer%20x&sig=z', `/x?client_secret=${REDACTED}&api-key=${REDACTED}&access_token=${REDACTED}&password=${REDACTED}&Authorization=${REDACTED}&sig=${REDACTED}`],
    ['a token as a parameter name', `/x?${TOKEN}`, `/x?${REDACTED}`],
    ['a token in the fragment', `/x#${TOKEN}`, `/x#${REDACTED}`],
    ['a legacy token split by a raw slash after getKey', `/cpix/pallycon/getKey/${LEGACY.slice(0, 20)}/${LEGACY.slice(20, 40)}/${LEGACY.slice(40)}`, `/cpix/pallycon/getKey/${REDACTED}/${REDACTED}/${REDACTED}`],
    ['a percent-encoded getKey', `/v2/cpix/pallycon/get%4Bey/abc`, `/v2/cpix/pallycon/get%4Bey/${REDACTED}`],
    ['a percent-encoded token with other text', `/x/id%3D${encodeURIComponent(TOKEN)}`, `/x/${REDACTED}`],
    ['a double-encoded token with other text', `/x/${encodeURIComponent(encodeURIComponent(`id=${TOKEN}`))}`, `/x/${REDACTED}`],
    ['text encoded deeper than it is decoded', '/x/%252525252541', `/x/${REDACTED}`],
    ['nothing of harmless parameters', '/v2/cpix/doverunner/getKey/abc?key-rotation=true&kid=0f1e&period=3', `/v2/cpix/doverunner/getKey/${REDACTED}?key-rotation=true&kid=0f1e&period=3`],
  ])('redacts %s', (_name, url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});
