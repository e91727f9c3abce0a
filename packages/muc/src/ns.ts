/** The namespaces and status codes of XEP-0045 and the XEPs a room speaks. */

export const NS_MUC = "http://jabber.org/protocol/muc";
export const NS_MUC_USER = "http://jabber.org/protocol/muc#user";
export const NS_MUC_ADMIN = "http://jabber.org/protocol/muc#admin";
export const NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner";
/** §15.5.3: the owner's configuration form */
export const FORM_ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig";
/** §15.5.4: extended room information in disco#info */
export const FORM_ROOMINFO = "http://jabber.org/protocol/muc#roominfo";
/** §8.6: a visitor's request for voice */
export const FORM_REQUEST = "http://jabber.org/protocol/muc#request";
export const NS_DATA = "jabber:x:data";
/** XEP-0421 */
export const NS_OCCUPANT_ID = "urn:xmpp:occupant-id:0";
/** XEP-0410: the service answers a self-ping itself */
export const NS_SELF_PING = "http://jabber.org/protocol/muc#self-ping-optimization";
/** XEP-0059 */
export const NS_RSM = "http://jabber.org/protocol/rsm";

/** §15.6.2 status codes, by what they say. */
export const STATUS = {
  nonAnonymous: "100",
  configChanged: "104",
  self: "110",
  created: "201",
  banned: "301",
  nickChanged: "303",
  kicked: "307",
  affiliationChange: "321",
  membersOnly: "322",
  shutdown: "332",
  /** XEP-0045 v1.34: removed because of a technical problem (its session went away) */
  technical: "333",
} as const;
