import { parseXml } from '../../../src/xml/safe-parse';
import { DEFAULT_XML_LIMITS, resolveXmlLimits } from '../../../src/xml/limits';
import { childElements, textOf } from '../../../src/xml/tree';

describe('parseXml', () => {
  it('builds a namespace-resolved tree with declarations kept apart from attributes', () => {
    const root = parseXml('<p:a xmlns:p="urn:p" xmlns="urn:d" x="1" p:y="2"><b/>t&amp;<![CDATA[<c>]]><!-- c --><?pi x?>u</p:a>');
    expect(root).toMatchObject({ name: 'p:a', prefix: 'p', localName: 'a', namespace: 'urn:p' });
    expect(root.namespaceDeclarations).toEqual([
      { prefix: 'p', uri: 'urn:p' },
      { prefix: '', uri: 'urn:d' },
    ]);
    expect(root.attributes).toEqual([
      { name: 'x', prefix: '', localName: 'x', namespace: '', value: '1' },
      { name: 'p:y', prefix: 'p', localName: 'y', namespace: 'urn:p', value: '2' },
    ]);
    expect(childElements(root)[0]).toMatchObject({ localName: 'b', namespace: 'urn:d' });
    expect(textOf(root)).toBe('t&<c>u');
  });

  it('decodes UTF-16LE and UTF-16BE with a BOM, and UTF-8 with a BOM', () => {
    const xml = '<?xml version="1.0" encoding="utf-16"?><a>ü⚽</a>';
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, 'utf16le')]);
    const be = Buffer.from(le);
    be.swap16();
    expect(textOf(parseXml(le))).toBe('ü⚽');
    expect(textOf(parseXml(be))).toBe('ü⚽');
    expect(textOf(parseXml(Buffer.from('\uFEFF<a>ü</a>', 'utf8')))).toBe('ü');
  });

  it('expands only the predefined entities and character references', () => {
    expect(textOf(parseXml('<a>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;</a>'))).toBe('<>&"\'AB');
  });

  it('accepts documents at the limits', () => {
    expect(() => parseXml(`${'<a>'.repeat(64)}${'</a>'.repeat(64)}`)).not.toThrow();
    expect(() => parseXml(`${'<a>'.repeat(65)}${'</a>'.repeat(65)}`)).toThrow();
  });

  it('rejects non-positive limits as a programmer error', () => {
    expect(() => resolveXmlLimits({ maxDepth: 0 })).toThrow(RangeError);
    expect(resolveXmlLimits()).toEqual(DEFAULT_XML_LIMITS);
  });
});
