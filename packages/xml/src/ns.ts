// XML namespaces used across Switchboard, each with the document that defines it.

/** RFC 6120 §4.8.1: the stream namespace (bound to the `stream:` prefix). */
export const NS_STREAM = "http://etherx.jabber.org/streams";
/** RFC 6120 §4.8.2: content namespace of client-to-server streams. */
export const NS_CLIENT = "jabber:client";
/** RFC 6120 §4.8.2: content namespace of server-to-server streams. */
export const NS_SERVER = "jabber:server";
/** RFC 6120 §5.4: STARTTLS negotiation. */
export const NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls";
/** RFC 6120 §6.4: SASL negotiation. */
export const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
/** RFC 6120 §7: resource binding. */
export const NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind";
/** RFC 3921 §3 (kept optional by draft-cridland-xmpp-session): legacy session establishment. */
export const NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session";
/** RFC 6120 §8.3.2: stanza error conditions. */
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
/** RFC 6120 §4.9.2: stream error conditions. */
export const NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams";
/** RFC 7395 §3.3: XMPP over WebSocket framing (`<open/>`, `<close/>`). */
export const NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";
/** RFC 6121 §2: roster management. */
export const NS_ROSTER = "jabber:iq:roster";
/** XEP-0030: service discovery, info. */
export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
/** XEP-0030: service discovery, items. */
export const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
/** XEP-0199: XMPP ping. */
export const NS_PING = "urn:xmpp:ping";
/** XEP-0092: software version. */
export const NS_VERSION = "jabber:iq:version";
/** XEP-0054: vcard-temp. */
export const NS_VCARD = "vcard-temp";
/** XEP-0191: blocking command. */
export const NS_BLOCKING = "urn:xmpp:blocking";
/** XEP-0280: message carbons. */
export const NS_CARBONS = "urn:xmpp:carbons:2";
/** XEP-0297: stanza forwarding. */
export const NS_FORWARD = "urn:xmpp:forward:0";
/** XEP-0203: delayed delivery. */
export const NS_DELAY = "urn:xmpp:delay";
/** XEP-0077: in-band registration. */
export const NS_REGISTER = "jabber:iq:register";
/** XEP-0077 §6: in-band registration stream feature. */
export const NS_REGISTER_FEATURE = "http://jabber.org/features/iq-register";
/** XEP-0160 / XEP-0013: disco feature advertising offline message storage. */
export const NS_OFFLINE = "msgoffline";
/** XEP-0334: message processing hints. */
export const NS_HINTS = "urn:xmpp:hints";
/** RFC 6121 §2.6: roster versioning stream feature. */
export const NS_ROSTER_VER = "urn:xmpp:features:rosterver";
/** RFC 6121 §3.4: subscription pre-approval stream feature. */
export const NS_PREAPPROVAL = "urn:xmpp:features:pre-approval";
