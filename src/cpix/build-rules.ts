/**
 * `ContentKeyPeriod`, `ContentKeyUsageRule` and `UpdateHistoryItem` for the builder
 * (DASH-IF CPIX 2.3 §5.2.9–§5.2.15). These are echoed from requests, so values are written as received.
 */

import type { XmlElement, XmlNode } from '../xml/tree';
import { type BuildContext, boolean, integer } from './build-context';
import { adoptExtension } from './build-extensions';
import type { ContentKeyPeriod, ContentKeyUsageRule, UpdateHistoryItem } from './model';
import { shownItem } from './shown';

/** One `ContentKeyPeriod`; label and the xs:duration offsets exist from 2.4 only. */
export function buildContentKeyPeriod(ctx: BuildContext, period: ContentKeyPeriod, index: number): XmlElement {
  const path = shownItem('ContentKeyPeriod', period.id, index + 1);
  if (!ctx.profile.cpix24) {
    const only24: readonly [string, string | undefined][] = [
      ['label', period.label],
      ['startOffset', period.startOffset],
      ['endOffset', period.endOffset],
      ['duration', period.duration],
    ];
    for (const [name, value] of only24) if (value !== undefined) ctx.unsupported(`${path}@${name}`);
  }
  return ctx.element('cpix', 'ContentKeyPeriod', [
    ['id', period.id],
    ['index', integer(period.index)],
    ['label', period.label],
    ['start', period.start],
    ['end', period.end],
    ['startOffset', period.startOffset],
    ['endOffset', period.endOffset],
    ['duration', period.duration],
  ]);
}

/** One `ContentKeyUsageRule` with its filters in schema order: KeyPeriod, Label, Video, Audio, Bitrate. */
export function buildContentKeyUsageRule(ctx: BuildContext, rule: ContentKeyUsageRule): XmlElement {
  const filters: XmlNode[] = [
    ...rule.keyPeriodFilters.map((filter) => ctx.element('cpix', 'KeyPeriodFilter', [['periodId', filter.periodId]])),
    ...rule.labelFilters.map((filter) => ctx.element('cpix', 'LabelFilter', [['label', filter.label]])),
    ...rule.videoFilters.map((filter) =>
      ctx.element('cpix', 'VideoFilter', [
        ['minPixels', integer(filter.minPixels)],
        ['maxPixels', integer(filter.maxPixels)],
        ['hdr', boolean(filter.hdr)],
        ['wcg', boolean(filter.wcg)],
        ['minFps', integer(filter.minFps)],
        ['maxFps', integer(filter.maxFps)],
      ]),
    ),
    ...rule.audioFilters.map((filter) =>
      ctx.element('cpix', 'AudioFilter', [
        ['minChannels', integer(filter.minChannels)],
        ['maxChannels', integer(filter.maxChannels)],
      ]),
    ),
    ...rule.bitrateFilters.map((filter) =>
      ctx.element('cpix', 'BitrateFilter', [
        ['minBitrate', integer(filter.minBitrate)],
        ['maxBitrate', integer(filter.maxBitrate)],
      ]),
    ),
  ];
  return ctx.element(
    'cpix',
    'ContentKeyUsageRule',
    [
      ['id', rule.id],
      ['kid', rule.kid],
      ['intendedTrackType', rule.intendedTrackType],
    ],
    [...filters, ...(rule.extensions ?? []).map((extension) => adoptExtension(ctx, extension))],
  );
}

/** One `UpdateHistoryItem`. */
export function buildUpdateHistoryItem(ctx: BuildContext, item: UpdateHistoryItem): XmlElement {
  return ctx.element('cpix', 'UpdateHistoryItem', [
    ['id', item.id],
    ['updateVersion', integer(item.updateVersion)],
    ['index', item.index],
    ['source', item.source],
    ['date', item.date],
  ]);
}
