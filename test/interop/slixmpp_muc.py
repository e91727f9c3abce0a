"""
Drives Switchboard's multi-user chat with slixmpp's xep_0045 plugin (Debian's python3-slixmpp).

usage: slixmpp_muc.py HOST PORT OWNER_JID OWNER_PASSWORD GUEST_JID GUEST_PASSWORD ROOM

The owner creates ROOM, fetches and submits its configuration form (moderated, with a title),
the guest joins as a visitor, the owner grants voice, they talk, the owner sets the subject,
makes the guest a member, lists the members, kicks the guest and destroys the room. Every step's
outcome is one entry of the JSON object printed on stdout; a failing step records its error and
the rest still run. Exits 0 whenever it could report.
"""
import asyncio
import json
import ssl
import sys

import slixmpp
from slixmpp.exceptions import PresenceError

HOST, PORT = sys.argv[1], int(sys.argv[2])
OWNER, OWNER_PW, GUEST, GUEST_PW, ROOM = sys.argv[3:8]
TIMEOUT = 10


def client(jid, password):
    c = slixmpp.ClientXMPP(jid, password)
    c.auto_reconnect = False
    for plugin in ("xep_0030", "xep_0045", "xep_0199"):
        c.register_plugin(plugin)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    c.groupchat = asyncio.Queue()
    c.presences = asyncio.Queue()
    c.add_event_handler("groupchat_message", lambda m: c.groupchat.put_nowait(m))
    c.add_event_handler("groupchat_presence", lambda p: c.presences.put_nowait(p))
    return c


async def start(c):
    ready = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _e: ready.done() or ready.set_result(True))
    c.add_event_handler("failed_auth", lambda _e: ready.done() or ready.set_exception(RuntimeError("auth failed")))
    c.connect(address=(HOST, PORT), force_starttls=True)
    await asyncio.wait_for(ready, TIMEOUT)
    c.send_presence()


async def next_item(queue, pred):
    while True:
        item = await asyncio.wait_for(queue.get(), TIMEOUT)
        if pred(item):
            return item


def codes(pres):
    return sorted(str(s) for s in pres["muc"]["status_codes"])


async def main():
    out = {}
    owner, guest = client(OWNER, OWNER_PW), client(GUEST, GUEST_PW)

    async def step(name, fn):
        try:
            out[name] = await fn()
        except PresenceError as e:
            out[name] = {"error": e.presence["error"]["condition"]}
        except Exception as e:  # reported, not raised: the test names the failing step
            out[name] = {"error": f"{type(e).__name__}: {e}"}

    async def login():
        await start(owner)
        await start(guest)
        return {"ok": True}

    await step("login", login)

    async def create():
        pres, _subject, _occupants, _history = await owner["xep_0045"].join_muc_wait(ROOM, "Owner", maxstanzas=0, timeout=TIMEOUT)
        return {"codes": codes(pres), "affiliation": pres["muc"]["affiliation"], "role": pres["muc"]["role"]}

    await step("create", create)

    async def configure():
        form = await owner["xep_0045"].get_room_config(ROOM, timeout=TIMEOUT)
        fields = form.get_fields()
        form.set_values({"muc#roomconfig_roomname": "Interop Room", "muc#roomconfig_moderatedroom": True})
        await owner["xep_0045"].set_room_config(ROOM, form, timeout=TIMEOUT)
        info = await owner["xep_0030"].get_info(jid=ROOM, timeout=TIMEOUT)
        return {
            "has_fields": all(f in fields for f in ("muc#roomconfig_roomname", "muc#roomconfig_persistentroom", "muc#roomconfig_moderatedroom")),
            "name": [i[3] for i in info["disco_info"]["identities"]][0],
            "moderated": "muc_moderated" in info["disco_info"]["features"],
        }

    await step("configure", configure)

    async def join():
        pres, subject, occupants, _history = await guest["xep_0045"].join_muc_wait(ROOM, "Guest", maxstanzas=0, timeout=TIMEOUT)
        return {"role": pres["muc"]["role"], "others": sorted(p["from"].resource for p in occupants if p["from"].resource != "Guest"), "subject_from": str(subject["from"])}

    await step("join", join)

    async def voice():
        await owner["xep_0045"].set_role(ROOM, "Guest", "participant", timeout=TIMEOUT)
        p = await next_item(guest.presences, lambda p: p["from"].resource == "Guest" and p["muc"]["role"] == "participant")
        return {"role": p["muc"]["role"]}

    await step("voice", voice)

    async def talk():
        guest.send_message(mto=ROOM, mbody="hello room", mtype="groupchat")
        m = await next_item(owner.groupchat, lambda m: m["body"] == "hello room")
        owner.send_message(mto=ROOM, mbody="welcome", mtype="groupchat")
        back = await next_item(guest.groupchat, lambda m: m["body"] == "welcome")
        return {"from": m["from"].resource, "back_from": back["from"].resource}

    await step("talk", talk)

    async def subject():
        done = asyncio.get_running_loop().create_future()
        guest.add_event_handler("groupchat_subject", lambda m: done.done() or (m["subject"] == "Interop" and done.set_result(m)))
        owner["xep_0045"].set_subject(ROOM, "Interop")
        m = await asyncio.wait_for(done, TIMEOUT)
        return {"subject": m["subject"], "by": m["from"].resource}

    await step("subject", subject)

    async def affiliation():
        await owner["xep_0045"].set_affiliation(ROOM, "member", jid=slixmpp.JID(GUEST), timeout=TIMEOUT)
        members = await owner["xep_0045"].get_affiliation_list(ROOM, "member", timeout=TIMEOUT)
        return {"members": sorted(str(j) for j in members)}

    await step("affiliation", affiliation)

    async def kick():
        await owner["xep_0045"].set_role(ROOM, "Guest", "none", reason="bye", timeout=TIMEOUT)
        p = await next_item(guest.presences, lambda p: p["type"] == "unavailable" and p["from"].resource == "Guest")
        return {"codes": codes(p)}

    await step("kick", kick)

    async def destroy():
        await owner["xep_0045"].destroy(ROOM, reason="done", timeout=TIMEOUT)
        try:
            await owner["xep_0030"].get_info(jid=ROOM, timeout=TIMEOUT)
            return {"gone": False}
        except slixmpp.exceptions.IqError as e:
            return {"gone": e.iq["error"]["condition"]}

    await step("destroy", destroy)

    for c in (owner, guest):
        c.disconnect()
    print(json.dumps(out), flush=True)


asyncio.run(main())
