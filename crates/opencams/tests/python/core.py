"""Calls opencams through aliyun-python-sdk-core's CommonRequest (v1 HMAC-SHA1 signatures).

stdin: {"endpoint", "ak", "sk", "action", "method": "POST", "params": {...}}
stdout: {"ok": true, "body": {...}} or {"ok": false, "code", "message", "status"}.
"""
import json
import sys

from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest


def main():
    spec = json.load(sys.stdin)
    client = AcsClient(spec["ak"], spec["sk"], "ap-southeast-1")
    req = CommonRequest(domain=spec["endpoint"], version="2020-06-06", action_name=spec["action"])
    req.set_protocol_type("http")
    req.set_method(spec.get("method", "POST"))
    for k, v in spec.get("params", {}).items():
        req.add_query_param(k, v)
    try:
        body = client.do_action_with_exception(req)
        print(json.dumps({"ok": True, "body": json.loads(body)}))
    except ServerException as e:
        print(json.dumps({"ok": False, "code": e.get_error_code(), "message": e.get_error_msg(), "status": e.get_http_status()}))
    except ClientException as e:
        print(json.dumps({"ok": False, "code": e.get_error_code(), "message": e.get_error_msg(), "status": None}))


if __name__ == "__main__":
    main()
