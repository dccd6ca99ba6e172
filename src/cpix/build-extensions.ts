/**
 * Extension elements in the builder's output (`xs:any namespace="##other"` in `DRMSystem` and
 * `ContentKeyUsageRule`, DASH-IF CPIX 2.3 §5.2.7, §5.2.12): a request's pass-through elements and our own.
 */

import type { XmlElement } from '../xml/tree';
import { type BuildContext, isBuildPrefix } from './build-context';
import type { OpaqueElement } from './model';

/**
 * Makes a pass-through extension element self-sufficient in our document. The request may have
 * declared its prefixes on its own root; those bindings are hoisted to our root (so the document
 * keeps "all namespaces on the root", canonical-document.ts) unless the prefix is taken there, in
 * which case the declaration goes on the extension element itself.
 */
export function adoptExtension(ctx: BuildContext, extension: OpaqueElement): OpaqueElement {
  const local: { prefix: string; uri: string }[] = [];
  for (const [prefix, uri] of externalBindings(extension)) {
    const taken = ctx.bindingOf(prefix);
    if (taken === undefined) ctx.extensionNamespaces.set(prefix, uri);
    else if (taken !== uri) local.push({ prefix, uri });
    else if (isBuildPrefix(prefix)) ctx.usedPrefixes.add(prefix);
  }
  return local.length === 0 ? extension : { ...extension, namespaceDeclarations: [...local, ...extension.namespaceDeclarations] };
}

/** Prefix bindings the subtree uses without declaring them itself (first use wins). */
function externalBindings(root: XmlElement): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (element: XmlElement, declared: ReadonlySet<string>): void => {
    const scope = new Set(declared);
    for (const declaration of element.namespaceDeclarations) scope.add(declaration.prefix);
    const uses: [string, string][] = [[element.prefix, element.namespace]];
    for (const attribute of element.attributes) if (attribute.prefix !== '') uses.push([attribute.prefix, attribute.namespace]);
    for (const [prefix, uri] of uses) {
      if (prefix === 'xml' || scope.has(prefix) || found.has(prefix)) continue;
      found.set(prefix, uri);
    }
    for (const child of element.children) if (child.kind === 'element') visit(child, scope);
  };
  visit(root, new Set());
  return found;
}
