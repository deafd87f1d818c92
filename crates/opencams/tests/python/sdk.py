"""Drives opencams with the official Alibaba Cloud Python SDK (alibabacloud-cams20200606).

Reads one JSON document on stdin:
  {"endpoint": "127.0.0.1:PORT", "ak": "...", "sk": "...", "v1": false,
   "calls": [{"op": "query_chatapp_phone_numbers", "request": {"CustSpaceId": "..."}}]}
and prints one JSON array with, per call, {"ok": true, "body": {...}} or
{"ok": false, "exception": "ClientException", "code": "...", "message": "...", "status": 400,
 "retry_after": null, "data": {...}}.
"""
import json
import sys

from alibabacloud_cams20200606 import models
from alibabacloud_cams20200606.client import Client
from alibabacloud_tea_openapi.models import Config


def request_class(op):
    name = "".join(p.capitalize() for p in op.split("_")) + "Request"
    # the SDK spells a few acronyms its own way
    for cls in dir(models):
        if cls.lower() == name.lower():
            return getattr(models, cls)
    raise SystemExit(f"no request model for {op}")


def main():
    spec = json.load(sys.stdin)
    cfg = Config(access_key_id=spec["ak"], access_key_secret=spec["sk"], endpoint=spec["endpoint"], protocol="http",
                 read_timeout=30000, connect_timeout=5000)
    if spec.get("v1"):
        cfg.signature_algorithm = "v2"
    client = Client(cfg)
    out = []
    for call in spec["calls"]:
        req = request_class(call["op"])().from_map(call.get("request", {}))
        try:
            resp = getattr(client, call["op"])(req)
            out.append({"ok": True, "status": resp.status_code, "body": resp.body.to_map()})
        except Exception as e:  # the SDK's ClientException / ServerException / ThrottlingException
            out.append({
                "ok": False,
                "exception": type(e).__name__,
                "code": getattr(e, "code", None),
                "message": getattr(e, "message", str(e)),
                "status": (getattr(e, "data", None) or {}).get("statusCode"),
                "retry_after": getattr(e, "retry_after", None),
                "data": getattr(e, "data", None),
            })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
