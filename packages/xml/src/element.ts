// Elements are ltx Elements: one tree type shared by the parser, the router and every module.
/// <reference path="./ltx.d.ts" />
import { Element, createElement, escapeXML, escapeXMLText } from "ltx";

export { Element };
export type { Attrs, Node } from "ltx";

/** What `x()` accepts as a child: falsy values are skipped so conditionals read naturally. */
export type Child = Element | string | null | undefined | false | readonly Child[];

/**
 * Build an element: `x("iq", { type: "result", id }, x("query", { xmlns: NS_ROSTER }))`.
 * Attributes whose value is undefined are omitted; arrays of children are flattened.
 */
export function x(name: string, attrs?: Record<string, string | number | undefined> | null, ...children: Child[]): Element {
  const clean: Record<string, string> = {};
  if (attrs) {
    for (const key of Object.keys(attrs)) {
      const value = attrs[key];
      if (value !== undefined && value !== null) clean[key] = String(value);
    }
  }
  const el = createElement(name, clean);
  appendChildren(el, children);
  return el;
}

function appendChildren(el: Element, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === "") continue;
    if (Array.isArray(child)) appendChildren(el, child as readonly Child[]);
    else el.cnode(child as Element | string);
  }
}

/** Serialize an element to its XML text (attribute and text escaping done by ltx). */
export function serialize(el: Element): string {
  return el.toString();
}

/** Escape for an attribute value (either quote style): & < > " ' become references. */
export function escapeXml(s: string): string {
  return escapeXML(s);
}

/** Escape for character data: & < > become references. */
export function escapeXmlText(s: string): string {
  return escapeXMLText(s);
}
