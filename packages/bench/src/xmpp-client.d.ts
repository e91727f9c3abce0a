// Minimal typings for @xmpp/client 0.13 (it ships none), covering what the tests use.
declare module "@xmpp/client" {
  import type { Element } from "ltx";
  export interface Client {
    start(): Promise<{ toString(): string }>;
    stop(): Promise<void>;
    send(el: Element): Promise<void>;
    on(event: "stanza", listener: (el: Element) => void): void;
    on(event: "error" | "offline" | "online" | "status", listener: (...args: unknown[]) => void): void;
    reconnect: { stop(): void };
    iqCaller: { request(el: Element, timeoutMs?: number): Promise<Element> };
    jid?: { toString(): string };
  }
  export function client(opts: { service: string; domain: string; username?: string; password?: string; resource?: string }): Client;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: Array<Element | string>): Element;
}
