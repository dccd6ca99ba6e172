import { X509Certificate } from 'node:crypto';
import * as DevSigning from '../../../src/dev-signing';
import { certificateSerialHex, createSelfSignedIdentityPem, signingConfigFromPem } from '../../../src/dev-signing';
import { thrownBy } from '../../support/errors';

/**
 * The development/test signing certificate must be valid DER whatever the random serial bytes are:
 * a "00"-prefixed serial was refused by OpenSSL ("illegal padding") when the bytes began with 00
 * and a byte below 0x80.
 */
describe('self-signed identity serial numbers', () => {
  it.each([
    ['all zero', Buffer.alloc(16)],
    ['00 01 … (the case that broke)', Buffer.concat([Buffer.from([0x00, 0x01]), Buffer.alloc(14, 0x22)])],
    ['all ones', Buffer.alloc(16, 0xff)],
  ])('%s → a positive 16-octet serial that OpenSSL parses', (_name, random) => {
    const hex = certificateSerialHex(random);
    expect(hex).toMatch(/^[4-7][0-9a-f]{31}$/);
    const pem = createSelfSignedIdentityPem('serial test', random);
    const certificate = new X509Certificate(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0] ?? '');
    expect(certificate.serialNumber.toLowerCase()).toBe(hex);
  });
});

/**
 * node-forge is a development dependency (decision 71): the container image does not install it, so
 * nothing but making a development certificate may load it.
 */
describe('node-forge is loaded only to make a development certificate', () => {
  /** `run` on dev-signing in a fresh module registry where loading node-forge throws `failure`. */
  const withoutForge = (failure: Error, run: (devSigning: typeof DevSigning) => void): void => {
    jest.isolateModules(() => {
      jest.doMock('node-forge', () => {
        throw failure;
      });
      // The two modules that import dev-signing, with everything they import in turn.
      jest.requireActual('../../../src/service');
      jest.requireActual('../../../src/workers');
      run(jest.requireActual('../../../src/dev-signing'));
    });
  };
  afterEach(() => jest.dontMock('node-forge'));

  it('is not loaded by the service modules, nor by a configured signing identity', () => {
    const identity = signingConfigFromPem(createSelfSignedIdentityPem('configured'), 'configured');
    withoutForge(new Error('node-forge was loaded'), (devSigning) => {
      expect(devSigning.resolveSigningIdentity({ kind: 'configured', value: identity })).toEqual({ value: identity });
    });
  });

  it('when it is not installed, a development certificate is a configuration error naming the settings', () => {
    const missing = Object.assign(new Error("Cannot find module 'node-forge'"), { code: 'MODULE_NOT_FOUND' });
    withoutForge(missing, (devSigning) => {
      const thrown = thrownBy(() => devSigning.createSelfSignedIdentityPem());
      // Compared by code: the fresh registry has its own ConfigError class.
      expect(thrown).toMatchObject({ code: 'ERR_CONFIG_INVALID', cause: missing });
      expect((thrown as Error).message).toMatch(/SIGNING_KEY_FILE, SIGNING_CERT_FILE, EXPORT_SIGNING_KEY_FILE and EXPORT_SIGNING_CERT_FILE/);
    });
  });

  it('lets any other failure to load it through unchanged', () => {
    const broken = new Error('node-forge failed to initialise');
    withoutForge(broken, (devSigning) => {
      expect(() => devSigning.createSelfSignedIdentityPem()).toThrow(broken);
    });
  });
});
