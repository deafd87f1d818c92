//! The signature test vectors of cams-api.md §2.6 (computed with the Python SDK's own code), and
//! canonicalisation of tricky inputs.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use opencams_protocol::{v1, v3};

const AK: &str = "testAccessKeyId";
const SECRET: &str = "testAccessKeySecret";
const DATE: &str = "2025-01-15T08:30:00Z";
const NONCE: &str = "3f1c2a9e7b6d4e5f8a0b1c2d3e4f5a6b";
const HOST: &str = "cams.ap-southeast-1.aliyuncs.com";
const CONTENT: &str = r#"{"text":"Hello, world!"}"#;

fn business() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ChannelType", "whatsapp"),
        ("Type", "message"),
        ("MessageType", "text"),
        ("From", "8613800000000"),
        ("To", "8613900000000"),
        ("Content", CONTENT),
    ]
}

fn headers_of<'a>(h: &'a [(&'a str, &'a str)]) -> impl FnMut(&str) -> Vec<&'a str> {
    move |n| h.iter().filter(|(k, _)| *k == n).map(|(_, v)| *v).collect()
}

#[test]
fn vector_a_v3_minimal_headers() {
    // the raw query as a Java client would send it (%20 for spaces)
    let raw = opencams_protocol::encode::encode_pairs(business());
    let headers = [
        ("host", HOST),
        ("x-acs-action", "SendChatappMessage"),
        ("x-acs-version", "2020-06-06"),
        ("x-acs-date", DATE),
        ("x-acs-signature-nonce", NONCE),
        ("x-acs-content-sha256", v3::EMPTY_SHA256),
    ];
    let auth = v3::Authorization::parse("ACS3-HMAC-SHA256 Credential=testAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=4f84f210e5caa26f22e9371bc917925298dbcd7c51b8e50a89bdedba1904f822").unwrap();
    let cr = v3::canonical_request(
        "POST",
        "/",
        &raw,
        &auth.signed_headers,
        headers_of(&headers),
        v3::EMPTY_SHA256,
    )
    .unwrap();
    assert_eq!(
        cr,
        "POST\n/\nChannelType=whatsapp&Content=%7B%22text%22%3A%22Hello%2C%20world%21%22%7D&From=8613800000000&MessageType=text&To=8613900000000&Type=message\nhost:cams.ap-southeast-1.aliyuncs.com\nx-acs-action:SendChatappMessage\nx-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-acs-date:2025-01-15T08:30:00Z\nx-acs-signature-nonce:3f1c2a9e7b6d4e5f8a0b1c2d3e4f5a6b\nx-acs-version:2020-06-06\n\nhost;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let sts = v3::string_to_sign(&cr);
    assert_eq!(
        sts,
        "ACS3-HMAC-SHA256\nd8cd659f7c69d175b2ec17d87966eae43071ab08a9c7e45507f727adaa66c2e0"
    );
    assert_eq!(v3::signature(SECRET, &sts), auth.signature);
    // our own client signer produces the same thing for the same inputs
    let q: Vec<(String, String)> = business()
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let signed = v3::sign(
        "POST",
        HOST,
        "SendChatappMessage",
        "2020-06-06",
        &q,
        b"",
        None,
        AK,
        SECRET,
        DATE,
        NONCE,
    );
    let a = signed
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .unwrap();
    assert!(
        a.1.ends_with("Signature=4f84f210e5caa26f22e9371bc917925298dbcd7c51b8e50a89bdedba1904f822"),
        "{}",
        a.1
    );
}

fn vector_b_params() -> Vec<(&'static str, &'static str)> {
    let mut p = business();
    p.extend([
        ("AccessKeyId", AK),
        ("Action", "SendChatappMessage"),
        ("Version", "2020-06-06"),
        ("Format", "JSON"),
        ("Timestamp", DATE),
        ("SignatureNonce", NONCE),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
    ]);
    p
}

#[test]
fn vector_b_v1() {
    let sts = v1::string_to_sign("POST", vector_b_params());
    assert_eq!(
        sts,
        "POST&%2F&AccessKeyId%3DtestAccessKeyId%26Action%3DSendChatappMessage%26ChannelType%3Dwhatsapp%26Content%3D%257B%2522text%2522%253A%2522Hello%252C%2520world%2521%2522%257D%26Format%3DJSON%26From%3D8613800000000%26MessageType%3Dtext%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3f1c2a9e7b6d4e5f8a0b1c2d3e4f5a6b%26SignatureVersion%3D1.0%26Timestamp%3D2025-01-15T08%253A30%253A00Z%26To%3D8613900000000%26Type%3Dmessage%26Version%3D2020-06-06"
    );
    assert_eq!(v1::signature(SECRET, &sts), "ChtPfVSQi984iUS6gIHxXmSuevs=");
    let get = v1::string_to_sign("GET", vector_b_params());
    assert_eq!(v1::signature(SECRET, &get), "LzIPK9GeLCFchWfIexpU5AgidYM=");
}

const UA: &str = "AlibabaCloud (Linux; x86_64) Python/3.11.9 Core/0.4.3 TeaDSL/2";
const C_SIGNED: &str = "accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version";

fn python_headers(payload_hash: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("accept", "application/json"),
        ("host", HOST),
        ("user-agent", UA),
        ("x-acs-action", "SendChatappMessage"),
        ("x-acs-content-sha256", payload_hash),
        ("x-acs-credentials-provider", "static_ak"),
        ("x-acs-date", DATE),
        ("x-acs-signature-nonce", NONCE),
        ("x-acs-version", "2020-06-06"),
        ("content-type", "application/x-www-form-urlencoded"),
    ]
}

#[test]
fn vector_c_python_sdk_request() {
    let raw = "ChannelType=whatsapp&From=8613800000000&Language=en&TemplateCode=744c4b5c79c9432497a075bdfca3%2A%2A%2A%2A&TemplateParams=%7B%22name%22%3A%22Tom+%26+Jerry%22%2C%22code%22%3A%221+2~%2A%22%7D&To=8613900000000&Type=template";
    assert_eq!(
        v3::canonical_query(raw),
        "ChannelType=whatsapp&From=8613800000000&Language=en&TemplateCode=744c4b5c79c9432497a075bdfca3%2A%2A%2A%2A&TemplateParams=%7B%22name%22%3A%22Tom%20%26%20Jerry%22%2C%22code%22%3A%221%202~%2A%22%7D&To=8613900000000&Type=template"
    );
    let signed: Vec<String> = C_SIGNED.split(';').map(String::from).collect();
    let h = python_headers(v3::EMPTY_SHA256);
    let cr =
        v3::canonical_request("POST", "/", raw, &signed, headers_of(&h), v3::EMPTY_SHA256).unwrap();
    let sts = v3::string_to_sign(&cr);
    assert_eq!(
        sts,
        "ACS3-HMAC-SHA256\ndd2a7ed35f8dd06cbab06c6e29bca2ffdce9381c226dffb6128ef07ed288f350"
    );
    assert_eq!(
        v3::signature(SECRET, &sts),
        "e98b12e1a406ddd5237c62b102b886763118c813dac62785fa8e31ff37d74181"
    );

    // the same call in V1 mode
    let mut p = opencams_protocol::encode::form_pairs(raw.as_bytes());
    for (k, v) in [
        ("Action", "SendChatappMessage"),
        ("Format", "json"),
        ("Version", "2020-06-06"),
        ("Timestamp", DATE),
        ("SignatureNonce", NONCE),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("AccessKeyId", AK),
    ] {
        p.push((k.into(), v.into()));
    }
    let sts = v1::string_to_sign("POST", p.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert_eq!(v1::signature(SECRET, &sts), "7Tfo0z7XIUpGer7TQDac6LXmUa0=");
}

#[test]
fn vector_d_form_body() {
    let body = b"ChannelType=whatsapp&From=8613800000000&MessageType=text&TaskId=a+b%2Bc&To=8613900000000&Type=message";
    let hash = v3::sha256_hex(body);
    assert_eq!(
        hash,
        "92208c3075c2216561366e63fd64b5ec5b3498bebd7f70c35d50f91deb0e510c"
    );
    let raw = "Content=%7B%22text%22%3A%22hi+there%22%7D";
    let mut signed: Vec<String> = C_SIGNED.split(';').map(String::from).collect();
    signed.insert(1, "content-type".into()); // the SDK lists them sorted: accept;content-type;host;…
    let h = python_headers("92208c3075c2216561366e63fd64b5ec5b3498bebd7f70c35d50f91deb0e510c");
    let cr = v3::canonical_request("POST", "/", raw, &signed, headers_of(&h), &hash).unwrap();
    assert!(cr.contains("\nContent=%7B%22text%22%3A%22hi%20there%22%7D\n"));
    assert_eq!(
        v3::signature(SECRET, &v3::string_to_sign(&cr)),
        "23f559b60c62fe318078aac2e31cc3236160f7a74813dbb89335cc603f80d675"
    );
    // V1: query and body merged into the signed set
    let params = opencams_protocol::Params::from_parts(raw, Some(body)).unwrap();
    let mut all: Vec<(&str, &str)> = params
        .as_map()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend([
        ("Action", "SendChatappMessage"),
        ("Format", "json"),
        ("Version", "2020-06-06"),
        ("Timestamp", DATE),
        ("SignatureNonce", NONCE),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("AccessKeyId", AK),
    ]);
    assert_eq!(
        v1::signature(SECRET, &v1::string_to_sign("POST", all)),
        "BJGSvB0db3l2IgR0Rq6vSEjG29Q="
    );
}

#[test]
fn canonical_query_of_tricky_inputs() {
    // python-style raw text: '+' for space, bare '~', '*' encoded; java-style: %20
    assert_eq!(v3::canonical_query("a=x+y~*"), "a=x%20y~%2A");
    assert_eq!(v3::canonical_query("a=x%20y%7E%2A"), "a=x%20y~%2A");
    // unicode, empty values, names without '=', ordering by encoded name, repeated keys stable
    assert_eq!(v3::canonical_query("b=%E4%BD%A0&a=&c"), "a=&b=%E4%BD%A0&c=");
    assert_eq!(v3::canonical_query("k=2&k=1"), "k=1&k=2");
    assert_eq!(v3::canonical_query(""), "");
    assert_eq!(
        v3::canonical_query("e=%F0%9F%98%80+%26%3D"),
        "e=%F0%9F%98%80%20%26%3D"
    );
    // a literal '+' (sent as %2B) stays a plus
    assert_eq!(v3::canonical_query("p=a%2Bb"), "p=a%2Bb");
    // the order is that of the encoded text: "é" (%C3%A9) sorts before "z", "!" (%21) before "-"
    assert_eq!(v3::canonical_query("z=1&%C3%A9=2"), "%C3%A9=2&z=1");
    assert_eq!(v3::canonical_query("k=-&k=!"), "k=%21&k=-");
}

#[test]
fn authorization_header_parsing() {
    let a = v3::Authorization::parse(
        "ACS3-HMAC-SHA256 Credential=AK, SignedHeaders=host;x-acs-action;x-acs-version;x-acs-date;x-acs-signature-nonce, Signature=ABC",
    )
    .unwrap();
    assert_eq!(a.access_key_id, "AK");
    assert_eq!(a.signature, "abc");
    for bad in [
        "ACS3-HMAC-SM3 Credential=AK,SignedHeaders=host,Signature=x",
        "ACS3-HMAC-SHA256 Credential=AK,Signature=x",
        "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=x",
        "Bearer abc",
        "",
    ] {
        assert_eq!(
            v3::Authorization::parse(bad).unwrap_err().code,
            opencams_protocol::Code::IncompleteSignature,
            "{bad}"
        );
    }
}

#[test]
fn v1_client_signer_round_trips() {
    let q = v1::sign(
        "GET",
        "QueryChatappPhoneNumbers",
        "2020-06-06",
        vec![("X".into(), "a b".into())],
        AK,
        SECRET,
        DATE,
        NONCE,
    );
    let params = opencams_protocol::Params::from_parts(&q, None).unwrap();
    let sig = params.get("Signature").unwrap().to_string();
    let sts = v1::string_to_sign(
        "GET",
        params
            .as_map()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    assert_eq!(v1::signature(SECRET, &sts), sig);
}
