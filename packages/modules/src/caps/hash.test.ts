import { describe, expect, it } from "vitest";
import { parseFrame } from "@switchboard/xml";
import { capsClaim, capsVer } from "./hash.js";

const DISCO = "http://jabber.org/protocol/disco#info";

describe("XEP-0115 verification string", () => {
  it("gives the §5.2 simple example's ver", () => {
    const q = parseFrame(`<query xmlns='${DISCO}'><identity category='client' name='Exodus 0.9.1' type='pc'/>
      <feature var='http://jabber.org/protocol/caps'/><feature var='http://jabber.org/protocol/disco#info'/>
      <feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/muc'/></query>`);
    expect(capsVer(q)?.ver).toBe("QgayPKawpkPSDYmwT/WM94uAlu0=");
  });

  it("gives the §5.3 complex example's ver (languages, an extended form)", () => {
    const q = parseFrame(`<query xmlns='${DISCO}'>
      <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
      <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
      <feature var='http://jabber.org/protocol/caps'/><feature var='http://jabber.org/protocol/disco#info'/>
      <feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/muc'/>
      <x xmlns='jabber:x:data' type='result'>
        <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
        <field var='ip_version' type='text-multi'><value>ipv4</value><value>ipv6</value></field>
        <field var='os'><value>Mac</value></field><field var='os_version'><value>10.5.1</value></field>
        <field var='software'><value>Psi</value></field><field var='software_version'><value>0.11</value></field>
      </x></query>`);
    expect(capsVer(q)?.ver).toBe("q07IKJEyjvHSyhy//CH0CxmKi8w=");
  });

  it("refuses answers §5.4 calls invalid: repeated features or identities, a visible FORM_TYPE", () => {
    expect(capsVer(parseFrame(`<query xmlns='${DISCO}'><feature var='a'/><feature var='a'/></query>`))).toBeUndefined();
    expect(capsVer(parseFrame(`<query xmlns='${DISCO}'><identity category='c' type='t'/><identity category='c' type='t'/></query>`))).toBeUndefined();
    expect(capsVer(parseFrame(`<query xmlns='${DISCO}'><x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>u</value></field></x></query>`))).toBeUndefined();
  });

  it("reads a claim only when hash, node and ver are all there", () => {
    expect(capsClaim(parseFrame("<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>"))).toEqual({ hash: "sha-1", node: "n", ver: "v" });
    expect(capsClaim(parseFrame("<presence><c xmlns='http://jabber.org/protocol/caps' node='n' ver='v'/></presence>"))).toBeUndefined();
    expect(capsClaim(parseFrame("<presence/>"))).toBeUndefined();
  });
});
