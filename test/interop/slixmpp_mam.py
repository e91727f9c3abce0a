"""
History through slixmpp's own XEP-0313 plugin (Debian's python3-slixmpp), a client not written here.

usage: slixmpp_mam.py HOST ALICE_PORT BOB_PORT ALICE_JID ALICE_PASSWORD BOB_JID BOB_PASSWORD COUNT

Alice sends COUNT chat messages to Bob; Bob, then a fresh connection of Alice's, fetch the
conversation with xep_0313 (retrieve, and iterate backwards with RSM pages of 4), and Bob
reads the XEP-0359 stanza-id on a message he received. Prints one JSON object on stdout;
exits 0 whenever it could report.
"""
import asyncio
import json
import ssl
import sys

import slixmpp

HOST = sys.argv[1]
ALICE_PORT, BOB_PORT = int(sys.argv[2]), int(sys.argv[3])
ALICE, ALICE_PW, BOB, BOB_PW = sys.argv[4:8]
COUNT = int(sys.argv[8])
TIMEOUT = 15


def client(jid, password):
    c = slixmpp.ClientXMPP(jid, password)
    c.auto_reconnect = False
    for plugin in ("xep_0030", "xep_0059", "xep_0313", "xep_0359"):
        c.register_plugin(plugin)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    c.inbox = asyncio.Queue()
    c.add_event_handler("message", lambda m: c.inbox.put_nowait(m))
    return c


async def start(c, port):
    ready = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _e: ready.done() or ready.set_result(True))
    c.add_event_handler("failed_auth", lambda _e: ready.done() or ready.set_exception(RuntimeError("auth failed")))
    c.connect(address=(HOST, port), force_starttls=True)
    await asyncio.wait_for(ready, TIMEOUT)
    c.send_presence()


def bodies_of(results):
    return [r["mam_result"]["forwarded"]["stanza"]["body"] for r in results]


async def main():
    out = {}
    alice, bob = client(ALICE, ALICE_PW), client(BOB, BOB_PW)
    await start(alice, ALICE_PORT)
    await start(bob, BOB_PORT)
    sent = [f"history {i}" for i in range(COUNT)]
    for body in sent:
        alice.send_message(mto=BOB, mbody=body, mtype="chat")
    received = []
    while len(received) < COUNT:
        m = await asyncio.wait_for(bob.inbox.get(), TIMEOUT)
        if m["body"].startswith("history "):
            received.append(m)
    out["stanza_id_by"] = str(received[0]["stanza_id"]["by"]) if received[0]["stanza_id"]["id"] else None

    async def fetch(c, other):
        # the archive is written beside delivery: ask until everything is there
        for _ in range(50):
            iq = await c["xep_0313"].retrieve(with_jid=slixmpp.JID(other), rsm={"max": COUNT + 10}, timeout=TIMEOUT)
            results = iq["mam"]["results"]
            if len(results) >= COUNT:
                return iq, results
            await asyncio.sleep(0.1)
        return iq, results

    iq, results = await fetch(bob, ALICE)
    out["bob_history"] = bodies_of(results)
    out["bob_complete"] = iq["mam_fin"].xml.get("complete")
    out["bob_count"] = iq["mam_fin"]["rsm"]["count"]
    out["bob_first_id_matches_stanza_id"] = results[0]["mam_result"]["id"] == received[0]["stanza_id"]["id"]

    # a "reload": a new connection of Alice's pages backwards from the newest, as clients do
    again = client(ALICE, ALICE_PW)
    again.boundjid.resource = "reloaded"
    await start(again, ALICE_PORT)
    await fetch(again, BOB)
    newest_first = []
    async for message in again["xep_0313"].iterate(with_jid=slixmpp.JID(BOB), reverse=True, rsm={"max": 4}):
        newest_first.append(message["mam_result"]["forwarded"]["stanza"]["body"])
    out["alice_reverse"] = newest_first
    for c in (alice, bob, again):
        c.disconnect()
    print(json.dumps(out))


try:
    asyncio.run(asyncio.wait_for(main(), 80))
except Exception as err:  # report rather than crash: the test prints what broke
    print(json.dumps({"error": f"{type(err).__name__}: {err}"}))
