/**
 * `ContentKeyPeriodList`, `ContentKeyUsageRuleList` and `UpdateHistoryItemList` (DASH-IF CPIX 2.3 §5.2.9–5.2.15).
 *
 * Usage rules decide which key encrypts which track, so they fail closed (DASH-IF CPIX 2.3 §5.2.13.1: a rule with a filter that cannot be processed is unusable): an
 * unknown filter element or an unknown attribute on a filter makes the rule unusable, and we refuse the
 * document with `CpixUnsupported` instead of applying the key more broadly than it allows.
 */

import { CpixUnsupported } from '../errors';
import type { XmlElement } from '../xml/tree';
import { KMS_EXPORT_NAMESPACE, NS } from './constants';
import type {
  AudioFilter,
  BitrateFilter,
  ContentKeyPeriod,
  ContentKeyUsageRule,
  UpdateHistoryItem,
  VideoFilter,
} from './model';
import { attribute, elementsOf, requiredAttribute, safeName } from './parse-element';
import { parseIdentified } from './parse-list';
import { invalid, itemStep, parseBoolean, parseInteger, parseUuid } from './parse-values';

/** Parses one `ContentKeyPeriod`; times and durations are kept as received. */
export function parseContentKeyPeriod(element: XmlElement, position: number): ContentKeyPeriod {
  const path = itemStep('ContentKeyPeriod', position, { id: attribute(element, 'id') });
  const index = attribute(element, 'index');
  const strings: Record<string, string> = {};
  for (const name of ['start', 'end', 'label', 'startOffset', 'endOffset', 'duration'] as const) {
    const value = attribute(element, name);
    if (value !== undefined) strings[name] = value;
  }
  return {
    ...parseIdentified(element, path),
    ...(index === undefined ? {} : { index: parseInteger(index, `${path}@index`, 0) }),
    ...strings,
  };
}

/**
 * Parses one `ContentKeyUsageRule`.
 *
 * @throws CpixInvalid for a bad kid, a filter value that is not an integer/boolean, min > max, or a
 *   `BitrateFilter` without bounds.
 * @throws CpixUnsupported for an unknown filter element or an unknown attribute on a filter.
 */
export function parseContentKeyUsageRule(element: XmlElement, position: number): ContentKeyUsageRule {
  const path = itemStep('ContentKeyUsageRule', position, { kid: attribute(element, 'kid') });
  const kid = parseUuid(requiredAttribute(element, 'kid', path), `${path}@kid`);
  const keyPeriodFilters: { periodId: string }[] = [];
  const labelFilters: { label: string }[] = [];
  const videoFilters: VideoFilter[] = [];
  const audioFilters: AudioFilter[] = [];
  const bitrateFilters: BitrateFilter[] = [];
  const extensions: XmlElement[] = [];

  for (const child of elementsOf(element)) {
    const childPath = `${path}/${safeName(child)}`;
    if (child.namespace === KMS_EXPORT_NAMESPACE) {
      // Our own license-export grant: understood, kept for the reader to check.
      extensions.push(child);
      continue;
    }
    const kind = child.namespace === NS.cpix ? child.localName : undefined;
    switch (kind) {
      case 'KeyPeriodFilter':
        checkFilterAttributes(child, ['periodId'], childPath);
        keyPeriodFilters.push({ periodId: requiredAttribute(child, 'periodId', childPath) });
        break;
      case 'LabelFilter':
        checkFilterAttributes(child, ['label'], childPath);
        labelFilters.push({ label: requiredAttribute(child, 'label', childPath) });
        break;
      case 'VideoFilter':
        videoFilters.push(parseVideoFilter(child, childPath));
        break;
      case 'AudioFilter':
        audioFilters.push(parseAudioFilter(child, childPath));
        break;
      case 'BitrateFilter':
        bitrateFilters.push(parseBitrateFilter(child, childPath));
        break;
      default:
        // `##other` proprietary filters (and unknown CPIX ones) narrow key use in ways we cannot evaluate.
        throw new CpixUnsupported(`${childPath}: unknown usage-rule filter`);
    }
  }

  const intendedTrackType = attribute(element, 'intendedTrackType');
  return {
    ...parseIdentified(element, path),
    kid,
    ...(intendedTrackType === undefined ? {} : { intendedTrackType }),
    keyPeriodFilters,
    labelFilters,
    videoFilters,
    audioFilters,
    bitrateFilters,
    ...(extensions.length > 0 && { extensions }),
  };
}

/** Any attribute outside `known` (namespaced ones included) could narrow the filter: unsupported. */
function checkFilterAttributes(element: XmlElement, known: readonly string[], path: string): void {
  for (const attr of element.attributes) {
    if (attr.namespace === '' && known.includes(attr.localName)) continue;
    const name = attr.localName.replace(/[^A-Za-z0-9_.-]/g, '?').slice(0, 40);
    throw new CpixUnsupported(`${path}@${name}: unknown usage-rule filter attribute`);
  }
  const unexpected = elementsOf(element)[0];
  if (unexpected !== undefined) throw new CpixUnsupported(`${path}/${safeName(unexpected)}: unknown filter content`);
}

function integerAttributes<K extends string>(
  element: XmlElement,
  names: readonly K[],
  path: string,
): Partial<Record<K, number>> {
  const values: Partial<Record<K, number>> = {};
  for (const name of names) {
    const value = attribute(element, name);
    if (value !== undefined) values[name] = parseInteger(value, `${path}@${name}`, 0);
  }
  return values;
}

/** An interval whose minimum exceeds its maximum matches nothing: almost certainly a producer bug. */
function checkRange(min: number | undefined, max: number | undefined, path: string, what: string): void {
  if (min !== undefined && max !== undefined && min > max) throw invalid(path, `min${what} exceeds max${what}`);
}

function parseVideoFilter(element: XmlElement, path: string): VideoFilter {
  checkFilterAttributes(element, ['minPixels', 'maxPixels', 'minFps', 'maxFps', 'hdr', 'wcg'], path);
  const numbers = integerAttributes(element, ['minPixels', 'maxPixels', 'minFps', 'maxFps'], path);
  checkRange(numbers.minPixels, numbers.maxPixels, path, 'Pixels');
  checkRange(numbers.minFps, numbers.maxFps, path, 'Fps');
  const hdr = attribute(element, 'hdr');
  const wcg = attribute(element, 'wcg');
  return {
    ...numbers,
    ...(hdr === undefined ? {} : { hdr: parseBoolean(hdr, `${path}@hdr`) }),
    ...(wcg === undefined ? {} : { wcg: parseBoolean(wcg, `${path}@wcg`) }),
  };
}

function parseAudioFilter(element: XmlElement, path: string): AudioFilter {
  checkFilterAttributes(element, ['minChannels', 'maxChannels'], path);
  const numbers = integerAttributes(element, ['minChannels', 'maxChannels'], path);
  checkRange(numbers.minChannels, numbers.maxChannels, path, 'Channels');
  return numbers;
}

function parseBitrateFilter(element: XmlElement, path: string): BitrateFilter {
  checkFilterAttributes(element, ['minBitrate', 'maxBitrate'], path);
  const numbers = integerAttributes(element, ['minBitrate', 'maxBitrate'], path);
  // Spec "BitrateFilter": at least one of the two bounds is required.
  if (numbers.minBitrate === undefined && numbers.maxBitrate === undefined) {
    throw invalid(path, 'needs minBitrate or maxBitrate');
  }
  checkRange(numbers.minBitrate, numbers.maxBitrate, path, 'Bitrate');
  return numbers;
}

/** Parses one `UpdateHistoryItem`; every attribute but `@id` is mandatory (DASH-IF CPIX 2.3 §5.2.15). */
export function parseUpdateHistoryItem(element: XmlElement, position: number): UpdateHistoryItem {
  const id = attribute(element, 'id');
  const path = itemStep('UpdateHistoryItem', position, { id });
  return {
    ...(id === undefined ? {} : { id }),
    updateVersion: parseInteger(requiredAttribute(element, 'updateVersion', path), `${path}@updateVersion`),
    index: requiredAttribute(element, 'index', path),
    source: requiredAttribute(element, 'source', path),
    date: requiredAttribute(element, 'date', path),
  };
}
