import { describe, expect, it } from "vitest";
import * as ns from "./ns.js";

describe("namespace constants", () => {
  it("match the values the RFCs and XEPs define", () => {
    expect(ns.NS_STREAM).toBe("http://etherx.jabber.org/streams");
    expect(ns.NS_CLIENT).toBe("jabber:client");
    expect(ns.NS_SERVER).toBe("jabber:server");
    expect(ns.NS_TLS).toBe("urn:ietf:params:xml:ns:xmpp-tls");
    expect(ns.NS_SASL).toBe("urn:ietf:params:xml:ns:xmpp-sasl");
    expect(ns.NS_BIND).toBe("urn:ietf:params:xml:ns:xmpp-bind");
    expect(ns.NS_SESSION).toBe("urn:ietf:params:xml:ns:xmpp-session");
    expect(ns.NS_STANZAS).toBe("urn:ietf:params:xml:ns:xmpp-stanzas");
    expect(ns.NS_STREAMS).toBe("urn:ietf:params:xml:ns:xmpp-streams");
    expect(ns.NS_FRAMING).toBe("urn:ietf:params:xml:ns:xmpp-framing");
    expect(ns.NS_ROSTER).toBe("jabber:iq:roster");
    expect(ns.NS_DISCO_INFO).toBe("http://jabber.org/protocol/disco#info");
    expect(ns.NS_DISCO_ITEMS).toBe("http://jabber.org/protocol/disco#items");
    expect(ns.NS_PING).toBe("urn:xmpp:ping");
    expect(ns.NS_VERSION).toBe("jabber:iq:version");
    expect(ns.NS_VCARD).toBe("vcard-temp");
    expect(ns.NS_BLOCKING).toBe("urn:xmpp:blocking");
    expect(ns.NS_CARBONS).toBe("urn:xmpp:carbons:2");
    expect(ns.NS_FORWARD).toBe("urn:xmpp:forward:0");
    expect(ns.NS_DELAY).toBe("urn:xmpp:delay");
    expect(ns.NS_REGISTER).toBe("jabber:iq:register");
    expect(ns.NS_REGISTER_FEATURE).toBe("http://jabber.org/features/iq-register");
    expect(ns.NS_OFFLINE).toBe("msgoffline");
    expect(ns.NS_HINTS).toBe("urn:xmpp:hints");
    expect(ns.NS_ROSTER_VER).toBe("urn:xmpp:features:rosterver");
    expect(ns.NS_PREAPPROVAL).toBe("urn:xmpp:features:pre-approval");
  });
});
