"""
Personal eventing with slixmpp (Debian's python3-slixmpp), a client not written here: its
xep_0115 plugin puts entity capabilities in presence and answers the server's disco#info for
them, xep_0163 adds the '+notify' interests of xep_0084 (avatars) and xep_0172 (nicknames).

usage: slixmpp_pep.py HOST ALICE_PORT BOB_PORT ALICE_JID ALICE_PASSWORD BOB_JID BOB_PASSWORD

Alice and Bob share presence; Alice publishes an avatar (data, then metadata) and a nickname,
Bob receives the notifications and fetches the avatar data by id. Every step's outcome is
printed as one JSON object on stdout; a failing step records its error and the rest still run.
"""
import asyncio
import base64
import hashlib
import json
import ssl
import sys

import slixmpp

HOST = sys.argv[1]
ALICE_PORT, BOB_PORT = int(sys.argv[2]), int(sys.argv[3])
ALICE, ALICE_PW, BOB, BOB_PW = sys.argv[4:8]
TIMEOUT = 10
AVATAR = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def client(jid, password):
    c = slixmpp.ClientXMPP(jid, password)
    c.auto_reconnect = False
    for plugin in ("xep_0030", "xep_0060", "xep_0115", "xep_0163", "xep_0084", "xep_0172"):
        c.register_plugin(plugin)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    c.events = asyncio.Queue()
    for name in ("avatar_metadata_publish", "user_nick_publish"):
        c.add_event_handler(name, lambda m, name=name: c.events.put_nowait((name, m)))
    return c


async def start(c, port):
    ready = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _e: ready.done() or ready.set_result(True))
    c.add_event_handler("failed_auth", lambda _e: ready.done() or ready.set_exception(RuntimeError("auth failed")))
    c.connect(address=(HOST, port), force_starttls=True)
    await asyncio.wait_for(ready, TIMEOUT)
    await asyncio.wait_for(c.get_roster(), TIMEOUT)
    c.send_presence()


async def next_event(c, wanted):
    while True:
        name, m = await asyncio.wait_for(c.events.get(), TIMEOUT)
        if name == wanted:
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
        alice.send_presence_subscription(pto=BOB)
        for _ in range(100):
            if alice.client_roster[BOB]["subscription"] == "both" and bob.client_roster[ALICE]["subscription"] == "both":
                break
            await asyncio.sleep(0.1)
        # slixmpp sends its caps again once its +notify interests are in; give the server the
        # moment it needs to ask for and verify them
        await asyncio.sleep(1.5)
        return {"subscription": bob.client_roster[ALICE]["subscription"]}

    await step("login", login)

    async def avatar():
        avatar_id = hashlib.sha1(AVATAR).hexdigest()
        await alice["xep_0084"].publish_avatar(AVATAR, timeout=TIMEOUT)
        await alice["xep_0084"].publish_avatar_metadata(items=[{"id": avatar_id, "type": "image/png", "bytes": len(AVATAR)}], timeout=TIMEOUT)
        m = await next_event(bob, "avatar_metadata_publish")
        info = m["pubsub_event"]["items"]["item"]["avatar_metadata"]["items"][0]
        iq = await bob["xep_0084"].retrieve_avatar(alice.boundjid.bare, avatar_id, timeout=TIMEOUT)
        data = iq["pubsub"]["items"]["item"]["avatar_data"]["value"]
        return {
            "from": str(m["from"]),
            "id": info["id"],
            "bytes": int(info["bytes"]),
            "data_matches": data == AVATAR or base64.b64decode(data) == AVATAR if isinstance(data, (bytes, str)) else False,
        }

    await step("avatar", avatar)

    async def nick():
        await alice["xep_0172"].publish_nick("Alice Interop", timeout=TIMEOUT)
        m = await next_event(bob, "user_nick_publish")
        return {"from": str(m["from"]), "nick": m["pubsub_event"]["items"]["item"]["nick"]["nick"]}

    await step("nick", nick)

    for c in (alice, bob):
        await c.disconnect()
    print(json.dumps(out))


asyncio.run(main())
