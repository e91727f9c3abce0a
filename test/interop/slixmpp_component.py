"""
Drives Switchboard's XEP-0114 listener with slixmpp's ComponentXMPP (Debian's python3-slixmpp).

usage: slixmpp_component.py HOST COMPONENT_PORT C2S_PORT COMPONENT SECRET USER_JID USER_PASSWORD

A component at COMPONENT handshakes with SECRET, echoes every chat message and answers disco#info
(its xep_0030 plugin); a client logs in as USER_JID on C2S_PORT, sends the component a message
and reads the echo, and asks the component for disco#info. Then a second component connects
with a wrong secret. Every step's outcome is one entry of the JSON object printed on stdout; a
failing step records its error and the rest still run. Exits 0 whenever it could report.
"""
import asyncio
import json
import ssl
import sys

import slixmpp
from slixmpp.componentxmpp import ComponentXMPP

HOST, CPORT, PORT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
COMPONENT, SECRET, USER, USER_PW = sys.argv[4:8]
TIMEOUT = 10


def component(secret):
    c = ComponentXMPP(COMPONENT, secret, HOST, CPORT)
    c.auto_reconnect = False
    c.register_plugin("xep_0030")
    c["xep_0030"].add_identity(category="component", itype="generic", name="Echo", jid=COMPONENT)
    c.stream_errors = asyncio.Queue()
    c.add_event_handler("stream_error", lambda e: c.stream_errors.put_nowait(e["condition"]))

    def echo(msg):
        if msg["type"] in ("chat", "normal") and msg["body"]:
            msg.reply("echo: " + msg["body"]).send()

    c.add_event_handler("message", echo)
    return c


async def started(c, connect):
    ready = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _e: ready.done() or ready.set_result(True))
    connect()
    await asyncio.wait_for(ready, TIMEOUT)


async def main():
    out = {}

    async def step(name, fn):
        try:
            out[name] = await fn()
        except Exception as e:  # reported, not raised: the test names the failing step
            out[name] = {"error": f"{type(e).__name__}: {e}"}

    comp = component(SECRET)
    user = slixmpp.ClientXMPP(USER, USER_PW)
    user.auto_reconnect = False
    user.register_plugin("xep_0030")
    user.ssl_context.check_hostname = False
    user.ssl_context.verify_mode = ssl.CERT_NONE
    user.messages = asyncio.Queue()
    user.add_event_handler("message", lambda m: user.messages.put_nowait(m))

    async def handshake():
        await started(comp, lambda: comp.connect())
        return {"ok": True}

    await step("handshake", handshake)

    async def echo():
        await started(user, lambda: user.connect(address=(HOST, PORT), force_starttls=True))
        # The client's edge lists the component once it knows where it is (another edge, in a cluster).
        domain = USER.split("@", 1)[1]
        for _ in range(100):
            items = await user["xep_0030"].get_items(jid=domain, timeout=TIMEOUT)
            if any(str(i[0]) == COMPONENT for i in items["disco_items"]["items"]):
                break
            await asyncio.sleep(0.05)
        user.send_message(mto=f"bot@{COMPONENT}", mbody="hello component", mtype="chat")
        m = await asyncio.wait_for(user.messages.get(), TIMEOUT)
        return {"body": m["body"], "from": str(m["from"])}

    await step("echo", echo)

    async def disco():
        info = await user["xep_0030"].get_info(jid=COMPONENT, timeout=TIMEOUT)
        return {"identities": [[i[0], i[1]] for i in info["disco_info"]["identities"]]}

    await step("disco", disco)

    async def wrong_secret():
        bad = component("not the secret")
        bad.connect()
        return {"condition": await asyncio.wait_for(bad.stream_errors.get(), TIMEOUT)}

    await step("wrong_secret", wrong_secret)

    user.disconnect()
    comp.disconnect()
    print(json.dumps(out), flush=True)


asyncio.run(main())
