// Type declarations for the parts of ltx 3.x that Switchboard uses (ltx ships no types).
// Attributes are typed as possibly undefined on purpose: stanzas come from hostile peers and
// `el.attrs.to` is absent far more often than code written against `string` expects.
declare module "ltx" {
  export type Attrs = Record<string, string | undefined>;
  export type Node = Element | string;

  export class Element {
    constructor(name: string, attrs?: Attrs | string);
    name: string;
    attrs: Attrs;
    children: Node[];
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    findNS(prefix?: string): string | undefined;
    getXmlns(): Record<string, string>;
    setAttrs(attrs: Attrs | string): void;
    getAttrs(): Attrs;
    getAttr(name: string, xmlns?: string): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildByAttr(attr: string, val: string, xmlns?: string, recursive?: boolean): Element | undefined;
    getChildrenByAttr(attr: string, val: string, xmlns?: string, recursive?: boolean): Element[];
    getChildrenByFilter(filter: (child: Node) => boolean, recursive?: boolean): Node[];
    getText(): string;
    getChildText(name: string, xmlns?: string): string | null;
    getChildElements(): Element[];
    root(): Element;
    up(): Element;
    c(name: string, attrs?: Attrs | string): Element;
    cnode<T extends Node>(child: T): T;
    append(...nodes: Node[]): void;
    prepend(...nodes: Node[]): void;
    t(text: string): this;
    remove(el: Element | string, xmlns?: string): this;
    text(val?: string): string;
    attr(attr: string, val?: string): string | undefined;
    toString(): string;
    toJSON(): unknown;
  }

  export function createElement(name: string, attrs?: Attrs | string | null, ...children: unknown[]): Element;
  export function clone<T extends Node>(node: T): T;
  export function equal(a: Element, b: Element): boolean;
  export function escapeXML(s: string): string;
  export function escapeXMLText(s: string): string;
  export function unescapeXML(s: string): string;
  export function unescapeXMLText(s: string): string;
  export function isElement(node: unknown): node is Element;
  export function isText(node: unknown): node is string;
}
