// Minimal typings for @xmpp/client 0.13 (it ships none), for the bench rolling run and the tests.
declare module "@xmpp/client" {
  import type { Element } from "ltx";
  export interface Client {
    start(): Promise<{ toString(): string }>;
    stop(): Promise<void>;
    /** ends the TCP connection without closing the XML stream */
    disconnect(): Promise<void>;
    send(el: Element): Promise<void>;
    on(event: "stanza", listener: (el: Element) => void): void;
    on(event: "error" | "offline" | "online" | "status" | "disconnect" | "nonza", listener: (...args: any[]) => void): void;
    reconnect: { stop(): void; start(): void; delay: number };
    /** XEP-0198 client state (@xmpp/stream-management): resumption is asked for unless allowResume is false */
    streamManagement: { allowResume: boolean; enabled: boolean; id: string; inbound: number; outbound: number; max: string | null };
    /** the transport's socket once connected */
    socket?: { end(): void; destroy?(): void; socket?: { destroy(): void } };
    iqCaller: { request(el: Element, timeoutMs?: number): Promise<Element> };
    jid?: { toString(): string };
  }
  export function client(opts: { service: string; domain: string; username?: string; password?: string; resource?: string }): Client;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: Array<Element | string>): Element;
}
