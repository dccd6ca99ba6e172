import { randomUUID } from 'node:crypto';
import { DOMParser, type Element as DomElement } from '@xmldom/xmldom';
import { NS } from './pallycon-cpix';

/**
 * The official DoveRunner / PallyCon CPIX API clients (github.com/doverunner/cpix-api-client v1.6.0,
 * Python `cpix_client.py` and Java `DoveRunnerCpixClient.java`), emulated for the test suite: the
 * request each builds, byte for byte where it matters, and how each reads the answer — element by
 * element, where the Java client dereferences without null checks and the Python client crashes on
 * an empty element. The real clients are run beside the service before a protocol change lands; this
 * module keeps what they need from regressing in between.
 */

export type DoveRunnerClient = 'python' | 'java';

/** The clients' `DrmType` flags, in their enum order, with the system IDs they send (upper case). */
export const DRM_TYPES = {
  WIDEVINE: 'EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED',
  PLAYREADY: '9A04F079-9840-4286-AB92-E65BE0885F95',
  FAIRPLAY: '94CE86FB-07FF-4F43-ADB8-93D2FA968CA2',
  WISEPLAY: '3D5E6D35-9B9A-41E8-B843-DD3C6E72C42C',
  NCG: 'D9E4411A-E886-4909-A380-A77F28D52335',
  NCGHLS_AES128: '81376844-F976-481E-A84E-CC25D39B0B33',
  NCGHLS_SAMPLEAES: '48582A1D-1FF4-426E-8CD5-06424FCC578C',
  AES128: '3EA8778F-7742-4BF9-B18B-E834B2ACBD47',
  SAMPLEAES: 'BE58615B-19C4-4684-88B3-C8C57E99E957',
} as const;
export type DrmType = keyof typeof DRM_TYPES;
const DRM_TYPE_ORDER = Object.keys(DRM_TYPES) as DrmType[];

/** The clients' `TrackType` flags in enum order; `ALL_TRACKS` asks for one key labelled `HD`. */
export const TRACK_TYPES = ['AUDIO', 'SD', 'HD', 'UHD1', 'UHD2'] as const;
export type TrackType = (typeof TRACK_TYPES)[number];

/** `EncryptionScheme`: `NONE` sends no `commonEncryptionScheme`. */
export type EncryptionScheme = 'NONE' | 'CENC' | 'CBC1' | 'CENS' | 'CBCS';

export interface ClientRequest {
  readonly contentId: string;
  readonly drmTypes: readonly DrmType[];
  readonly scheme: EncryptionScheme;
  /** `ALL_TRACKS`, or the requested track types. */
  readonly tracks: 'ALL_TRACKS' | readonly TrackType[];
  /** `period_index`: above 0 adds a ContentKeyPeriod per key (the URL must then carry `?key-rotation=true`). */
  readonly periodIndex: number;
}

const escapeAttribute = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

function element(name: string, attributes: readonly (readonly [string, string])[], children: readonly string[], selfClosing: string): string {
  const attrs = attributes.map(([key, value]) => ` ${key}="${escapeAttribute(value)}"`).join('');
  return children.length === 0 ? `<${name}${attrs}${selfClosing}` : `<${name}${attrs}>${children.join('')}</${name}>`;
}

export interface DoveRunnerRequestOptions {
  /** Whose request shape; the Python client's by default. */
  readonly client?: DoveRunnerClient;
  /** `period_index`: above 0 adds a ContentKeyPeriod per key (the URL must then carry `?key-rotation=true`). */
  readonly periodIndex?: number;
  /** `DRMSystem@systemId` per key, in order; Widevine and PlayReady by default. */
  readonly systemIds?: readonly string[];
  /** Request KIDs; a random uuid4 per track by default, as the clients do. */
  readonly kids?: readonly string[];
  /** `NONE` (the default) sends no `commonEncryptionScheme`. */
  readonly scheme?: EncryptionScheme;
}

/**
 * The request body a client sends, for `trackTypes` as given (tests also send shapes the clients
 * cannot, such as a track twice). Both clients put each track's ContentKey (uuid4 kid, the scheme
 * when not NONE), usage rule (`intendedTrackType`, `kid`) and one empty DRMSystem per DRM type; with
 * a period each key gets its own ContentKeyPeriod (`keyPeriod_<uuid>`, the same index) and
 * KeyPeriodFilter. Python (ElementTree `tostring`, encoding 'utf8'): declaration with single quotes,
 * lists in the order ContentKeyList, DRMSystemList, ContentKeyUsageRuleList, ContentKeyPeriodList,
 * empty elements as `<x />`. Java (DOM + Transformer, indent): `standalone="no"` declaration, the
 * period list before the usage rules, indented. Neither sends `CPIX@version`.
 */
export function buildDoveRunnerRequest(
  contentId: string,
  trackTypes: readonly string[],
  options: DoveRunnerRequestOptions = {},
): { readonly xml: string; readonly kids: readonly string[] } {
  const client = options.client ?? 'python';
  const keys = trackTypes.map((track, i) => ({ track, kid: options.kids?.[i] ?? randomUUID(), periodId: `keyPeriod_${randomUUID()}` }));
  const empty = client === 'python' ? ' />' : '/>';
  const rotating = (options.periodIndex ?? 0) > 0;
  const scheme = options.scheme ?? 'NONE';
  const schemeAttribute: (readonly [string, string])[] = scheme === 'NONE' ? [] : [['commonEncryptionScheme', scheme.toLowerCase()]];
  const systemIds = options.systemIds ?? [DRM_TYPES.WIDEVINE, DRM_TYPES.PLAYREADY];

  const contentKeys = keys.map(({ kid }) => element('cpix:ContentKey', [['kid', kid], ...schemeAttribute], [], empty));
  const systems = keys.flatMap(({ kid }) => systemIds.map((systemId) => element('cpix:DRMSystem', [['kid', kid], ['systemId', systemId]], [], empty)));
  const rules = keys.map(({ track, kid, periodId }) =>
    element('cpix:ContentKeyUsageRule', [['intendedTrackType', track], ['kid', kid]], rotating ? [element('cpix:KeyPeriodFilter', [['periodId', periodId]], [], empty)] : [], empty),
  );
  const periods = keys.map(({ periodId }) => element('cpix:ContentKeyPeriod', [['id', periodId], ['index', String(options.periodIndex)]], [], empty));
  const lists = [
    element('cpix:ContentKeyList', [], contentKeys, empty),
    element('cpix:DRMSystemList', [], systems, empty),
    ...(client === 'java' && rotating ? [element('cpix:ContentKeyPeriodList', [], periods, empty)] : []),
    element('cpix:ContentKeyUsageRuleList', [], rules, empty),
    ...(client === 'python' && rotating ? [element('cpix:ContentKeyPeriodList', [], periods, empty)] : []),
  ];
  const root = element(
    'cpix:CPIX',
    [
      ['id', contentId],
      ['xmlns:cpix', NS.cpix],
      ['xmlns:pskc', NS.pskc],
      ['xmlns:speke', NS.speke],
    ],
    lists,
    empty,
  );
  const xml =
    client === 'python'
      ? `<?xml version='1.0' encoding='utf8'?>\n${root}`
      : `<?xml version="1.0" encoding="UTF-8" standalone="no"?>${root.replace(/></g, '>\n<')}\n`;
  return { xml, kids: keys.map(({ kid }) => kid) };
}

/** The request `client` builds for these arguments of its `GetContentKeyInfoFromDoveRunnerKMS`. */
export function buildClientRequest(client: DoveRunnerClient, request: ClientRequest): { readonly xml: string; readonly kids: readonly string[] } {
  const tracks = request.tracks === 'ALL_TRACKS' ? ['HD'] : TRACK_TYPES.filter((track) => request.tracks.includes(track));
  const systemIds = DRM_TYPE_ORDER.filter((type) => request.drmTypes.includes(type)).map((type) => DRM_TYPES[type]);
  return buildDoveRunnerRequest(request.contentId, tracks, { client, systemIds, scheme: request.scheme, periodIndex: request.periodIndex });
}

/** What a client hands its caller per key (`MultiDrmInfo`): every field its parser fills, as strings. */
export type ClientKeyInfo = Readonly<Record<string, string>>;

/** The client's failure, worded as the client words it. */
export class ClientError extends Error {}

/** Both clients take any body that parses as JSON for the KMS's error. */
function refuseJson(body: string): void {
  let json = true;
  try {
    JSON.parse(body);
  } catch {
    json = false;
  }
  if (json) throw new ClientError(`KMS error: ${body}`);
}

/** Java `Base64.getDecoder().decode` + `new String(…)`: strict RFC 4648 alphabet, padding required. */
function javaDecodeBase64(text: string): string {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    throw new ClientError(`Error occurred during parsing response XML. (Illegal base64: ${text.slice(0, 20)})`);
  }
  return Buffer.from(text, 'base64').toString('utf8');
}

/** The elements the Java client dereferences with `.item(0)` and no null check, per system ID. */
const JAVA_REQUIRED: Readonly<Record<string, readonly string[]>> = {
  [DRM_TYPES.WIDEVINE]: ['cpix:PSSH', 'cpix:ContentProtectionData'],
  [DRM_TYPES.PLAYREADY]: ['cpix:PSSH', 'cpix:ContentProtectionData', 'cpix:SmoothStreamingProtectionHeaderData'],
  [DRM_TYPES.FAIRPLAY]: ['cpix:URIExtXKey'],
  [DRM_TYPES.WISEPLAY]: ['cpix:PSSH', 'cpix:ContentProtectionData'],
  [DRM_TYPES.NCG]: ['cpix:URIExtXKey'],
  [DRM_TYPES.NCGHLS_AES128]: ['cpix:URIExtXKey'],
  [DRM_TYPES.NCGHLS_SAMPLEAES]: ['cpix:URIExtXKey'],
  [DRM_TYPES.AES128]: ['cpix:URIExtXKey'],
  [DRM_TYPES.SAMPLEAES]: ['cpix:URIExtXKey'],
};
/** Of those, the ones it base64-decodes into a string (the rest it keeps as base64 text). */
const JAVA_DECODED: ReadonlySet<string> = new Set(['cpix:URIExtXKey']);
const SYSTEM_FIELD: Readonly<Record<string, string>> = {
  [DRM_TYPES.WIDEVINE]: 'widevine',
  [DRM_TYPES.PLAYREADY]: 'playready',
  [DRM_TYPES.FAIRPLAY]: 'fairplay',
  [DRM_TYPES.WISEPLAY]: 'wiseplay',
  [DRM_TYPES.NCG]: 'ncg',
  [DRM_TYPES.NCGHLS_AES128]: 'ncghls_aes128',
  [DRM_TYPES.NCGHLS_SAMPLEAES]: 'ncghls_sampleaes',
  [DRM_TYPES.AES128]: 'aes128',
  [DRM_TYPES.SAMPLEAES]: 'sampleaes',
};

function domOf(xml: string): DomElement {
  const document = new DOMParser({
    onError: (level, message) => {
      if (level !== 'warning') throw new ClientError(`Error occurred during parsing response XML. (${message})`);
    },
  }).parseFromString(xml, 'text/xml');
  const root = document.documentElement;
  if (root === null) throw new ClientError('Error occurred during parsing response XML.');
  return root;
}

const byTag = (scope: DomElement, qualifiedName: string): DomElement[] => Array.from(scope.getElementsByTagName(qualifiedName));

/**
 * `DoveRunnerCpixClient.parseResponse` on an HTTP 200 body: the body is read line by line and the
 * lines joined without separators, parsed by a non-namespace-aware DOM, and elements are found by
 * their literal qualified names (`cpix:…`, `pskc:…`). Throws `ClientError` where the client throws.
 */
export function readAsJavaClient(body: string): { readonly contentId: string; readonly keys: readonly ClientKeyInfo[] } {
  const joined = body.split(/\r?\n/).join('');
  refuseJson(joined);
  const root = domOf(joined);
  const periods = byTag(root, 'cpix:ContentKeyPeriod');
  const infos = byTag(root, 'cpix:ContentKeyUsageRule').map((rule) => {
    const info: Record<string, string> = { track_type: rule.getAttribute('intendedTrackType') ?? '', key_id: rule.getAttribute('kid') ?? '' };
    if (periods.length > 0) {
      const filter = byTag(rule, 'cpix:KeyPeriodFilter')[0];
      if (filter === undefined) throw new ClientError('Error occurred during parsing response XML. (no KeyPeriodFilter)');
      const period = periods.find((candidate) => candidate.getAttribute('id') === filter.getAttribute('periodId'));
      if (period !== undefined) info.period_index = period.getAttribute('index') ?? '';
    }
    return info;
  });
  for (const key of byTag(root, 'cpix:ContentKey')) {
    const plain = byTag(key, 'pskc:PlainValue')[0];
    if (plain === undefined) throw new ClientError('Error occurred during parsing response XML. (no pskc:PlainValue)');
    for (const info of infos) {
      if (info.key_id === key.getAttribute('kid')) Object.assign(info, { iv: key.getAttribute('explicitIV') ?? '', key: plain.textContent ?? '' });
    }
  }
  for (const system of byTag(root, 'cpix:DRMSystem')) {
    const systemId = system.getAttribute('systemId') ?? '';
    const prefix = SYSTEM_FIELD[systemId];
    for (const info of infos) {
      if (prefix === undefined || info.key_id !== system.getAttribute('kid')) continue;
      for (const name of JAVA_REQUIRED[systemId] ?? []) {
        const found = byTag(system, name)[0];
        if (found === undefined) throw new ClientError(`Error occurred during parsing response XML. (NullPointerException: ${name} of ${systemId})`);
        const text = found.textContent ?? '';
        info[`${prefix}:${name}`] = JAVA_DECODED.has(name) && systemId !== DRM_TYPES.NCG ? javaDecodeBase64(text) : text;
      }
      if (systemId === DRM_TYPES.NCG) continue;
      for (const hls of byTag(system, 'cpix:HLSSignalingData')) {
        const playlist = hls.getAttribute('playlist');
        if (playlist === 'master' || playlist === 'media') info[`${prefix}:hls:${playlist}`] = javaDecodeBase64(hls.textContent ?? '');
      }
    }
  }
  return { contentId: root.getAttribute('id') ?? '', keys: infos };
}

/** The children the Python client reads per system ID, and whether it base64-decodes them into UTF-8 text. */
const PYTHON_READS: Readonly<Record<string, readonly (readonly [string, 'raw' | 'decoded'])[]>> = {
  [DRM_TYPES.WIDEVINE]: [['PSSH', 'raw'], ['ContentProtectionData', 'raw']],
  [DRM_TYPES.PLAYREADY]: [['PSSH', 'raw'], ['ContentProtectionData', 'raw'], ['SmoothStreamingProtectionHeaderData', 'raw']],
  [DRM_TYPES.FAIRPLAY]: [['URIExtXKey', 'decoded']],
  [DRM_TYPES.WISEPLAY]: [['PSSH', 'raw'], ['ContentProtectionData', 'raw']],
  [DRM_TYPES.NCG]: [['URIExtXKey', 'raw']],
  [DRM_TYPES.NCGHLS_AES128]: [['URIExtXKey', 'decoded']],
  [DRM_TYPES.NCGHLS_SAMPLEAES]: [['URIExtXKey', 'decoded']],
  [DRM_TYPES.AES128]: [['URIExtXKey', 'decoded']],
  [DRM_TYPES.SAMPLEAES]: [['URIExtXKey', 'decoded']],
};

const cpixChildren = (scope: DomElement, localName: string): DomElement[] =>
  Array.from(scope.getElementsByTagNameNS(NS.cpix, localName)).filter((found) => found.parentNode === scope);

/**
 * `cpix_client.parse_response` on an HTTP 200 body: a namespace-aware ElementTree. Its
 * `get_element_text_safely` base64-decodes a found element's text and decodes it as UTF-8 — an empty
 * element (text `None`) or text that is not UTF-8 raises; a missing element gives ''. Throws
 * `ClientError` where the client raises.
 */
export function readAsPythonClient(body: string): { readonly contentId: string; readonly keys: readonly ClientKeyInfo[] } {
  refuseJson(body);
  const root = domOf(body);
  const all = (localName: string): DomElement[] => Array.from(root.getElementsByTagNameNS(NS.cpix, localName));
  const periods = all('ContentKeyPeriod');
  const infos = all('ContentKeyUsageRule').map((rule) => {
    const info: Record<string, string> = { track_type: rule.getAttribute('intendedTrackType') ?? '', key_id: rule.getAttribute('kid') ?? '' };
    const filter = Array.from(rule.getElementsByTagNameNS(NS.cpix, 'KeyPeriodFilter'))[0];
    const period = filter === undefined ? undefined : periods.find((candidate) => candidate.getAttribute('id') === filter.getAttribute('periodId'));
    if (period !== undefined) info.period_index = period.getAttribute('index') ?? '';
    return info;
  });
  for (const key of all('ContentKey')) {
    const plain = Array.from(key.getElementsByTagNameNS(NS.pskc, 'PlainValue'))[0];
    for (const info of infos) {
      if (info.key_id === key.getAttribute('kid')) Object.assign(info, { iv: key.getAttribute('explicitIV') ?? '', key: plain?.textContent ?? '' });
    }
  }
  const decoded = (found: DomElement | undefined, what: string): string => {
    if (found === undefined) return '';
    const text = found.textContent ?? '';
    if (text === '') throw new ClientError(`TypeError decoding ${what}: argument should be a bytes-like object or ASCII string, not 'NoneType'`);
    const bytes = Buffer.from(text, 'base64');
    const utf8 = new TextDecoder('utf-8', { fatal: true });
    try {
      return utf8.decode(bytes);
    } catch {
      throw new ClientError(`UnicodeDecodeError decoding ${what}`);
    }
  };
  for (const system of all('DRMSystem')) {
    const systemId = system.getAttribute('systemId') ?? '';
    const prefix = SYSTEM_FIELD[systemId];
    for (const info of infos) {
      if (prefix === undefined || info.key_id !== system.getAttribute('kid')) continue;
      for (const [name, form] of PYTHON_READS[systemId] ?? []) {
        const found = cpixChildren(system, name)[0];
        info[`${prefix}:cpix:${name}`] = form === 'raw' ? (found?.textContent ?? '') : decoded(found, `${prefix} ${name}`);
      }
      if (systemId === DRM_TYPES.NCG) continue;
      for (const playlist of ['master', 'media'] as const) {
        const found = cpixChildren(system, 'HLSSignalingData').find((candidate) => candidate.getAttribute('playlist') === playlist);
        info[`${prefix}:hls:${playlist}`] = decoded(found, `${prefix} HLSSignalingData ${playlist}`);
      }
    }
  }
  return { contentId: root.getAttribute('id') ?? '', keys: infos };
}

/** Reads an answer as `client` does. */
export function readAsClient(client: DoveRunnerClient, body: string): { readonly contentId: string; readonly keys: readonly ClientKeyInfo[] } {
  return client === 'python' ? readAsPythonClient(body) : readAsJavaClient(body);
}
