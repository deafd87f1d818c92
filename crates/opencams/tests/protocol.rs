//! The CAMS protocol end to end: the real server, the official Python SDKs (both signature
//! schemes) and raw HTTP for malformed requests.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use common::*;
use serde_json::{Value, json};

fn phone_numbers(r: &Value) -> Vec<String> {
    r["body"]["PhoneNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["PhoneNumber"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn official_sdks_query_the_numbers_the_cli_added_with_both_schemes() {
    let s = Server::start();
    assert!(
        s.banner.contains("alibabacloud_cams20200606"),
        "bootstrap prints an SDK snippet:\n{}",
        s.banner
    );
    let added = s.cli_json(&[
        "number",
        "add",
        "--account",
        "default",
        "8613700000001",
        "--verified-name",
        "Acme",
    ]);
    assert_eq!(added["PhoneNumber"], "8613700000001");

    // V3 (ACS3-HMAC-SHA256), the SDK default
    let r = s.sdk1("query_chatapp_phone_numbers", json!({}));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["body"]["Code"], "OK");
    assert_eq!(r["body"]["Success"], true);
    assert_eq!(phone_numbers(&r), vec!["8613600000000", "8613700000001"]);
    let acme = &r["body"]["PhoneNumbers"][1];
    assert_eq!(acme["VerifiedName"], "Acme");
    assert_eq!(acme["Status"], "CONNECTED");
    assert!(r["body"]["RequestId"].as_str().unwrap().len() == 36);

    // filters: explicit space, status
    let r = s.sdk1(
        "query_chatapp_phone_numbers",
        json!({"CustSpaceId": s.space, "Status": "CONNECTED"}),
    );
    assert_eq!(phone_numbers(&r).len(), 2);
    let r = s.sdk1("query_chatapp_phone_numbers", json!({"Status": "BANNED"}));
    assert_eq!(phone_numbers(&r).len(), 0);
    let r = s.sdk1("query_chatapp_phone_numbers", json!({"Status": "sideways"}));
    assert_sdk_error(&r, "InvalidParameter", 400);
    assert!(r["message"].as_str().unwrap().contains("Status"), "{r}");

    // V1 (HMAC-SHA1) through the same SDK
    let r = s
        .sdk_as(
            &s.ak,
            &s.sk,
            true,
            json!([{"op": "query_chatapp_phone_numbers", "request": {}}]),
        )
        .remove(0);
    assert_eq!(phone_numbers(&r), vec!["8613600000000", "8613700000001"]);

    // V1 through aliyun-python-sdk-core's CommonRequest, POST and GET
    for method in ["POST", "GET"] {
        let r = run_python(
            "core.py",
            &json!({"endpoint": s.addr, "ak": s.ak, "sk": s.sk, "action": "QueryChatappPhoneNumbers", "method": method}),
        );
        assert_eq!(r["ok"], true, "{method}: {r}");
        assert_eq!(r["body"]["PhoneNumbers"].as_array().unwrap().len(), 2);
    }
    let r = run_python(
        "core.py",
        &json!({"endpoint": s.addr, "ak": s.ak, "sk": "wrong", "action": "QueryChatappPhoneNumbers"}),
    );
    assert_eq!(r["code"], "SignatureDoesNotMatch", "{r}");
    assert_eq!(r["status"], 400, "{r}");

    // metrics count requests by action and code
    let (status, text) = s.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        text.contains(r#"opencams_requests_total{action="QueryChatappPhoneNumbers",code="OK"}"#),
        "metrics:\n{text}"
    );
    assert!(
        text.contains("opencams_request_duration_seconds_bucket"),
        "histogram missing:\n{text}"
    );
    assert_eq!(s.get("/healthz").0, 200);
    assert_eq!(s.get("/readyz").0, 200);
}

#[test]
fn authentication_failures_reach_the_sdk_with_their_codes() {
    let s = Server::start();
    let q = json!([{"op": "query_chatapp_phone_numbers", "request": {}}]);

    let r = s
        .sdk_as(&s.ak, "not-the-secret", false, q.clone())
        .remove(0);
    assert_sdk_error(&r, "SignatureDoesNotMatch", 400);
    assert_eq!(r["exception"], "ClientException");
    let r = s.sdk_as(&s.ak, "not-the-secret", true, q.clone()).remove(0);
    assert_sdk_error(&r, "SignatureDoesNotMatch", 400);

    let r = s
        .sdk_as("LTAInosuchkey000000000000", "x", false, q.clone())
        .remove(0);
    assert_sdk_error(&r, "InvalidAccessKeyId.NotFound", 404);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("Specified access key is not found."),
        "{r}"
    );

    // a disabled key (disabled before it was ever used, so no cache is involved)
    let k = s.cli_json(&["key", "create", "--account", "default"]);
    let (kid, ksecret) = (
        k["AccessKeyId"].as_str().unwrap(),
        k["AccessKeySecret"].as_str().unwrap(),
    );
    s.cli_json(&["key", "disable", kid]);
    let r = s.sdk_as(kid, ksecret, false, q.clone()).remove(0);
    assert_sdk_error(&r, "InvalidAccessKeyId.Inactive", 400);
    s.cli_json(&["key", "enable", kid]);
    std::thread::sleep(std::time::Duration::from_millis(2100)); // the key cache lives 2 s
    let r = s.sdk_as(kid, ksecret, false, q.clone()).remove(0);
    assert_eq!(r["ok"], true, "{r}");

    // a key limited to another space of the account
    let other = s.cli_json(&["space", "create", "--account", "default"]);
    let other_space = other["CustSpaceId"].as_str().unwrap();
    let limited = s.cli_json(&[
        "key",
        "create",
        "--account",
        "default",
        "--spaces",
        other_space,
    ]);
    let (lid, lsecret) = (
        limited["AccessKeyId"].as_str().unwrap(),
        limited["AccessKeySecret"].as_str().unwrap(),
    );
    let r = s
        .sdk_as(
            lid,
            lsecret,
            false,
            json!([{"op": "query_chatapp_phone_numbers", "request": {"CustSpaceId": s.space}}]),
        )
        .remove(0);
    assert_sdk_error(&r, "Ram.PermissionDeny", 400);
    let r = s
        .sdk_as(
            lid,
            lsecret,
            false,
            json!([{"op": "query_chatapp_phone_numbers", "request": {"CustSpaceId": other_space}}]),
        )
        .remove(0);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(phone_numbers(&r).len(), 0, "the other space has no numbers");

    // another account's space
    let foreign = s.cli_json(&["account", "create", "globex"]);
    let r = s.sdk1(
        "query_chatapp_phone_numbers",
        json!({"CustSpaceId": foreign["DefaultSpace"]}),
    );
    assert_sdk_error(&r, "Unknown.ResourceOwnerId", 400);
    let r = s.sdk1(
        "query_chatapp_phone_numbers",
        json!({"CustSpaceId": "cams-doesnotexist"}),
    );
    assert_sdk_error(&r, "Unknown.ResourceOwnerId", 400);

    // an account whose service is not opened
    let gk = s.cli_json(&["key", "create", "--account", "globex"]);
    s.cli_json(&["account", "disable", "globex"]);
    let r = s
        .sdk_as(
            gk["AccessKeyId"].as_str().unwrap(),
            gk["AccessKeySecret"].as_str().unwrap(),
            false,
            q.clone(),
        )
        .remove(0);
    assert_sdk_error(&r, "Product.Unsubscript", 400);
}

fn sign(s: &Server, action: &str, params: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    signed_v3(&s.addr, &s.ak, &s.sk, action, params)
}

fn set_header(headers: &mut [(String, String)], name: &str, value: &str) {
    for (k, v) in headers.iter_mut() {
        if k == name {
            *v = value.to_string();
        }
    }
}

#[test]
fn malformed_requests_get_their_documented_errors() {
    let s = Server::start();
    let check = |(status, headers, body): (u16, Vec<(String, String)>, Value),
                 want_status: u16,
                 code: &str| {
        assert_eq!(status, want_status, "{code}: {body}");
        assert_eq!(body["Code"], code, "{body}");
        assert!(body["Message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(body["RequestId"].as_str().is_some());
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "x-acs-request-id" && *v == body["RequestId"]),
            "{headers:?}"
        );
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "content-type" && v.starts_with("application/json"))
        );
        (headers, body)
    };
    // anonymous, garbled, unsupported algorithm
    check(
        s.raw("POST", "/?Action=QueryChatappPhoneNumbers", &[], b""),
        400,
        "IncompleteSignature",
    );
    let h = vec![(
        "authorization".to_string(),
        "ACS3-HMAC-SM3 Credential=x,SignedHeaders=host,Signature=y".to_string(),
    )];
    check(s.raw("POST", "/", &h, b""), 400, "IncompleteSignature");
    let h = vec![("x-acs-bearer-token".to_string(), "t".to_string())];
    check(s.raw("POST", "/", &h, b""), 400, "IncompleteSignature");

    // a good request works raw, and replaying it is refused
    let (target, headers) = sign(&s, "QueryChatappPhoneNumbers", &[]);
    let (_, body) = check_ok(s.raw("POST", &target, &headers, b""));
    assert_eq!(body["PhoneNumbers"][0]["PhoneNumber"], "8613600000000");
    check(
        s.raw("POST", &target, &headers, b""),
        400,
        "SignatureNonceUsed",
    );

    // tampering with a signed header or the query breaks the signature
    let (target, mut headers) = sign(&s, "QueryChatappPhoneNumbers", &[("Status", "CONNECTED")]);
    set_header(&mut headers, "x-acs-signature-nonce", "another-nonce");
    check(
        s.raw("POST", &target, &headers, b""),
        400,
        "SignatureDoesNotMatch",
    );
    let (target, headers) = sign(&s, "QueryChatappPhoneNumbers", &[("Status", "CONNECTED")]);
    check(
        s.raw(
            "POST",
            &target.replace("CONNECTED", "BANNED"),
            &headers,
            b"",
        ),
        400,
        "SignatureDoesNotMatch",
    );
    // a body whose hash differs from x-acs-content-sha256
    let (target, mut headers) = sign(&s, "QueryChatappPhoneNumbers", &[]);
    headers.push(("content-type".into(), "application/json".into()));
    check(
        s.raw("POST", &target, &headers, b"{}"),
        400,
        "IncompleteSignature",
    ); // body without signed content-type
    let (target, headers) = sign(&s, "QueryChatappPhoneNumbers", &[]);
    let mut h2 = headers.clone();
    set_header(&mut h2, "x-acs-content-sha256", &"0".repeat(64));
    check(
        s.raw("POST", &target, &h2, b""),
        400,
        "SignatureDoesNotMatch",
    );

    // dates: malformed, too old (both signed correctly)
    for (date, code) in [
        ("yesterday", "InvalidTimeStamp.Format"),
        ("2020-01-01T00:00:00Z", "InvalidTimeStamp.Expired"),
    ] {
        let signed = opencams_protocol::v3::sign(
            "POST",
            &s.addr,
            "QueryChatappPhoneNumbers",
            "2020-06-06",
            &[],
            b"",
            None,
            &s.ak,
            &s.sk,
            date,
            &opencams_protocol::envelope::nonce(),
        );
        check(s.raw("POST", "/", &signed.headers, b""), 400, code);
    }

    // version and action
    let signed = opencams_protocol::v3::sign(
        "POST",
        &s.addr,
        "QueryChatappPhoneNumbers",
        "2019-01-01",
        &[],
        b"",
        None,
        &s.ak,
        &s.sk,
        &opencams_protocol::time_fmt::format(now()),
        &opencams_protocol::envelope::nonce(),
    );
    check(
        s.raw("POST", "/", &signed.headers, b""),
        400,
        "InvalidVersion",
    );
    let (target, headers) = sign(&s, "NoSuchAction", &[]);
    check(
        s.raw("POST", &target, &headers, b""),
        404,
        "InvalidAction.NotFound",
    );
    let (target, headers) = sign(
        &s,
        "QueryChatappPhoneNumbers",
        &[("Action", "SomethingElse")],
    );
    check(
        s.raw("POST", &target, &headers, b""),
        400,
        "InvalidParameter",
    );
    check(
        s.raw("GET", "/no/such/path", &[], b""),
        404,
        "InvalidAction.NotFound",
    );
    check(s.raw("PUT", "/", &[], b""), 403, "UnsupportedHTTPMethod");

    // a parameter given twice
    let (target, headers) = sign(&s, "QueryChatappPhoneNumbers", &[("Status", "CONNECTED")]);
    let (_, body) = check(
        s.raw("POST", &format!("{target}&Status=BANNED"), &headers, b""),
        400,
        "InvalidParameter",
    );
    assert!(body["Message"].as_str().unwrap().contains("Status"));

    // V1 without a timestamp, with a wrong method
    let q = opencams_protocol::v1::sign(
        "POST",
        "QueryChatappPhoneNumbers",
        "2020-06-06",
        vec![],
        &s.ak,
        &s.sk,
        &opencams_protocol::time_fmt::format(now()),
        &opencams_protocol::envelope::nonce(),
    );
    let without_ts: String = q
        .split('&')
        .filter(|p| !p.starts_with("Timestamp="))
        .collect::<Vec<_>>()
        .join("&");
    check(
        s.raw("POST", &format!("/?{without_ts}"), &[], b""),
        400,
        "MissingTimestamp",
    );
    check(
        s.raw(
            "POST",
            &format!("/?{}", q.replace("HMAC-SHA1", "HMAC-MD5")),
            &[],
            b"",
        ),
        400,
        "IncompleteSignature",
    );
    // V1 with its parameters in a form body (older SDK style) is accepted
    let q = opencams_protocol::v1::sign(
        "POST",
        "QueryChatappPhoneNumbers",
        "2020-06-06",
        vec![],
        &s.ak,
        &s.sk,
        &opencams_protocol::time_fmt::format(now()),
        &opencams_protocol::envelope::nonce(),
    );
    let form = vec![(
        "content-type".to_string(),
        "application/x-www-form-urlencoded".to_string(),
    )];
    check_ok(s.raw("POST", "/", &form, q.as_bytes()));
    // an oversized body
    let big = vec![b'a'; 1024 * 1024 + 10];
    check(s.raw("POST", "/", &form, &big), 400, "InvalidParameter");
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn check_ok(
    (status, headers, body): (u16, Vec<(String, String)>, Value),
) -> (Vec<(String, String)>, Value) {
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Code"], "OK", "{body}");
    (headers, body)
}

#[test]
fn rate_limits_answer_with_a_retry_after() {
    let s = Server::start();
    s.cli_json(&[
        "account",
        "set",
        "default",
        "qps.QueryChatappPhoneNumbers=1",
    ]);
    let calls =
        json!([{"op": "query_chatapp_phone_numbers"}, {"op": "query_chatapp_phone_numbers"}]);
    let r = s.sdk(calls);
    assert_eq!(r[0]["ok"], true, "{r:?}");
    assert_eq!(r[1]["code"], "System.LimitControl", "{r:?}");
    assert_eq!(
        r[1]["exception"], "ThrottlingException",
        "x-acs-retry-after makes the SDK throttle: {r:?}"
    );
    assert!(r[1]["retry_after"].as_i64().unwrap() > 0);

    s.cli_json(&[
        "account",
        "set",
        "default",
        "qps.QueryChatappPhoneNumbers=",
        "qps.api=1",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(2100)); // settings are cached for 2 s
    let r = s
        .sdk(json!([{"op": "query_chatapp_phone_numbers"}, {"op": "query_chatapp_phone_numbers"}]));
    assert_eq!(r[1]["code"], "Throttling.User", "{r:?}");
    assert_eq!(r[1]["exception"], "ThrottlingException");
}

#[test]
fn restart_keeps_accounts_and_keys_and_never_prints_the_secret_again() {
    let mut s = Server::start();
    let k = s.cli_json(&["key", "create", "--account", "default"]);
    assert_eq!(s.stop(), Some(0), "SIGTERM stops cleanly");
    let banner = s.restart();
    assert!(
        !banner.contains(&s.sk) && !banner.contains("AccessKeySecret"),
        "second start printed:\n{banner}"
    );
    let r = s.sdk1("query_chatapp_phone_numbers", json!({}));
    assert_eq!(r["ok"], true, "{r}");
    let r = s
        .sdk_as(
            k["AccessKeyId"].as_str().unwrap(),
            k["AccessKeySecret"].as_str().unwrap(),
            false,
            json!([{"op": "query_chatapp_phone_numbers"}]),
        )
        .remove(0);
    assert_eq!(r["ok"], true, "{r}");
    // the secrets are not readable from the SQLite files
    s.stop();
    for entry in std::fs::read_dir(&s.dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("opencams.db")
        {
            for secret in [s.sk.as_str(), k["AccessKeySecret"].as_str().unwrap()] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "secret found in {path:?}"
                );
            }
        }
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(s.dir.join("master.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn admin_cli_reports_bad_input_clearly() {
    let s = Server::start();
    let cases: &[(&[&str], &str)] = &[
        (
            &["key", "create", "--account", "nobody"],
            "no account named",
        ),
        (
            &["key", "create", "--account", "default", "--actions", "Nope"],
            "unknown action",
        ),
        (
            &[
                "key",
                "create",
                "--account",
                "default",
                "--spaces",
                "cams-x",
            ],
            "not a space of account",
        ),
        (
            &["number", "add", "--account", "default", "+86136"],
            "digits only",
        ),
        (
            &["number", "add", "--account", "default", "8613600000000"],
            "already registered",
        ),
        (
            &[
                "number",
                "add",
                "--account",
                "default",
                "8613600000009",
                "--channel",
                "whatsapp-cloud",
            ],
            "--phone-number-id",
        ),
        (
            &[
                "number",
                "add",
                "--account",
                "default",
                "8613600000009",
                "--throughput",
                "5000",
            ],
            "out of range",
        ),
        (&["account", "create", "bad name"], "not valid"),
        (&["account", "create", "default"], "already exists"),
        (&["account", "set", "default", "qps.api=zero"], "not a rate"),
        (&["key", "disable", "LTAInope"], "no access key"),
    ];
    for (args, needle) in cases {
        let (code, _, err) = s.cli(args);
        assert_ne!(code, 0, "{args:?} should fail");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let list = s.cli_json(&["key", "list"]);
    assert_eq!(list["Keys"].as_array().unwrap().len(), 1);
    assert!(
        list.to_string().find(&s.sk).is_none(),
        "key list never shows secrets"
    );
    let accounts = s.cli_json(&["account", "list"]);
    assert_eq!(accounts["Accounts"][0]["Account"], "default");
    let numbers = s.cli_json(&["number", "list"]);
    assert_eq!(numbers["Numbers"][0]["Channel"], "simulator");
}
