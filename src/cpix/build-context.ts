/**
 * Shared machinery of the CPIX builder (./build.ts): what each target version can express, and a
 * context that creates elements with the literal prefixes we emit while recording which namespaces
 * the document uses, so the root declares exactly those (decision 14).
 */

import { type Base64Encoded, base64Of } from '../encoding/base64';
import { CpixUnsupported } from '../errors';
import type { XmlAttribute, XmlElement, XmlNode } from '../xml/tree';
import { NS } from './constants';
import type { CpixTargetVersion } from './model';
import { isTableKey } from './table-key';

/** The namespaces the builder writes, keyed by the literal prefix it uses for each. */
export type BuildPrefix = keyof typeof NS;

/** What a target version's schema can carry (the official XSD of each CPIX version). */
export interface VersionProfile {
  readonly target: CpixTargetVersion;
  /** `CPIX@version` (2.3+). */
  readonly versionAttribute: boolean;
  /** `ContentKey@commonEncryptionScheme`: absent before 2.3, length 4 in 2.3, free text in 2.4. */
  readonly commonEncryptionScheme: 'absent' | 'length-4' | 'any';
  /** ≤ 2.3: `ContentKey` extends the PSKC `KeyType` and `DocumentKey` carries `@Algorithm`. */
  readonly pskcKeyType: boolean;
  /** 2.4 additions: HDCPData, ContentKey@contentId, @encryptsKey, several DocumentKeys, robustness, HLSAllowedCPC, period label/offsets. */
  readonly cpix24: boolean;
  /** `URIExtXKey` and `HDSSignalingData` (removed in 2.4). */
  readonly legacySignaling: boolean;
  /** SPEKE v1 `speke:` elements inside `DRMSystem` (target '2.0' only). */
  readonly spekeV1: boolean;
  /** 2.4 requires at least one child in every list. */
  readonly nonEmptyLists: boolean;
  /** `HLSSignalingData@playlist` spellings: master|variant (2.1), master|media (2.0, 2.2, 2.3), multiVariant|media (2.4). */
  readonly playlist: { readonly master: string; readonly media: string };
}

/** The profile of a target version. */
export function versionProfile(target: CpixTargetVersion): VersionProfile {
  const is24 = target === '2.4';
  return {
    target,
    versionAttribute: target === '2.3' || is24,
    commonEncryptionScheme: is24 ? 'any' : target === '2.3' ? 'length-4' : 'absent',
    pskcKeyType: !is24,
    cpix24: is24,
    legacySignaling: !is24,
    spekeV1: target === '2.0',
    nonEmptyLists: is24,
    playlist: {
      master: is24 ? 'multiVariant' : 'master',
      media: target === '2.1' ? 'variant' : 'media',
    },
  };
}

/** An attribute to write; `undefined` values are skipped so optional model fields map directly. */
export type AttributeSpec = readonly [name: string, value: string | undefined];

/** Builder state for one document. */
export class BuildContext {
  /** Namespaces used by builder-made elements. */
  readonly usedPrefixes = new Set<BuildPrefix>();
  /** Extra root declarations needed by pass-through extension elements (prefix → URI). */
  readonly extensionNamespaces = new Map<string, string>();

  constructor(readonly profile: VersionProfile) {}

  /** An element with one of our literal prefixes and unqualified attributes (CPIX `attributeFormDefault="unqualified"`). */
  element(prefix: BuildPrefix, localName: string, attributes: readonly AttributeSpec[], children: readonly XmlNode[] = []): XmlElement {
    this.usedPrefixes.add(prefix);
    const written: XmlAttribute[] = [];
    for (const [name, value] of attributes) {
      if (value !== undefined) written.push({ name, prefix: '', localName: name, namespace: '', value });
    }
    return {
      kind: 'element',
      name: `${prefix}:${localName}`,
      prefix,
      localName,
      namespace: NS[prefix],
      attributes: written,
      namespaceDeclarations: [],
      children,
    };
  }

  /** An element whose only content is `text` (no text node when empty: `<a></a>` either way). */
  textElement(prefix: BuildPrefix, localName: string, text: string, attributes: readonly AttributeSpec[] = []): XmlElement {
    return this.element(prefix, localName, attributes, text === '' ? [] : [{ kind: 'text', text }]);
  }

  /**
   * The URI a prefix is (or may be) bound to on our root: our literal prefixes are reserved even
   * when unused, since `enc`/`ds` are declared on demand.
   */
  bindingOf(prefix: string): string | undefined {
    if (isBuildPrefix(prefix)) return NS[prefix];
    return this.extensionNamespaces.get(prefix);
  }

  /** Refuses a value the target version's schema cannot carry, naming where it sits. */
  unsupported(path: string): never {
    throw new CpixUnsupported(`${path} cannot be expressed in CPIX ${this.profile.target}`);
  }
}

export function isBuildPrefix(prefix: string): prefix is BuildPrefix {
  return isTableKey(NS, prefix);
}

/** `xs:base64Binary` as we emit it: standard alphabet, padded, on one line (a value made as base64 is written as it is). */
export function base64(value: Buffer | Base64Encoded): string {
  return base64Of(value);
}

/** `xs:integer`; a non-integer in the model is a programmer error, not client input. */
export function integer(value: number | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value)) throw new RangeError(`CPIX builder: ${String(value)} is not an integer`);
  return String(value);
}

/** `xs:boolean` in its canonical lexical form. */
export function boolean(value: boolean | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}
