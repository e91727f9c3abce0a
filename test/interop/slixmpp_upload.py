"""
HTTP File Upload (XEP-0363) with slixmpp's own xep_0363 plugin (Debian's python3-slixmpp, aiohttp
for the PUT), a client not written here: it finds the service through the domain's disco#items,
reads max-file-size, asks for a slot and PUTs the file over HTTPS.

usage: slixmpp_upload.py HOST PORT JID PASSWORD

The server's self-signed certificate is trusted through SSL_CERT_FILE (aiohttp verifies it).
Prints one JSON object: the GET URL, the max-file-size it read, and what a file over it got.
"""
import asyncio
import io
import json
import ssl
import sys

import slixmpp
from slixmpp.plugins.xep_0363 import FileTooBig

HOST, PORT, JID, PASSWORD = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
TIMEOUT = 15


async def main():
    out = {}
    c = slixmpp.ClientXMPP(JID, PASSWORD)
    c.auto_reconnect = False
    for plugin in ("xep_0030", "xep_0363"):
        c.register_plugin(plugin)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    ready = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _e: ready.done() or ready.set_result(True))
    c.add_event_handler("failed_auth", lambda _e: ready.done() or ready.set_exception(RuntimeError("auth failed")))
    c.connect(address=(HOST, PORT), force_starttls=True)
    await asyncio.wait_for(ready, TIMEOUT)
    try:
        # COMPAT: slixmpp 1.8.3's own discovery (get_info_from_domain) hands coroutines to
        # asyncio.wait, which Python 3.11+ refuses; the same walk, done here: disco#items of the
        # domain, disco#info of each item, the store/file identity with the feature.
        upload = c["xep_0363"]
        items = await c["xep_0030"].get_items(jid=JID.split("@")[1], timeout=TIMEOUT)
        for item in items["disco_items"]["items"]:
            info = await c["xep_0030"].get_info(jid=item[0], timeout=TIMEOUT)
            identities = [(i[0], i[1]) for i in info["disco_info"]["identities"]]
            if ("store", "file") in identities and "urn:xmpp:http:upload:0" in info["disco_info"]["features"]:
                upload.upload_service = info["from"]
                for form in info["disco_info"].iterables:
                    values = form["values"]
                    if values.get("FORM_TYPE") == ["urn:xmpp:http:upload:0"]:
                        upload.max_file_size = int(values["max-file-size"])
    except Exception as e:
        out["discoError"] = f"{type(e).__name__}: {e}"
    try:
        body = b"uploaded by slixmpp\n" * 100
        out["url"] = await asyncio.wait_for(
            c["xep_0363"].upload_file("hello slixmpp.txt", input_file=io.BytesIO(body), size=len(body), content_type="text/plain", timeout=TIMEOUT),
            TIMEOUT,
        )
        out["service"] = str(c["xep_0363"].upload_service)
        out["maxFileSize"] = c["xep_0363"].max_file_size
    except Exception as e:  # reported, not raised: the test says what broke
        out["error"] = f"{type(e).__name__}: {e}"
    try:
        await c["xep_0363"].upload_file("big.bin", input_file=io.BytesIO(b"x"), size=10**9, content_type="application/octet-stream", timeout=TIMEOUT)
        out["tooBig"] = "accepted"
    except FileTooBig:
        out["tooBig"] = "FileTooBig"
    except Exception as e:
        out["tooBig"] = f"{type(e).__name__}: {e}"
    c.disconnect()
    print(json.dumps(out))


asyncio.run(main())
