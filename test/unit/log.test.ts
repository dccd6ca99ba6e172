import { captureLogs } from '../support/log-capture';

/**
 * The logger's redaction is the second line of defence (request logging never passes headers): if a
 * header object ever reaches a log line, wherever it sits, its credentials do not.
 */
describe('logger redaction of credential headers', () => {
  const TOKEN = 'kms1.AbCdEfGhIjKlMnOp.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';
  const headers = { authorization: `Bearer ${TOKEN}`, 'x-kms-token': TOKEN, cookie: `s=${TOKEN}`, accept: 'application/xml' };

  it.each([
    ['top-level headers', { headers }],
    ['request headers', { req: { headers } }],
    ['headers of an error', { err: { headers } }],
    ['credential fields', { call: { authorization: `Bearer ${TOKEN}`, 'x-kms-token': TOKEN, 'enc-token': TOKEN } }],
  ])('redacts %s', (_name, object) => {
    const logs = captureLogs();
    logs.logger.info(object, 'line');
    expect(logs.text()).not.toContain(TOKEN.slice(-20));
    expect(logs.text()).toContain('[redacted]');
  });

  it('keeps harmless headers', () => {
    const logs = captureLogs();
    logs.logger.info({ headers }, 'line');
    expect(JSON.parse(logs.lines[0] ?? '{}').headers.accept).toBe('application/xml');
  });
});
