/**
 * The AWS SPEKE v2 suite's negative cases (`test_negative_cases.py` in awslabs/speke-reference-server):
 * an empty body, and a suite request with a mandatory element or attribute removed, must not get a 200.
 * The suite does not check the body; we pin which layer refuses each one (the parser's `CpixInvalid` or
 * a SPEKE v2 `SpekeRejected`, through the route's intake, see outcomeOf) and that its status is a 4xx.
 * Requests are suite-generated files read in place, live (with a key period) and VOD (without).
 */

import { readFileSync } from 'node:fs';
import { describeWithVectors, vectorPath } from '../../support/shared-vectors';
import { accepted, mutate, outcomeOf, parserInvalid, rejected, type Outcome } from './speke-validate-support';

const REQUESTS = {
  live: vectorPath('speke', 'awslabs-speke-reference-server', 'generated', 'live', 'test_case_2_p_v_3_a_2', '7_widevine_playready_fairplay.xml'),
  vod: vectorPath('speke', 'awslabs-speke-reference-server', 'generated', 'vod', 'test_case_4_p_v_8_a_2', '4_widevine_playready.xml'),
};

const MALFORMED = rejected('Malformed encryption contract');
const MISSING_CONTRACT = rejected('Missing CPIX encryption contract');

type Scope = 'first' | 'every';

interface Mutation {
  readonly pattern: RegExp;
  readonly replacement: string;
  /** Elements go all at once (the suite's "remove all"); an attribute goes from one element or all. */
  readonly scopes: readonly Scope[];
}

/** Whole elements as the suite files spell them; `(\s…)?>` keeps `DRMSystem` from matching `DRMSystemList`. */
const removeElements = (name: string): Mutation => ({
  pattern: new RegExp(`<cpix:${name}(\\s[^>]*)?>[\\s\\S]*?</cpix:${name}>`),
  replacement: '',
  scopes: ['every'],
});
/** The suite's ContentKeys are self-closing. */
const REMOVE_CONTENT_KEYS: Mutation = { pattern: /<cpix:ContentKey\s[^>]*\/>/, replacement: '', scopes: ['every'] };
const removeAttribute = (element: string, name: string): Mutation => ({
  pattern: new RegExp(`(<cpix:${element}(?:\\s[^>]*?)?)\\s${name}="[^"]*"`),
  replacement: '$1',
  scopes: ['first', 'every'],
});

/** What we answer without each part; `firstKid` is the request's first ContentKey@kid. */
const REMOVALS: readonly { readonly name: string; readonly mutation: Mutation; readonly expected: (firstKid: string) => Outcome }[] = [
  { name: 'ContentKeyList', mutation: removeElements('ContentKeyList'), expected: () => MALFORMED },
  { name: 'DRMSystemList', mutation: removeElements('DRMSystemList'), expected: () => MALFORMED },
  { name: 'ContentKeyUsageRuleList', mutation: removeElements('ContentKeyUsageRuleList'), expected: () => MISSING_CONTRACT },
  { name: 'every ContentKey', mutation: REMOVE_CONTENT_KEYS, expected: () => MALFORMED },
  // A missing kid or systemId is a syntax error of the element itself: the parser's CpixInvalid.
  { name: 'every DRMSystem', mutation: removeElements('DRMSystem'), expected: () => MALFORMED },
  { name: 'every ContentKeyUsageRule', mutation: removeElements('ContentKeyUsageRule'), expected: () => MISSING_CONTRACT },
  { name: 'ContentKey@kid', mutation: removeAttribute('ContentKey', 'kid'), expected: () => parserInvalid },
  {
    name: 'ContentKey@commonEncryptionScheme',
    mutation: removeAttribute('ContentKey', 'commonEncryptionScheme'),
    expected: (kid) => rejected(`Missing ContentKey@commonEncryptionScheme for KID ${kid}`),
  },
  { name: 'DRMSystem@kid', mutation: removeAttribute('DRMSystem', 'kid'), expected: () => parserInvalid },
  { name: 'DRMSystem@systemId', mutation: removeAttribute('DRMSystem', 'systemId'), expected: () => parserInvalid },
  { name: 'ContentKeyUsageRule@kid', mutation: removeAttribute('ContentKeyUsageRule', 'kid'), expected: () => parserInvalid },
  { name: 'ContentKeyUsageRule@intendedTrackType', mutation: removeAttribute('ContentKeyUsageRule', 'intendedTrackType'), expected: () => MALFORMED },
];

const is4xx = (outcome: Outcome): boolean => outcome.kind !== 'accepted' && outcome.status >= 400 && outcome.status < 500;

it('refuses an empty body with a 4xx', () => {
  const outcome = outcomeOf('');
  expect(outcome).toEqual(parserInvalid);
  expect(is4xx(outcome)).toBe(true);
});

describeWithVectors.each(Object.entries(REQUESTS))('suite removals on the %s request', (_mode, path) => {
  const xml = readFileSync(path, 'utf8');
  const firstKid = /<cpix:ContentKey\s[^>]*kid="([^"]+)"/.exec(xml)?.[1] ?? '';

  it('starts from a request we accept', () => {
    expect(outcomeOf(xml)).toEqual(accepted);
  });

  const cases = REMOVALS.flatMap((removal) => removal.mutation.scopes.map((scope) => ({ ...removal, scope })));
  it.each(cases)('refuses the request without $name ($scope)', ({ mutation, scope, expected }) => {
    const outcome = outcomeOf(mutate(xml, mutation.pattern, mutation.replacement, scope));
    expect(outcome).toEqual(expected(firstKid));
    expect(is4xx(outcome)).toBe(true);
  });
});
