//! The console's Phone page through the real binary: a template with quick replies drawn with
//! its buttons and ticks, a simulated user typing (which opens the 24-hour window) and tapping
//! a quick reply and a list row (whose inbound messages reach a real callback receiver with
//! their payloads), the live chat fragment and its script, and the refusals: a viewer's write,
//! another account's number, a number not on the simulator, bad fields.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::browser::*;
use common::*;
use serde_json::{Value, json};

const NUMBER: &str = "8613600000000";

/// A callback receiver on 127.0.0.1 keeping every record it was POSTed (answered 200).
struct Receiver {
    addr: String,
    records: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let records = Arc::new(Mutex::new(Vec::new()));
        let r = records.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let r = r.clone();
                std::thread::spawn(move || serve(conn, &r));
            }
        });
        Receiver { addr, records }
    }

    /// Waits until a record satisfies `pred`; returns it.
    fn wait(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(r) = self.records.lock().unwrap().iter().find(|r| pred(r)) {
                return r.clone();
            }
            assert!(
                Instant::now() < deadline,
                "never got {what}; got {:?}",
                self.records.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve(conn: TcpStream, records: &Mutex<Vec<Value>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.trim().eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(Value::Array(list)) = serde_json::from_slice::<Value>(&body) {
            records.lock().unwrap().extend(list);
        }
        let text = r#"{"code":0,"msg":"ok"}"#;
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        if (&conn).write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// The value of the first `<input … name="{name}" value="…">` of `page`.
fn field_value(page: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {page}"))
        + marker.len();
    page[at..].split('"').next().unwrap().to_string()
}

/// The (label, value) of every reply button of `page`.
fn reply_buttons(page: &str) -> Vec<(String, String)> {
    page.split(r#"<button class="reply" type="submit" name="reply" value=""#)
        .skip(1)
        .map(|b| {
            let value = b.split('"').next().unwrap().to_string();
            let label = b.split_once('>').unwrap().1.split('<').next().unwrap();
            (label.to_string(), value)
        })
        .collect()
}

fn admin(s: &Server) -> Browser {
    let mut b = Browser::new(&s.addr);
    let signed = b.sign_in(
        &banner_field(&s.banner, "console user"),
        &banner_field(&s.banner, "console password"),
    );
    assert_eq!(signed.status, 303, "{}", signed.body);
    b
}

fn text_to(user: &str, text: &str) -> Value {
    json!({"ChannelType": "whatsapp", "Type": "message", "MessageType": "text", "From": NUMBER,
           "To": user, "Content": json!({"text": text}).to_string()})
}

#[test]
fn a_simulated_user_sees_templates_types_and_taps_replies_that_reach_the_callback() {
    let s = fast_server_with(&[("OPENCAMS_ALLOW_PRIVATE_CALLBACKS", "true")]);
    let rx = Receiver::start();
    let set = s.sdk1(
        "update_account_webhook",
        json!({"CustSpaceId": s.space, "StatusCallbackUrl": format!("http://{}/cams", rx.addr), "HttpFlag": "Y"}),
    );
    assert_eq!(set["ok"], true, "{set}");
    let user = "8613900000042";
    let code = approved_template(&s, "phone_order");

    // the window is closed: free-form text is refused
    assert_sdk_error(
        &s.sdk1("send_chatapp_message", text_to(user, "hello")),
        "InvalidParameter.SessionExpired",
        400,
    );
    let sent = s.sdk1(
        "send_chatapp_message",
        json!({"ChannelType": "whatsapp", "Type": "template", "From": NUMBER, "To": user,
               "TemplateCode": code, "Language": "en_US", "TemplateParams": {"name": "Ada", "order": "A-1"},
               "Payload": ["track-1"]}),
    );
    let template_id = sent["body"]["MessageId"]
        .as_str()
        .expect("sent")
        .to_string();
    let shown = wait_message(&s, &template_id, "read", |m| m["Status"] == "read");
    let wamid = shown["ProviderId"].as_str().unwrap().to_string();

    let mut b = admin(&s);
    // the chooser: the simulator number, labelled fields
    let chooser = b.get("/console/phone");
    assert_eq!(chooser.status, 200, "{}", chooser.body);
    for needle in [
        r#"<label for="number">"#,
        r#"<select id="number" name="number">"#,
        &format!(r#"<option value="{NUMBER}" selected>"#),
        r#"<label for="user">"#,
        r#"name="user""#,
    ] {
        assert!(chooser.body.contains(needle), "{needle}: {}", chooser.body);
    }
    // the recent chats of the number
    assert!(
        chooser.body.contains(&format!(
            r#"href="/console/phone?number={NUMBER}&amp;user={user}""#
        )),
        "{}",
        chooser.body
    );

    // the chat: the template drawn with its buttons, read, and the replies to tap
    let chat_path = format!("/console/phone?number={NUMBER}&user={user}");
    let page = b.get(&chat_path);
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    assert!(body.contains(r#"<div id="chat" role="log""#), "{body}");
    assert!(body.contains(r#"<div class="bubble out tpl">"#), "{body}");
    assert!(body.contains("Hi Ada, order A-1 ships today."), "{body}");
    assert!(body.contains(r#"<li data-type="QUICK_REPLY""#), "{body}");
    assert!(body.contains(r#"data-status="read""#), "{body}");
    assert_eq!(
        reply_buttons(body),
        [
            ("Track".to_string(), "0".to_string()),
            ("Stop".to_string(), "1".to_string())
        ]
    );
    assert!(body.contains(r#"<label for="text">"#) && body.contains(r#"name="text""#));
    let script = body
        .split(r#"<script src=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let js = b.get(&script);
    assert_eq!(js.status, 200);
    assert!(js.header("content-type").unwrap().contains("javascript"));
    assert!(js.body.contains("/console/phone/chat") || js.body.contains("data-src"));
    // the live fragment: the chat alone
    let fragment = b.get(&format!("/console/phone/chat?number={NUMBER}&user={user}"));
    assert_eq!(fragment.status, 200, "{}", fragment.body);
    assert!(
        fragment.body.starts_with(r#"<div id="chat""#),
        "{}",
        fragment.body
    );
    assert!(fragment.body.contains("Hi Ada") && !fragment.body.contains("<html"));

    // the user types: the inbound reaches the callback and opens the window
    let csrf = Browser::csrf_of(body);
    let typed = b.request(
        "POST",
        "/console/phone",
        &[
            ("csrf", &csrf),
            ("number", NUMBER),
            ("user", user),
            ("text", "Where is *my* order?"),
        ],
    );
    assert_eq!(typed.status, 303, "{}", typed.body);
    assert_eq!(
        typed.header("location"),
        Some(format!("{chat_path}&focus=text").as_str())
    );
    let page = b.get(&format!("{chat_path}&focus=text"));
    assert!(
        page.body.contains(r#"<div class="msg in""#)
            && page.body.contains("Where is <strong>my</strong> order?"),
        "{}",
        page.body
    );
    assert!(page.body.contains("autofocus"), "{}", page.body);
    let inbound = rx.wait("the typed message", |r| {
        r["Message"] == "Where is *my* order?"
    });
    assert_eq!(inbound["Type"], "TEXT");
    assert_eq!(inbound["From"], user);
    assert_eq!(inbound["To"], NUMBER);
    let free = s.sdk1("send_chatapp_message", text_to(user, "It ships today"));
    assert_eq!(free["ok"], true, "the window is open now: {free}");

    // a quick reply: the template's payload, quoting the template
    let tapped = b.request(
        "POST",
        "/console/phone",
        &[
            ("csrf", &csrf),
            ("number", NUMBER),
            ("user", user),
            ("reply_to", &field_value(&page.body, "reply_to")),
            ("reply", "0"),
        ],
    );
    assert_eq!(tapped.status, 303, "{}", tapped.body);
    let reply = rx.wait("the quick reply", |r| r["Type"] == "REPLY");
    let message: Value = serde_json::from_str(reply["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message, json!({"payload": "track-1", "text": "Track"}));
    assert_eq!(reply["Context"]["id"], wamid.as_str(), "{reply}");
    // the template's page lists the callbacks pushed for it, with the receiver's answers
    rx.wait("the read report", |r| {
        r["MessageId"] == template_id.as_str() && r["Status"] == "Read"
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let shown = loop {
        let page = b.get(&format!("/console/messages/{template_id}"));
        if page.body.matches("&quot;code&quot;:0").count() >= 3 || Instant::now() > deadline {
            break page.body;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(shown.contains("Callbacks pushed"), "{shown}");
    for status in ["Sent", "Delivered", "Read"] {
        assert!(shown.contains(status), "{status}: {shown}");
    }
    assert!(
        shown
            .matches("&quot;code&quot;:0,&quot;msg&quot;:&quot;ok&quot;")
            .count()
            >= 3,
        "the receiver's answers: {shown}"
    );
    assert!(
        shown.contains(&format!("http://{}/cams", rx.addr)),
        "{shown}"
    );
    let page = b.get(&chat_path);
    assert!(
        page.body
            .contains(r#"<div class="quote">Hi Ada, order A-1 ships today.</div>"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("<code>track-1</code>"), "{}", page.body);

    // an interactive list: its rows become the replies, a row sends its id
    let list = s.sdk1(
        "send_chatapp_message",
        json!({"ChannelType": "whatsapp", "Type": "message", "MessageType": "interactive", "From": NUMBER, "To": user,
               "Content": json!({"type": "list", "body": {"text": "Choose a shipping speed"},
                 "action": {"button": "Options", "sections": [
                   {"title": "Fast", "rows": [{"id": "exp", "title": "Express", "description": "Next day"}]},
                   {"title": "Cheap", "rows": [{"id": "std", "title": "Standard"}]}]}}).to_string()}),
    );
    let list_id = list["body"]["MessageId"]
        .as_str()
        .expect("sent")
        .to_string();
    wait_message(&s, &list_id, "sent", |m| m["ProviderId"].is_string());
    let page = b.get(&chat_path);
    assert!(page.body.contains("<summary>"), "{}", page.body);
    assert_eq!(
        reply_buttons(&page.body),
        [
            ("Express".to_string(), "0".to_string()),
            ("Standard".to_string(), "1".to_string())
        ]
    );
    assert_eq!(field_value(&page.body, "reply_to"), list_id);
    let row = b.request(
        "POST",
        "/console/phone",
        &[
            ("csrf", &csrf),
            ("number", NUMBER),
            ("user", user),
            ("reply_to", &list_id),
            ("reply", "1"),
        ],
    );
    assert_eq!(row.status, 303, "{}", row.body);
    let picked = rx.wait("the list reply", |r| {
        r["Type"] == "REPLY" && r["Message"].as_str().unwrap_or("").contains("std")
    });
    let message: Value = serde_json::from_str(picked["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["payload"], "std");
    assert_eq!(message["text"], "Standard");

    // what is wrong is named
    let post = |b: &mut Browser, fields: &[(&str, &str)]| {
        let mut all = vec![("csrf", csrf.as_str()), ("number", NUMBER), ("user", user)];
        all.extend_from_slice(fields);
        b.request("POST", "/console/phone", &all)
    };
    let empty = post(&mut b, &[("text", "  ")]);
    assert_eq!(empty.status, 400);
    assert!(
        empty.body.contains("text: type what the user writes"),
        "{}",
        empty.body
    );
    let far = post(&mut b, &[("reply_to", &list_id), ("reply", "7")]);
    assert_eq!(far.status, 400);
    assert!(
        far.body
            .contains("reply: &quot;7&quot; is not one of message"),
        "{}",
        far.body
    );
    let bad_user = b.request(
        "POST",
        "/console/phone",
        &[
            ("csrf", &csrf),
            ("number", NUMBER),
            ("user", "abc"),
            ("text", "hi"),
        ],
    );
    assert_eq!(bad_user.status, 400);
    assert!(
        bad_user
            .body
            .contains("user must be an international phone number"),
        "{}",
        bad_user.body
    );
    let forged = b.request(
        "POST",
        "/console/phone",
        &[
            ("csrf", "forged"),
            ("number", NUMBER),
            ("user", user),
            ("text", "hi"),
        ],
    );
    assert_eq!(forged.status, 403);
}

#[test]
fn viewers_read_only_and_other_numbers_are_refused() {
    let s = Server::start();
    let user = "8613900000043";
    // a viewer of the account, an admin of an account without simulator numbers
    s.cli_json(&["account", "create", "acme"]);
    s.cli_json(&[
        "number",
        "add",
        "--account",
        "acme",
        "8613611111111",
        "--channel",
        "simulator",
    ]);
    s.cli_json(&["account", "create", "empty"]);
    for (account, email, role) in [
        ("default", "ro@example.com", "viewer"),
        ("empty", "boss@empty.test", "admin"),
    ] {
        add_user(&s, account, email, role);
    }
    // a Cloud API number of the account (nothing is ever sent from it here)
    s.cli_json(&[
        "number",
        "add",
        "--account",
        "default",
        "8613622222222",
        "--channel",
        "whatsapp-cloud",
        "--phone-number-id",
        "2002",
        "--waba-id",
        "w2",
        "--access-token",
        "tok",
        "--app-secret",
        "secret",
        "--api-base",
        "http://127.0.0.1:9",
    ]);

    let mut ro = Browser::new(&s.addr);
    assert_eq!(
        ro.sign_in("ro@example.com", "a long enough password")
            .status,
        303
    );
    let chat_path = format!("/console/phone?number={NUMBER}&user={user}");
    let read = ro.get(&chat_path);
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(read.body.contains(r#"id="chat""#));
    assert!(!read.body.contains(r#"name="text""#), "{}", read.body);
    assert!(
        read.body
            .contains("Only operators and admins can write as the user.")
    );
    let csrf = Browser::csrf_of(&read.body);
    let denied = ro.request(
        "POST",
        "/console/phone",
        &[
            ("csrf", &csrf),
            ("number", NUMBER),
            ("user", user),
            ("text", "hi"),
        ],
    );
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert!(denied.body.contains("Your role (viewer) may not do this"));

    let mut b = admin(&s);
    let csrf = Browser::csrf_of(&b.get("/console/phone").body);
    // only the simulator numbers are offered
    let chooser = b.get("/console/phone");
    assert!(
        !chooser.body.contains(r#"<option value="8613622222222""#),
        "{}",
        chooser.body
    );
    // another account's number is missing, read or written
    let theirs = b.get(&format!("/console/phone?number=8613611111111&user={user}"));
    assert_eq!(theirs.status, 404);
    let write_theirs = b.request(
        "POST",
        "/console/phone",
        &[
            ("csrf", &csrf),
            ("number", "8613611111111"),
            ("user", user),
            ("text", "hi"),
        ],
    );
    assert_eq!(write_theirs.status, 404, "{}", write_theirs.body);
    assert!(
        write_theirs
            .body
            .contains("number: &quot;8613611111111&quot; is not a business number of your account"),
        "{}",
        write_theirs.body
    );
    assert_eq!(
        b.get(&format!(
            "/console/phone/chat?number=8613611111111&user={user}"
        ))
        .status,
        404
    );
    // a number not on the simulator is refused, saying which are
    let cloud = b.request(
        "POST",
        "/console/phone",
        &[
            ("csrf", &csrf),
            ("number", "8613622222222"),
            ("user", user),
            ("text", "hi"),
        ],
    );
    assert_eq!(cloud.status, 400, "{}", cloud.body);
    assert!(
        cloud.body.contains(
            "number: 8613622222222 is a whatsapp-cloud number; the Phone page writes only to numbers on the built-in simulator"
        ) && cloud.body.contains(&format!("yours are {NUMBER}")),
        "{}",
        cloud.body
    );
    // nothing was written anywhere
    let none = b.get(&chat_path);
    assert!(none.body.contains("No messages yet."), "{}", none.body);

    // an account without simulator numbers is told so
    let mut boss = Browser::new(&s.addr);
    assert_eq!(
        boss.sign_in("boss@empty.test", "a long enough password")
            .status,
        303
    );
    let page = boss.get("/console/phone");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(
            "None of account <strong>empty</strong>'s numbers is on the built-in simulator"
        ),
        "{}",
        page.body
    );
}
