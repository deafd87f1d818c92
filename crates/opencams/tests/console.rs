//! The web console through the real binary: the first admin printed at first start, signing in
//! (CSRF on the form, wrong passwords, the per-email limit), cookies, the overview scoped to the
//! signed-in user's account, signing out, `opencams user`, and where the console is served.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

/// A browser of one: the cookies it holds for the console, sent back on every request.
struct Browser {
    addr: String,
    cookies: Vec<(String, String)>,
    forwarded_https: bool,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl Browser {
    fn new(addr: &str) -> Browser {
        Browser {
            addr: addr.to_string(),
            cookies: Vec::new(),
            forwarded_https: false,
        }
    }

    fn request(&mut self, method: &str, path: &str, form: &[(&str, &str)]) -> Answer {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut headers = vec![(
            "content-type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        )];
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            headers.push(("cookie".into(), c.join("; ")));
        }
        if self.forwarded_https {
            headers.push(("x-forwarded-proto".into(), "https".into()));
        }
        let (status, headers, body) =
            raw_http_text(&self.addr, method, path, &headers, body.as_bytes());
        let answer = Answer {
            status,
            headers,
            body,
        };
        for c in answer.set_cookies() {
            let pair = c.split(';').next().unwrap_or("");
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            self.cookies.retain(|(name, _)| name != k);
            let removed = c.contains("Max-Age=0");
            if !removed {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        answer
    }

    fn get(&mut self, path: &str) -> Answer {
        self.request("GET", path, &[])
    }

    /// The hidden CSRF field of the page's first form.
    fn csrf_of(page: &str) -> String {
        let at = page.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
        page[at..].split('"').next().unwrap().to_string()
    }

    /// Opens the sign-in form and submits it; returns the answer to the POST.
    fn sign_in(&mut self, email: &str, password: &str) -> Answer {
        let form = self.get("/console/login");
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = Self::csrf_of(&form.body);
        self.request(
            "POST",
            "/console/login",
            &[("email", email), ("password", password), ("csrf", &csrf)],
        )
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn banner_field(banner: &str, name: &str) -> String {
    banner
        .lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_default()
        .to_string()
}

/// `opencams user …` with the password on stdin.
fn user_cli(s: &Server, args: &[&str], password: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .arg("user")
        .args(args)
        .arg("--data-dir")
        .arg(&s.dir)
        .env_remove("OPENCAMS_MASTER_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_admin_signs_in_sees_only_its_account_and_signs_out() {
    let s = fast_server();
    let email = banner_field(&s.banner, "console user");
    let password = banner_field(&s.banner, "console password");
    assert_eq!(email, "admin@localhost", "{}", s.banner);
    assert_eq!(password.len(), 20, "{}", s.banner);

    // a template message delivered, to count
    let code = approved_template(&s, "console_counts");
    let r = s.sdk1(
        "send_chatapp_message",
        json!({"ChannelType": "whatsapp", "Type": "template", "From": "8613600000000",
               "To": "8613900000000", "TemplateCode": code, "Language": "en_US",
               "TemplateParams": {"name": "Ada", "order": "A-1"}}),
    );
    let id = r["body"]["MessageId"].as_str().expect("sent").to_string();
    wait_message(&s, &id, "read", |m| m["Status"] == "read");

    let mut b = Browser::new(&s.addr);
    // not signed in: to the sign-in page
    let a = b.get("/console");
    assert_eq!(a.status, 303);
    assert_eq!(a.header("location"), Some("/console/login"));

    // the form's CSRF token is tied to its cookie
    let form = b.get("/console/login");
    let cookie = form
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("opencams_login="))
        .expect("a login cookie")
        .to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console/login"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let forged = b.request(
        "POST",
        "/console/login",
        &[
            ("email", &email),
            ("password", &password),
            ("csrf", "forged"),
        ],
    );
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.body.contains("expired or came from another site"));

    // a wrong password and an unknown email get the same answer
    let wrong = b.sign_in(&email, "not the password");
    let unknown = b.sign_in("nobody@example.com", "not the password");
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert!(wrong.body.contains("The email or the password is wrong."));
    assert!(unknown.body.contains("The email or the password is wrong."));

    // the right one (the email in any case)
    b.forwarded_https = true;
    let ok = b.sign_in(&email.to_uppercase(), &password);
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.header("location"), Some("/console"));
    let session = ok
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("opencams_session="))
        .expect("a session cookie")
        .to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console", "Secure"] {
        assert!(session.contains(flag), "{session}");
    }
    b.forwarded_https = false;

    let page = b.get("/console");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(
        page.body.contains("Account <strong>default</strong>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("8613600000000"));
    // one message sent and read in the last 24 hours
    assert!(
        page.body
            .contains(r#"<div class="n">1</div><div class="l">Sent</div>"#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<div class="n">100.0 %</div><div class="l">Read rate</div>"#)
    );
    assert!(page.body.contains("<svg"));
    let css_path = page
        .body
        .split(r#"rel="stylesheet" href=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let css = b.get(&css_path);
    assert_eq!(css.status, 200);
    assert!(css.header("cache-control").unwrap().contains("immutable"));

    // the message in the search, by its filters, and on its own page
    let found = b.get("/console/messages");
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(
        found
            .body
            .contains(&format!(r#"href="/console/messages/{id}""#)),
        "{}",
        found.body
    );
    let read = b.get("/console/messages?status=read&direction=out&recipient=8613900000000");
    assert!(read.body.contains(&id));
    let none = b.get("/console/messages?status=failed");
    assert!(none.body.contains("No messages match."), "{}", none.body);
    let bad = b.get("/console/messages?status=lost&from=soon");
    assert_eq!(bad.status, 400);
    assert!(
        bad.body
            .contains("status: &quot;lost&quot; is not one of accepted"),
        "{}",
        bad.body
    );
    let shown = b.get(&format!("/console/messages/{id}"));
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains("Timeline"));
    for status in ["Sent", "Delivered", "Read"] {
        assert!(
            shown.body.contains(&format!("<strong>{status}</strong>")),
            "{status}: {}",
            shown.body
        );
    }
    assert!(shown.body.contains("console_counts"));

    // keys: the bootstrap key listed; a new one limited to an action, its secret shown once
    let keys = b.get("/console/keys");
    assert_eq!(keys.status, 200, "{}", keys.body);
    assert!(keys.body.contains(&s.ak));
    let csrf = Browser::csrf_of(&keys.body);
    let unknown = b.request(
        "POST",
        "/console/keys",
        &[("csrf", &csrf), ("actions", "SendChatappMessage, Nope")],
    );
    assert_eq!(unknown.status, 400);
    assert!(
        unknown
            .body
            .contains("Actions: unknown action &quot;Nope&quot;"),
        "{}",
        unknown.body
    );
    let foreign = b.request(
        "POST",
        "/console/keys",
        &[("csrf", &csrf), ("spaces", "cams-nowhere")],
    );
    assert_eq!(foreign.status, 400);
    assert!(
        foreign.body.contains("is not a space of account default"),
        "{}",
        foreign.body
    );
    let made = b.request(
        "POST",
        "/console/keys",
        &[("csrf", &csrf), ("actions", "SendChatappMessage")],
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let between = |page: &str, id: &str| {
        page.split(&format!(r#"id="{id}">"#))
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_string()
    };
    let (new_ak, new_sk) = (
        between(&made.body, "key-id"),
        between(&made.body, "key-secret"),
    );
    assert!(new_ak.starts_with("LTAI"), "{}", made.body);
    // a real key, limited as asked
    let limited = s.sdk_as(
        &new_ak,
        &new_sk,
        false,
        json!([{"op": "query_chatapp_phone_numbers", "request": {}}]),
    );
    assert_sdk_error(&limited[0], "Ram.PermissionDeny", 400);
    assert!(
        !b.get("/console/keys").body.contains(&new_sk),
        "the secret is shown once only"
    );
    // disabled from the console: refused at once; enabled again
    let off = b.request(
        "POST",
        &format!("/console/keys/{}/disable", s.ak),
        &[("csrf", &csrf)],
    );
    assert_eq!(off.status, 303, "{}", off.body);
    let refused = s.sdk(json!([{"op": "query_chatapp_phone_numbers", "request": {}}]));
    assert_sdk_error(&refused[0], "InvalidAccessKeyId.Inactive", 400);
    assert_eq!(
        b.request(
            "POST",
            &format!("/console/keys/{}/enable", s.ak),
            &[("csrf", &csrf)]
        )
        .status,
        303
    );
    assert_eq!(
        s.sdk(json!([{"op": "query_chatapp_phone_numbers", "request": {}}]))[0]["ok"],
        true
    );
    // a state change needs the session's CSRF token
    assert_eq!(
        b.request(
            "POST",
            &format!("/console/keys/{}/disable", s.ak),
            &[("csrf", "x")]
        )
        .status,
        403
    );

    // another account's viewer sees that account only
    s.cli_json(&["account", "create", "acme"]);
    let (code, _, err) = user_cli(
        &s,
        &[
            "create",
            "--account",
            "acme",
            "--email",
            "Viewer@Acme.test",
            "--role",
            "viewer",
            "--password-stdin",
        ],
        "acme viewer password",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = user_cli(
        &s,
        &[
            "create",
            "--account",
            "acme",
            "--email",
            "viewer@acme.test",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "another password!",
    );
    assert_ne!(code, 0);
    assert!(err.contains("exists already"), "{err}");
    let (code, _, err) = user_cli(
        &s,
        &[
            "create",
            "--account",
            "acme",
            "--email",
            "short@acme.test",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "short",
    );
    assert_ne!(code, 0);
    assert!(err.contains("at least 12 characters"), "{err}");
    let users = s.cli_json(&["user", "list"]);
    let listed: Vec<(String, String, String)> = users["Users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["Email"].as_str().unwrap().into(),
                u["Account"].as_str().unwrap().into(),
                u["Role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(listed.contains(&("admin@localhost".into(), "default".into(), "admin".into())));
    assert!(listed.contains(&("viewer@acme.test".into(), "acme".into(), "viewer".into())));

    let mut v = Browser::new(&s.addr);
    assert_eq!(
        v.sign_in("viewer@acme.test", "acme viewer password").status,
        303
    );
    let theirs = v.get("/console");
    assert_eq!(theirs.status, 200);
    assert!(theirs.body.contains("Account <strong>acme</strong>"));
    assert!(
        !theirs.body.contains("8613600000000"),
        "another account's number shown"
    );
    assert!(
        theirs
            .body
            .contains(r#"<div class="n">0</div><div class="l">Sent</div>"#)
    );
    // a viewer reads keys but changes none; no one reaches another account's key
    let theirs_keys = v.get("/console/keys");
    assert_eq!(theirs_keys.status, 200);
    assert!(!theirs_keys.body.contains(&s.ak));
    assert!(!theirs_keys.body.contains("Create a key"));
    let vcsrf = Browser::csrf_of(&theirs_keys.body);
    let denied = v.request("POST", "/console/keys", &[("csrf", &vcsrf)]);
    assert_eq!(denied.status, 403);
    assert!(
        denied.body.contains("Your role (viewer) may not do this"),
        "{}",
        denied.body
    );
    let (code, _, err) = user_cli(
        &s,
        &[
            "create",
            "--account",
            "acme",
            "--email",
            "boss@acme.test",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "acme admin password",
    );
    assert_eq!(code, 0, "{err}");
    let mut boss = Browser::new(&s.addr);
    assert_eq!(
        boss.sign_in("boss@acme.test", "acme admin password").status,
        303
    );
    let bcsrf = Browser::csrf_of(&boss.get("/console/keys").body);
    let other = boss.request(
        "POST",
        &format!("/console/keys/{}/disable", s.ak),
        &[("csrf", &bcsrf)],
    );
    assert_eq!(other.status, 404, "{}", other.body);
    assert_eq!(
        s.sdk(json!([{"op": "query_chatapp_phone_numbers", "request": {}}]))[0]["ok"],
        true
    );
    // … and not another account's messages, by id or by space
    assert_eq!(v.get(&format!("/console/messages/{id}")).status, 404);
    assert!(!v.get("/console/messages").body.contains(&id));
    assert_eq!(
        v.get(&format!("/console/messages?space={}", s.space))
            .status,
        404
    );

    // a changed password ends the user's sessions
    let (code, _, err) = user_cli(
        &s,
        &[
            "password",
            "--email",
            "viewer@acme.test",
            "--password-stdin",
        ],
        "a new acme password",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(v.get("/console").status, 303);

    // signing out needs the session's CSRF token
    let csrf = Browser::csrf_of(&b.get("/console").body);
    assert_eq!(
        b.request("POST", "/console/logout", &[("csrf", "nope")])
            .status,
        403
    );
    assert_eq!(b.get("/console").status, 200);
    let out = b.request("POST", "/console/logout", &[("csrf", &csrf)]);
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/console/login"));
    assert_eq!(b.get("/console").status, 303);
}

#[test]
fn sign_in_is_locked_after_five_failures_for_that_email() {
    let s = Server::start();
    let email = banner_field(&s.banner, "console user");
    let password = banner_field(&s.banner, "console password");
    let mut b = Browser::new(&s.addr);
    for _ in 0..5 {
        assert_eq!(b.sign_in(&email, "a wrong password").status, 401);
    }
    let locked = b.sign_in(&email, &password);
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(
        locked.body.contains("try again in 15 minutes"),
        "{}",
        locked.body
    );
    // a disabled user cannot sign in, whatever its password
    let (code, _, err) = user_cli(&s, &["disable", "--email", &email], "");
    assert_eq!(code, 0, "{err}");
    let mut other = Browser::new(&s.addr);
    // (the address limit is 20: this browser shares the address, not the email's lock)
    let (code, _, err) = user_cli(
        &s,
        &[
            "create",
            "--account",
            "default",
            "--email",
            "ops@example.com",
            "--role",
            "operator",
            "--password-stdin",
        ],
        "operator password",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        other.sign_in("ops@example.com", "operator password").status,
        303
    );
    s.cli_json(&["user", "disable", "--email", "ops@example.com"]);
    assert_eq!(
        other.get("/console").status,
        303,
        "a disabled user's session ends"
    );
    let refused = other.sign_in("ops@example.com", "operator password");
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("disabled"));
}

#[test]
fn the_console_can_move_to_its_own_address_or_be_turned_off() {
    let off = Server::start_with_env(&[("OPENCAMS_NO_CONSOLE", "true")]);
    assert_eq!(off.get("/console/login").0, 404);

    let apart = Server::start_with_env(&[("OPENCAMS_CONSOLE_LISTEN", "127.0.0.1:0")]);
    let at = apart
        .banner
        .lines()
        .find_map(|l| l.strip_prefix("opencams console on http://"))
        .and_then(|r| r.strip_suffix("/console"))
        .expect("the console's address in the banner")
        .to_string();
    assert_eq!(apart.get("/console/login").0, 404, "not on the API's port");
    let (status, text) = {
        let (st, _, t) = raw_http_text(&at, "GET", "/console/login", &[], b"");
        (st, t)
    };
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Sign in"));
}

#[test]
fn operators_set_callback_urls_replay_and_viewers_only_read() {
    let s = Server::start();
    for (email, role) in [("op@example.com", "operator"), ("ro@example.com", "viewer")] {
        let (code, _, err) = user_cli(
            &s,
            &[
                "create",
                "--account",
                "default",
                "--email",
                email,
                "--role",
                role,
                "--password-stdin",
            ],
            "a long enough password",
        );
        assert_eq!(code, 0, "{err}");
    }
    let mut op = Browser::new(&s.addr);
    assert_eq!(
        op.sign_in("op@example.com", "a long enough password")
            .status,
        303
    );
    let page = op.get("/console/webhooks");
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = Browser::csrf_of(&page.body);
    let set = |b: &mut Browser, phone: &str, status: &str, up: &str| {
        b.request(
            "POST",
            "/console/webhooks",
            &[
                ("csrf", &csrf),
                ("space", &s.space),
                ("phone", phone),
                ("status_url", status),
                ("up_url", up),
            ],
        )
    };
    assert_eq!(
        set(&mut op, "", "https://example.com/cams/status", "").status,
        303
    );
    assert_eq!(
        set(&mut op, "8613600000000", "", "https://example.com/cams/in").status,
        303
    );
    let shown = op.get("/console/webhooks");
    // the number: its own inbound URL, the space's status URL
    let row = shown
        .body
        .split(r#"<th scope="row">8613600000000</th>"#)
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        row,
        "<td></td><td>https://example.com/cams/in</td><td>https://example.com/cams/status</td><td>https://example.com/cams/in</td>"
    );
    // the API's rules: no private address, a number of the space, a space of the account
    let private = set(&mut op, "", "http://127.0.0.1/cb", "");
    assert_eq!(private.status, 400);
    assert!(private.body.contains("Status URL: "), "{}", private.body);
    let stranger = set(&mut op, "8613999999999", "https://example.com/x", "");
    assert_eq!(stranger.status, 400);
    assert!(
        stranger
            .body
            .contains("For: &quot;8613999999999&quot; is not a business number"),
        "{}",
        stranger.body
    );
    let acme = s.cli_json(&["account", "create", "acme"]);
    let acme_space = acme["CustSpaceId"]
        .as_str()
        .or(acme["DefaultSpace"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(acme_space.starts_with("cams-"), "{acme}");
    let foreign = op.request(
        "POST",
        "/console/webhooks",
        &[
            ("csrf", &csrf),
            ("space", &acme_space),
            ("status_url", "https://example.com/y"),
        ],
    );
    assert_eq!(foreign.status, 404);
    assert_eq!(
        op.get(&format!("/console/webhooks?space={acme_space}"))
            .status,
        404
    );
    // replay and enable
    let replayed = op.request(
        "POST",
        "/console/webhooks/replay",
        &[("csrf", &csrf), ("since", "2026-01-01T00:00")],
    );
    assert_eq!(replayed.status, 200, "{}", replayed.body);
    assert!(replayed.body.contains("0 callback(s) enqueued again."));
    let bad_since = op.request(
        "POST",
        "/console/webhooks/replay",
        &[("csrf", &csrf), ("since", "then")],
    );
    assert_eq!(bad_since.status, 400);
    assert!(
        bad_since
            .body
            .contains("Since: &quot;then&quot; is not a time"),
        "{}",
        bad_since.body
    );
    let unknown = op.request(
        "POST",
        "/console/webhooks/enable",
        &[("csrf", &csrf), ("url", "https://nowhere.example/")],
    );
    assert_eq!(unknown.status, 404);

    // a viewer reads, and changes nothing
    let mut ro = Browser::new(&s.addr);
    assert_eq!(
        ro.sign_in("ro@example.com", "a long enough password")
            .status,
        303
    );
    let read = ro.get("/console/webhooks");
    assert!(read.body.contains("https://example.com/cams/status"));
    assert!(!read.body.contains("Set callback URLs"));
    let rcsrf = Browser::csrf_of(&read.body);
    let denied = ro.request(
        "POST",
        "/console/webhooks",
        &[
            ("csrf", &rcsrf),
            ("space", &s.space),
            ("status_url", "https://example.com/z"),
        ],
    );
    assert_eq!(denied.status, 403);
    assert!(
        ro.get("/console/webhooks")
            .body
            .contains("https://example.com/cams/status")
    );
}

/// Debian's chromium and chromedriver (or `CHROMIUM`, `CHROMEDRIVER`); `None` when missing,
/// which fails under CI (`.ci/run` installs them) and skips elsewhere, saying how to get them.
fn browser() -> Option<(String, String)> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if std::path::Path::new(&chromium).exists() && std::path::Path::new(&driver).exists() {
        return Some((chromium, driver));
    }
    let how = "the console's browser test needs Chromium and ChromeDriver: \
               `apt install chromium chromium-driver`, or set CHROMIUM and CHROMEDRIVER";
    assert!(std::env::var_os("CI").is_none(), "{how}");
    eprintln!("skipped: {how}");
    None
}

#[test]
fn in_chromium_a_person_signs_in_by_keyboard_at_phone_and_desktop_widths() {
    let Some((chromium, chromedriver)) = browser() else {
        return;
    };
    let s = Server::start();
    let shots = std::env::var("OPENCAMS_CONSOLE_SCREENSHOTS").ok();
    let out = run_python(
        "console_browser.py",
        &json!({
            "url": format!("http://{}", s.addr),
            "email": banner_field(&s.banner, "console user"),
            "password": banner_field(&s.banner, "console password"),
            "chromium": chromium,
            "chromedriver": chromedriver,
            "screenshots": shots,
        }),
    );
    assert!(
        out["login_url"]
            .as_str()
            .unwrap()
            .ends_with("/console/login"),
        "{out}"
    );
    assert_eq!(out["focus_on_load"], "email", "{out}");
    assert_eq!(out["focus_after_tab"], "password", "{out}");
    assert!(
        out["after_sign_in"].as_str().unwrap().ends_with("/console"),
        "{out}"
    );
    assert_eq!(out["h1"], "Overview", "{out}");
    assert_eq!(out["chart_drawn"], true, "{out}");
    assert_eq!(out["stylesheet_applied"], true, "{out}");
    assert_eq!(out["tab_reaches_messages"], true, "{out}");
    for page in ["login", "overview", "messages"] {
        assert_eq!(
            out[format!("{page}_overflow_360")],
            false,
            "{page} is wider than 360 px: {out}"
        );
    }
    assert_eq!(out["overview_overflow_desktop"], false, "{out}");
    for key in [
        "login_unlabelled",
        "messages_unlabelled",
        "/console/webhooks unlabelled",
        "/console/keys unlabelled",
    ] {
        assert_eq!(out[key], json!([]), "{key}: {out}");
    }
    assert!(
        out["after_sign_out"]
            .as_str()
            .unwrap()
            .ends_with("/console/login"),
        "{out}"
    );
}

#[test]
fn admins_change_and_remove_numbers_and_no_one_else_can() {
    let s = Server::start();
    let mut admin = Browser::new(&s.addr);
    let status = admin
        .sign_in(
            &banner_field(&s.banner, "console user"),
            &banner_field(&s.banner, "console password"),
        )
        .status;
    assert_eq!(status, 303);
    let list = admin.get("/console/numbers");
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("8613600000000"));
    let csrf = Browser::csrf_of(&list.body);
    let change = |b: &mut Browser, csrf: &str, tp: &str| {
        b.request(
            "POST",
            "/console/numbers/8613600000000",
            &[("csrf", csrf), ("name", "Acme Support"), ("throughput", tp)],
        )
    };
    let out = change(&mut admin, &csrf, "5000");
    assert_eq!(out.status, 400);
    assert!(
        out.body
            .contains("Throughput 5000 is out of range: use 1 to 1000"),
        "{}",
        out.body
    );
    assert_eq!(change(&mut admin, &csrf, "200").status, 303);
    // the CLI sees what the console changed
    let listed = s.cli_json(&["number", "list"]);
    assert!(listed.to_string().contains("Acme Support"), "{listed}");
    assert!(listed.to_string().contains("200"), "{listed}");
    // a simulator number has no Cloud API token to rotate
    let token = admin.request(
        "POST",
        "/console/numbers/8613600000000",
        &[
            ("csrf", &csrf),
            ("name", "Acme Support"),
            ("access_token", "EAAG-new"),
        ],
    );
    assert_eq!(token.status, 409, "{}", token.body);

    // a viewer of the account and an admin of another change nothing
    s.cli_json(&["account", "create", "acme"]);
    for (account, email, role) in [
        ("default", "ro@example.com", "viewer"),
        ("acme", "boss@acme.test", "admin"),
    ] {
        let (code, _, err) = user_cli(
            &s,
            &[
                "create",
                "--account",
                account,
                "--email",
                email,
                "--role",
                role,
                "--password-stdin",
            ],
            "a long enough password",
        );
        assert_eq!(code, 0, "{err}");
    }
    let mut ro = Browser::new(&s.addr);
    assert_eq!(
        ro.sign_in("ro@example.com", "a long enough password")
            .status,
        303
    );
    let rcsrf = Browser::csrf_of(&ro.get("/console/numbers").body);
    assert_eq!(change(&mut ro, &rcsrf, "10").status, 403);
    let mut boss = Browser::new(&s.addr);
    assert_eq!(
        boss.sign_in("boss@acme.test", "a long enough password")
            .status,
        303
    );
    let theirs = boss.get("/console/numbers");
    assert!(!theirs.body.contains("8613600000000"));
    let bcsrf = Browser::csrf_of(&theirs.body);
    assert_eq!(change(&mut boss, &bcsrf, "10").status, 404);
    let removal = boss.request(
        "POST",
        "/console/numbers/8613600000000/remove",
        &[("csrf", &bcsrf)],
    );
    assert_eq!(removal.status, 404);

    // the account's admin removes it
    let gone = admin.request(
        "POST",
        "/console/numbers/8613600000000/remove",
        &[("csrf", &csrf)],
    );
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert!(gone.body.contains("8613600000000 removed"));
    assert!(
        !s.cli_json(&["number", "list"])
            .to_string()
            .contains("8613600000000")
    );
}
