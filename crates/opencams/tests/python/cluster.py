"""Drives several opencams nodes round-robin with the official Python SDK, from several threads.

Reads one JSON document on stdin:
  {"endpoints": ["127.0.0.1:P1", ...], "ak": "...", "sk": "...", "threads": 6,
   "sends": [{"From": "...", "To": "...", "Content": "..."}, ...]}
Send i goes to endpoints[i % len(endpoints)]. Prints one JSON array with, per send,
{"node": k, "ok": true, "id": MessageId, "at_ms": ...} or {"node": k, "ok": false, "code": ...}.
A node that is down (killed mid-run) answers nothing: its sends are not acknowledged.
"""
import json
import sys
import threading
import time

from alibabacloud_cams20200606 import models
from alibabacloud_cams20200606.client import Client
from alibabacloud_tea_openapi.models import Config


def main():
    spec = json.load(sys.stdin)
    endpoints = spec["endpoints"]
    sends = spec["sends"]
    threads = spec.get("threads", 4)
    out = [None] * len(sends)

    def client(endpoint):
        return Client(Config(access_key_id=spec["ak"], access_key_secret=spec["sk"], endpoint=endpoint,
                             protocol="http", read_timeout=10000, connect_timeout=2000))

    def work(first):
        clients = [client(e) for e in endpoints]
        for i in range(first, len(sends), threads):
            node = i % len(endpoints)
            req = models.SendChatappMessageRequest().from_map(dict(
                ChannelType="whatsapp", Type="message", MessageType="text", **sends[i]))
            try:
                resp = clients[node].send_chatapp_message(req)
                out[i] = {"node": node, "ok": True, "id": resp.body.message_id,
                          "at_ms": int(time.time() * 1000)}
            except Exception as e:  # a refusal (ClientException, Throttling) or a dead node
                out[i] = {"node": node, "ok": False, "code": getattr(e, "code", None) or type(e).__name__,
                          "at_ms": int(time.time() * 1000)}

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
