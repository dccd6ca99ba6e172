import { DOMParser, type Element } from '@xmldom/xmldom';

import {
  buildPlayReadyContentProtectionFragment,
  buildPsshContentProtectionFragment,
  CENC_NAMESPACE,
  MSPR_NAMESPACE,
} from '../../../src/drm/dash';
import { buildPlayReadyObject, buildPlayReadyPsshBox, buildWrmHeader } from '../../../src/drm/playready';
import { buildWidevinePsshBox, encodeWidevinePsshData } from '../../../src/drm/widevine';

/** Parses a fragment the way the SPEKE v2 suite does: wrapped in a neutral root, standalone, namespace-aware. */
function parseFragment(fragment: string): Element[] {
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (level, message) => { if (level !== 'warning') errors.push(message); } }).parseFromString(
    `<cpd>${fragment}</cpd>`,
    'text/xml',
  );
  expect(errors).toEqual([]);
  const root = doc.documentElement!;
  const children: Element[] = [];
  for (let node = root.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType === node.ELEMENT_NODE) children.push(node as Element);
  }
  return children;
}

describe('DASH ContentProtectionData fragments (DASH-IF CPIX 2.3 §5.2.7)', () => {
  const wvBox = buildWidevinePsshBox(encodeWidevinePsshData({ keyIds: [Buffer.alloc(16, 1)], provider: 'p' }));
  const pro = buildPlayReadyObject(buildWrmHeader({ version: '4.3.0.0', keys: [{ keyId: Buffer.alloc(16, 1), contentKey: Buffer.alloc(16, 2) }] }));
  const prBox = buildPlayReadyPsshBox(pro);

  it('Widevine: one cenc:pssh element that declares its namespace; text = cpix:PSSH', () => {
    const fragment = buildPsshContentProtectionFragment(wvBox);
    expect(fragment).toBe(`<cenc:pssh xmlns:cenc="urn:mpeg:cenc:2013">${wvBox.toString('base64')}</cenc:pssh>`);
    const [pssh, ...rest] = parseFragment(fragment);
    expect(rest).toEqual([]);
    expect(pssh!.namespaceURI).toBe(CENC_NAMESPACE);
    expect(pssh!.localName).toBe('pssh');
    expect(pssh!.textContent).toBe(wvBox.toString('base64'));
  });

  it('PlayReady: cenc:pssh (the whole box) then mspr:pro (the PRO), each declaring its namespace', () => {
    const elements = parseFragment(buildPlayReadyContentProtectionFragment(prBox, pro));
    expect(elements.map((e) => [e.namespaceURI, e.localName])).toEqual([
      [CENC_NAMESPACE, 'pssh'],
      [MSPR_NAMESPACE, 'pro'],
    ]);
    expect(elements[0]!.textContent).toBe(prBox.toString('base64'));
    expect(elements[1]!.textContent).toBe(pro.toString('base64'));
  });
});
