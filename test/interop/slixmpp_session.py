"""
Drives Switchboard with slixmpp (Debian's python3-slixmpp), a client not written here.

usage: slixmpp_session.py HOST ALICE_PORT BOB_PORT TLS_PORT ALICE_JID ALICE_PASSWORD BOB_JID BOB_PASSWORD

Alice and Bob log in with STARTTLS on their ports (two edges of a cluster, or one server twice);
a second resource of Alice's uses direct TLS (XEP-0368) on TLS_PORT.

Two accounts log in over STARTTLS and go through what a new user does first; every step's
outcome is printed as one JSON object on stdout. A step that fails records its error and the
rest still run, so the calling test can say exactly what broke. Exits 0 whenever it could report.
"""
import asyncio
import datetime
import json
import ssl
import sys

import slixmpp

HOST = sys.argv[1]
ALICE_PORT, BOB_PORT, TLS_PORT = (int(p) for p in sys.argv[2:5])
ALICE, ALICE_PW, BOB, BOB_PW = sys.argv[5:9]
DOMAIN = ALICE.split("@")[1]
TIMEOUT = 10


def client(jid, password):
    c = slixmpp.ClientXMPP(jid, password)
    c.auto_reconnect = False
    for plugin in ("xep_0012", "xep_0030", "xep_0054", "xep_0092", "xep_0191", "xep_0199", "xep_0202"):
        c.register_plugin(plugin)
    # the server's certificate is self-signed for its domain (embedded defaults)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    c.inbox = asyncio.Queue()
    c.add_event_handler("message", lambda m: c.inbox.put_nowait(m))
    return c


async def start(c, port, direct_tls=False):
    ready = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _e: ready.done() or ready.set_result(True))
    c.add_event_handler("failed_auth", lambda _e: ready.done() or ready.set_exception(RuntimeError("auth failed")))
    if direct_tls:
        c.connect(address=(HOST, port), use_ssl=True)
    else:
        c.connect(address=(HOST, port), force_starttls=True)
    await asyncio.wait_for(ready, TIMEOUT)
    await asyncio.wait_for(c.get_roster(), TIMEOUT)
    c.send_presence()


async def next_message(c, pred):
    while True:
        m = await asyncio.wait_for(c.inbox.get(), TIMEOUT)
        if pred(m):
            return m


async def main():
    out = {}
    alice, bob = client(ALICE, ALICE_PW), client(BOB, BOB_PW)

    async def step(name, fn):
        try:
            out[name] = await fn()
        except Exception as e:  # reported, not raised: the test names the failing step
            out[name] = {"error": f"{type(e).__name__}: {e}"}

    async def login():
        await start(alice, ALICE_PORT)
        await start(bob, BOB_PORT)
        # the SASL mechanism slixmpp chose (the -PLUS one with tls-unique when it is offered)
        mech = alice["feature_mechanisms"].mech.name
        return {"alice": str(alice.boundjid), "bob": str(bob.boundjid), "mechanism": mech}

    await step("login", login)

    async def chat():
        alice.send_message(mto=BOB, mbody="hello from slixmpp", mtype="chat")
        m = await next_message(bob, lambda m: m["body"] == "hello from slixmpp")
        return {"from": str(m["from"].bare), "body": m["body"], "type": m["type"]}

    await step("chat", chat)

    async def subscribe():
        # slixmpp answers subscription requests itself (auto_authorize, auto_subscribe)
        alice.send_presence_subscription(pto=BOB)
        for _ in range(100):
            if alice.client_roster[BOB]["subscription"] == "both" and bob.client_roster[ALICE]["subscription"] == "both":
                break
            await asyncio.sleep(0.1)
        return {
            "alice_sees_bob": alice.client_roster[BOB]["subscription"],
            "bob_sees_alice": bob.client_roster[ALICE]["subscription"],
        }

    await step("subscribe", subscribe)

    async def disco():
        iq = await alice["xep_0030"].get_info(jid=DOMAIN, timeout=TIMEOUT)
        return {"features": sorted(iq["disco_info"]["features"])}

    await step("disco", disco)

    async def ping():
        rtt = await alice["xep_0199"].ping(jid=DOMAIN, timeout=TIMEOUT)
        return {"answered": rtt is not None}

    await step("ping", ping)

    async def version():
        iq = await alice["xep_0092"].get_version(DOMAIN, timeout=TIMEOUT)
        return {"name": iq["software_version"]["name"]}

    await step("version", version)

    async def vcard():
        card = alice["xep_0054"].make_vcard()
        card["FN"] = "Alice Interop"
        await alice["xep_0054"].publish_vcard(card, timeout=TIMEOUT)
        iq = await bob["xep_0054"].get_vcard(jid=ALICE, timeout=TIMEOUT)
        return {"fn": iq["vcard_temp"]["FN"]}

    await step("vcard", vcard)

    async def entity_time():
        iq = await alice["xep_0202"].get_entity_time(DOMAIN, timeout=TIMEOUT)
        # COMPAT: slixmpp's iq["entity_time"]["utc"] appends a second "Z" to the XEP-0082 text
        # ("...Z" + "Z") and fails to parse it, so read the elements' text directly
        utc = iq["entity_time"].xml.find("{urn:xmpp:time}utc").text
        parsed = datetime.datetime.strptime(utc, "%Y-%m-%dT%H:%M:%S.%f%z")
        skew = abs((parsed - datetime.datetime.now(datetime.timezone.utc)).total_seconds())
        return {
            "tzo": iq["entity_time"].xml.find("{urn:xmpp:time}tzo").text,
            "utc_ends_in_z": utc.endswith("Z"),
            "skew_below_30s": skew < 30,
        }

    await step("entity_time", entity_time)

    async def uptime():
        iq = await alice["xep_0012"].get_last_activity(DOMAIN, timeout=TIMEOUT)
        return {"seconds": iq["last_activity"]["seconds"]}

    await step("uptime", uptime)

    async def blocking():
        await bob["xep_0191"].block([ALICE], timeout=TIMEOUT)
        listed = await bob["xep_0191"].get_blocked(timeout=TIMEOUT)
        alice.send_message(mto=BOB, mbody="are you there?", mtype="chat")
        bounce = await next_message(alice, lambda m: m["type"] == "error")
        await bob["xep_0191"].unblock([ALICE], timeout=TIMEOUT)
        alice.send_message(mto=BOB, mbody="after unblock", mtype="chat")
        again = await next_message(bob, lambda m: m["body"] == "after unblock")
        return {
            "blocklist": sorted(str(j) for j in listed["blocklist"]["items"]),
            "bounce": bounce["error"]["condition"],
            "after_unblock": again["body"],
        }

    await step("blocking", blocking)

    laptop = client(f"{ALICE}/laptop", ALICE_PW)

    async def direct_tls():
        await start(laptop, TLS_PORT, direct_tls=True)
        bob.send_message(mto=f"{ALICE}/laptop", mbody="to the laptop", mtype="chat")
        m = await next_message(laptop, lambda m: m["body"] == "to the laptop")
        return {"bound": str(laptop.boundjid), "body": m["body"]}

    await step("direct_tls", direct_tls)

    async def last_activity():
        # Bob and Alice share presence (the subscribe step), so each may ask about the other
        online = await alice["xep_0012"].get_last_activity(BOB, timeout=TIMEOUT)
        # a client's idle time: the server delivers the query to Bob's client, which answers
        await bob["xep_0012"].set_last_activity(jid=bob.boundjid, seconds=42)
        idle = await alice["xep_0012"].get_last_activity(bob.boundjid, timeout=TIMEOUT)
        bob.send_presence(ptype="unavailable", pstatus="gone fishing")
        await bob.disconnect()
        gone = None
        for _ in range(50):
            try:
                iq = await alice["xep_0012"].get_last_activity(BOB, timeout=TIMEOUT)
                if iq["last_activity"]["status"] == "gone fishing":
                    gone = iq["last_activity"]
                    break
            except slixmpp.exceptions.IqError:
                pass  # Bob's stream may be unbound a moment before his goodbye is stored
            await asyncio.sleep(0.1)
        return {
            "online_seconds": online["last_activity"]["seconds"],
            "idle_seconds": idle["last_activity"]["seconds"],
            "offline_status": gone and gone["status"],
            "offline_recent": gone is not None and gone["seconds"] < 30,
        }

    await step("last_activity", last_activity)

    for c in (alice, bob, laptop):
        c.disconnect()
    print(json.dumps(out), flush=True)


asyncio.run(main())
