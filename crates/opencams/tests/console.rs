//! The web console through the real binary: the first admin printed at first start, signing in
//! (CSRF on the form, wrong passwords, the per-email limit), cookies, the overview scoped to the
//! signed-in user's account, signing out, `opencams user`, and where the console is served.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use common::browser::*;
use common::*;
use serde_json::json;

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
        add_user(&s, account, email, role);
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

/// Waits until `path` shows `needle` (the page reloads itself while a review runs).
fn wait_page(b: &mut Browser, path: &str, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let page = b.get(path);
        if page.body.contains(needle) {
            return page.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never showed {needle:?}: {}",
            page.body
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn operators_build_a_template_watch_its_review_send_it_and_delete_it() {
    let s = fast_server();
    let mut b = Browser::new(&s.addr);
    let status = b
        .sign_in(
            &banner_field(&s.banner, "console user"),
            &banner_field(&s.banner, "console password"),
        )
        .status;
    assert_eq!(status, 303);
    let new = b.get("/console/templates/new");
    assert_eq!(new.status, 200, "{}", new.body);
    assert!(new.body.contains(r#"id="builder""#));
    let csrf = Browser::csrf_of(&new.body);
    let fields = |name: &str, body: &str| -> Vec<(String, String)> {
        [
            ("csrf", csrf.as_str()),
            ("name", name),
            ("language", "en_US"),
            ("category", "UTILITY"),
            ("header_format", "TEXT"),
            ("header_text", "Order {{order}}"),
            ("body", body),
            ("footer", "Thanks for shopping"),
            ("button_type_0", "QUICK_REPLY"),
            ("button_text_0", "Track it"),
            ("button_type_1", "URL"),
            ("button_text_1", "Details"),
            ("button_value_1", "https://example.com/o/{{id}}"),
            ("examples", "order: A-1\nname: Ada\nid: 77"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let post = |b: &mut Browser, path: &str, f: &[(String, String)]| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        b.request("POST", path, &f)
    };
    // the preview without script: the whole page, the message drawn, no findings
    let good = fields("order_ready", "Hi {{name}}, *your order* is ready.");
    let preview = post(&mut b, "/console/templates/preview", &good);
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.body.contains("No findings"), "{}", preview.body);
    assert!(preview.body.contains("Track it"), "{}", preview.body);
    // a finding of the API's linter, named with its code, and the typed text kept
    let bad = fields("Order Ready", "Hi {{name}}");
    let preview = post(&mut b, "/console/templates/preview", &bad);
    assert!(preview.body.contains("findings bad"), "{}", preview.body);
    let refused = post(&mut b, "/console/templates", &bad);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("Order Ready"), "{}", refused.body);
    assert!(refused.body.contains(r#"role="alert""#));
    // a forged form changes nothing
    let mut forged = good.clone();
    forged[0].1 = "not-the-token".into();
    assert_eq!(post(&mut b, "/console/templates", &forged).status, 403);

    // submitted: the template's page, reviewing, then approved with its history
    let made = post(&mut b, "/console/templates", &good);
    assert_eq!(made.status, 303, "{}", made.body);
    let location = made.header("location").unwrap().to_string();
    assert!(location.starts_with("/console/templates/"), "{location}");
    let detail = wait_page(&mut b, &location, "badge pass");
    assert!(detail.contains("auditing"), "the review history: {detail}");
    assert!(
        detail.contains("Order A-1"),
        "drawn with its examples: {detail}"
    );
    let code = location
        .trim_start_matches("/console/templates/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let api = s.sdk1(
        "get_chatapp_template_detail",
        json!({"TemplateCode": code, "Language": "en_US"}),
    );
    assert_eq!(api["body"]["Data"]["AuditStatus"], "pass", "{api}");
    assert_eq!(
        api["body"]["Data"]["Components"][3]["Buttons"][1]["UrlType"],
        "dynamic"
    );
    let list = b.get("/console/templates?status=pass&language=en_US");
    assert!(list.body.contains("order_ready"), "{}", list.body);
    assert!(
        !b.get("/console/templates?status=fail")
            .body
            .contains("order_ready")
    );
    std::thread::sleep(std::time::Duration::from_millis(1100)); // the template cache

    // the Send page: pick the number and the template, fill the variables, send
    let number = s.cli_json(&["number", "list"])["Numbers"][0]["PhoneNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let step2 = b.get(&format!(
        "/console/send?number={number}&to=8613900000010&pick={code}:en_US"
    ));
    assert_eq!(step2.status, 200, "{}", step2.body);
    for var in ["var.order", "var.name", "var.id"] {
        assert!(step2.body.contains(var), "{var}: {}", step2.body);
    }
    let sent = b.request(
        "POST",
        "/console/send",
        &[
            ("csrf", &csrf),
            ("kind", "template"),
            ("number", &number),
            ("to", "8613900000010"),
            ("template", &code),
            ("language", "en_US"),
            ("var.order", "B-2"),
            ("var.name", "Bo"),
            ("var.id", "9"),
        ],
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
    let id = sent
        .body
        .split(r#"href="/console/messages/"#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("a link to the message: {}", sent.body))
        .to_string();
    let m = wait_message(&s, &id, "read", |m| m["Status"] == "read");
    assert_eq!(m["TemplateCode"], code.as_str(), "{m}");
    assert_eq!(m["Body"]["templateParams"]["order"], "B-2", "{m}");
    let page = b.get(&format!("/console/messages/{id}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("read"), "{}", page.body);
    // drawn as the user saw it, the request the dispatcher built, Meta's answer
    assert!(page.body.contains("Hi Bo"), "{}", page.body);
    assert!(page.body.contains("Order B-2"), "{}", page.body);
    assert!(
        page.body.contains(&format!(
            "&quot;biz_opaque_callback_data&quot;: &quot;{id}&quot;"
        )),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("&quot;name&quot;: &quot;order_ready&quot;")
    );
    let wamid = m["ProviderId"].as_str().unwrap();
    assert!(page.body.contains(wamid), "{}", page.body);
    // no callback URL is set: nothing was pushed for it
    assert!(
        page.body.contains("No callback pushed yet"),
        "{}",
        page.body
    );
    // the overview: what the number sent over the last minute, against its 80/s
    let ops: Vec<_> = (0..29)
        .map(|i| {
            json!({"op": "send_chatapp_message", "request": {
                "ChannelType": "whatsapp", "Type": "template", "From": number,
                "To": format!("86139000001{i:02}"), "TemplateCode": code, "Language": "en_US",
                "TemplateParams": {"order": "B-2", "name": "Bo", "id": "9"}}})
        })
        .collect();
    let sent_all = s.sdk(json!(ops));
    assert!(sent_all.iter().all(|r| r["ok"] == true), "{sent_all:?}");
    let overview = wait_page(&mut b, "/console", "<td class=\"num\">0.5</td>");
    assert!(overview.contains("Sent/s, last minute"), "{overview}");
    assert!(
        overview.contains("<td class=\"num\">1 %</td>"),
        "{overview}"
    );
    // a missing variable is the API's error, on the page
    let short = b.request(
        "POST",
        "/console/send",
        &[
            ("csrf", &csrf),
            ("kind", "template"),
            ("number", &number),
            ("to", "8613900000010"),
            ("template", &code),
            ("language", "en_US"),
            ("var.order", "B-2"),
        ],
    );
    assert!(short.body.contains(r#"role="alert""#), "{}", short.body);
    // free-form text outside the window: refused with the API's code
    let text = b.request(
        "POST",
        "/console/send",
        &[
            ("csrf", &csrf),
            ("kind", "text"),
            ("number", &number),
            ("to", "8613900000020"),
            ("text", "hello"),
        ],
    );
    assert!(text.body.contains(r#"role="alert""#), "{}", text.body);

    // another account's admin sees none of it; a viewer may not submit or delete
    s.cli_json(&["account", "create", "acme"]);
    for (account, email, role) in [
        ("default", "ro@example.com", "viewer"),
        ("acme", "boss@acme.test", "admin"),
    ] {
        add_user(&s, account, email, role);
    }
    let mut boss = Browser::new(&s.addr);
    boss.sign_in("boss@acme.test", "a long enough password");
    let bcsrf = Browser::csrf_of(&boss.get("/console/templates").body);
    assert_eq!(boss.get(&format!("/console/templates/{code}")).status, 404);
    let gone = boss.request(
        "POST",
        &format!("/console/templates/{code}/en_US/delete"),
        &[("csrf", &bcsrf)],
    );
    assert_eq!(gone.status, 404, "{}", gone.body);
    assert!(!boss.get("/console/templates").body.contains("order_ready"));
    let mut ro = Browser::new(&s.addr);
    ro.sign_in("ro@example.com", "a long enough password");
    let rcsrf = Browser::csrf_of(&ro.get("/console/templates").body);
    let mut as_viewer = good.clone();
    as_viewer[0].1 = rcsrf.clone();
    as_viewer[1].1 = "viewer_made".into();
    assert_eq!(post(&mut ro, "/console/templates", &as_viewer).status, 403);
    assert_eq!(
        ro.request(
            "POST",
            &format!("/console/templates/{code}/en_US/delete"),
            &[("csrf", &rcsrf)]
        )
        .status,
        403
    );

    // deleted by the operator: gone from the list and from the API
    let deleted = b.request(
        "POST",
        &format!("/console/templates/{code}/en_US/delete"),
        &[("csrf", &csrf)],
    );
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert!(!b.get("/console/templates").body.contains("order_ready"));
    let api = s.sdk1(
        "get_chatapp_template_detail",
        json!({"TemplateCode": code, "Language": "en_US"}),
    );
    assert_ne!(api["body"]["Data"]["AuditStatus"], "pass", "{api}");
}

#[test]
fn in_chromium_the_main_journeys_work_end_to_end() {
    let Some((chromium, chromedriver)) = browser() else {
        return;
    };
    let s = fast_server();
    // a Cloud API number in a space of its own (its templates would go to Meta), whose token
    // the journey rotates; a second key, which it disables
    let space = s.cli_json(&["space", "create", "--account", "default", "--name", "cloud"]);
    let space = space["CustSpaceId"].as_str().unwrap();
    s.cli_json(&[
        "number",
        "add",
        "--account",
        "default",
        "8613700000000",
        "--channel",
        "whatsapp-cloud",
        "--space",
        space,
        "--phone-number-id",
        "1001",
        "--waba-id",
        "w1",
        "--access-token",
        "EAAG-old-token",
        "--app-secret",
        "app-secret",
        "--api-base",
        "http://127.0.0.1:9",
    ]);
    let fingerprint = |s: &Server| {
        s.cli_json(&["number", "list"])["Numbers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["PhoneNumber"] == "8613700000000")
            .unwrap()["AccessToken"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let old = fingerprint(&s);
    let key = s.cli_json(&["key", "create", "--account", "default"]);
    let (key_id, key_secret) = (
        key["AccessKeyId"].as_str().unwrap(),
        key["AccessKeySecret"].as_str().unwrap(),
    );
    let failures = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-failures");
    let out = run_python(
        "console_journeys.py",
        &json!({
            "url": format!("http://{}", s.addr),
            "email": banner_field(&s.banner, "console user"),
            "password": banner_field(&s.banner, "console password"),
            "chromium": chromium,
            "chromedriver": chromedriver,
            "screenshots": std::env::var("OPENCAMS_CONSOLE_SCREENSHOTS").ok(),
            "failures": failures,
            "cloud_number": "8613700000000",
            "new_token": "EAAG-new-token",
            "key_id": key_id,
            "phone": "8613600000000",
            "user": "8613900000030",
        }),
    );
    assert!(
        out["error"].is_null(),
        "the journey failed at {:?}: {} (screenshot {}, page {})\n{out}",
        out["step"],
        out["error"],
        out["screenshot"],
        out["page"]
    );
    let text = |k: &str| out[k].as_str().unwrap_or_default().to_string();
    assert!(
        text("finding_while_typing").contains("\"Shipping Update\" is not a valid"),
        "{out}"
    );
    assert!(text("preview_text").contains("Hi Ada"), "{out}");
    assert!(text("review_history").contains("auditing"), "{out}");
    assert!(text("review_history").contains("pass"), "{out}");
    assert!(text("timeline").contains("Read"), "{out}");
    assert_eq!(out["search_found"], true, "{out}");
    assert!(text("phone_chat").contains("Where is my parcel?"), "{out}");
    assert_eq!(out["text_in_window"], true, "{out}");
    let new = fingerprint(&s);
    assert_ne!(new, old);
    assert!(
        out["token_fingerprints"].to_string().contains(&new),
        "{out}"
    );
    assert_eq!(out["key_state"], "disabled", "{out}");
    let refused = s.sdk_as(
        key_id,
        key_secret,
        false,
        json!([{"op": "query_chatapp_phone_numbers", "request": {}}]),
    );
    assert_sdk_error(&refused[0], "InvalidAccessKeyId.Inactive", 400);
    let m = s.cli_json(&["message", "show", out["message_id"].as_str().unwrap()]);
    assert_eq!(m["Status"], "read", "{m}");
    assert_eq!(m["Body"]["templateParams"]["parcel"], "P-9", "{m}");
}

#[test]
fn admins_add_numbers_under_the_cli_rules() {
    let s = Server::start();
    let mut admin = Browser::new(&s.addr);
    admin.sign_in(
        &banner_field(&s.banner, "console user"),
        &banner_field(&s.banner, "console password"),
    );
    let csrf = Browser::csrf_of(&admin.get("/console/numbers").body);
    let add = |b: &mut Browser, fields: &[(&str, &str)]| {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        b.request("POST", "/console/numbers", &all)
    };
    let bad = add(&mut admin, &[("phone", "12"), ("channel", "simulator")]);
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("Number"), "{}", bad.body);
    let cloud = add(
        &mut admin,
        &[
            ("phone", "8613600000009"),
            ("channel", "whatsapp-cloud"),
            ("phone_number_id", "1009"),
            ("access_token", "EAAG-kept-out"),
        ],
    );
    assert_eq!(cloud.status, 400, "{}", cloud.body);
    assert!(
        cloud.body.contains(
            "Channel whatsapp-cloud needs a phone number id, a WABA id and an access token"
        ),
        "{}",
        cloud.body
    );
    assert!(cloud.body.contains("1009"), "what was typed is kept");
    assert!(!cloud.body.contains("EAAG-kept-out"), "secrets are not");
    let tp = add(
        &mut admin,
        &[
            ("phone", "8613600000009"),
            ("channel", "simulator"),
            ("throughput", "5000"),
        ],
    );
    assert!(
        tp.body.contains("Messages per second 5000 is out of range"),
        "{}",
        tp.body
    );
    let ok = add(
        &mut admin,
        &[
            ("phone", "8613600000009"),
            ("channel", "simulator"),
            ("name", "Second line"),
            ("throughput", "120"),
        ],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(
        ok.body.contains("8613600000009 added on simulator"),
        "{}",
        ok.body
    );
    let listed = s.cli_json(&["number", "list"]).to_string();
    assert!(
        listed.contains("Second line") && listed.contains("120"),
        "{listed}"
    );
    let again = add(
        &mut admin,
        &[("phone", "8613600000009"), ("channel", "simulator")],
    );
    assert_eq!(again.status, 409, "{}", again.body);
    // a viewer may not
    let mut ro = signed_in_as(&s, "default", "ro@example.com", "viewer");
    let rcsrf = Browser::csrf_of(&ro.get("/console/numbers").body);
    let refused = ro.request(
        "POST",
        "/console/numbers",
        &[
            ("csrf", &rcsrf),
            ("phone", "8613600000008"),
            ("channel", "simulator"),
        ],
    );
    assert_eq!(refused.status, 403);
}

#[test]
fn every_route_answers_another_accounts_ids_as_missing() {
    let s = fast_server();
    // account default: a template, a message, a policy, a key, a number, a space
    let code = approved_template(&s, "secret_plans");
    let sent = s.sdk1(
        "send_chatapp_message",
        json!({"ChannelType": "whatsapp", "Type": "template", "From": "8613600000000",
               "To": "8613900000040", "TemplateCode": code, "Language": "en_US",
               "TemplateParams": {"name": "Ada", "order": "A-1"}}),
    );
    let message = sent["body"]["MessageId"].as_str().unwrap().to_string();
    s.cli_json(&[
        "policy",
        "create",
        "--account",
        "default",
        "--sender-id",
        "ACME",
        "--http-url",
        "http://127.0.0.1:9/sms",
    ]);
    let space = s.cli_json(&["number", "list"])["Numbers"][0]["CustSpaceId"]
        .as_str()
        .unwrap()
        .to_string();
    // account acme's admin
    s.cli_json(&["account", "create", "acme"]);
    let mut b = signed_in_as(&s, "acme", "boss@acme.test", "admin");
    let csrf = Browser::csrf_of(&b.get("/console").body);
    let c = csrf.as_str();
    let number = "8613600000000";
    let gets = [
        format!("/console/messages/{message}"),
        format!("/console/messages?space={space}"),
        format!("/console/templates/{code}"),
        format!("/console/templates/{code}?space={space}"),
        format!("/console/templates?space={space}"),
        format!("/console/templates/new?space={space}"),
        format!("/console/send?space={space}"),
        format!("/console/phone?number={number}&user=8613900000040"),
        format!("/console/phone/chat?number={number}&user=8613900000040"),
        format!("/console/webhooks?space={space}"),
        "/console/policies/S_000001".to_string(),
    ];
    for path in &gets {
        let a = b.get(path);
        assert!(
            a.status == 404,
            "GET {path} answered {} for another account's id: {}",
            a.status,
            a.body
        );
        // nothing of the other account beyond what the request itself named
        for secret in [&message, &code, "secret_plans"] {
            assert!(
                path.contains(secret) || !a.body.contains(secret),
                "GET {path} shows {secret}"
            );
        }
    }
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/console/templates/{code}/en_US/delete"),
            vec![("csrf", c)],
        ),
        (
            "/console/templates".into(),
            vec![
                ("csrf", c),
                ("space", &space),
                ("name", "x_y"),
                ("language", "en_US"),
                ("category", "UTILITY"),
                ("body", "hi"),
            ],
        ),
        (
            "/console/send".into(),
            vec![
                ("csrf", c),
                ("space", &space),
                ("kind", "text"),
                ("number", number),
                ("to", "8613900000040"),
                ("text", "hi"),
            ],
        ),
        (
            "/console/phone".into(),
            vec![
                ("csrf", c),
                ("number", number),
                ("user", "8613900000040"),
                ("text", "hi"),
            ],
        ),
        (
            format!("/console/numbers/{number}"),
            vec![("csrf", c), ("name", "mine now")],
        ),
        (
            format!("/console/numbers/{number}/remove"),
            vec![("csrf", c)],
        ),
        (format!("/console/keys/{}/disable", s.ak), vec![("csrf", c)]),
        (
            "/console/webhooks".into(),
            vec![
                ("csrf", c),
                ("space", &space),
                ("status_url", "https://example.com/x"),
            ],
        ),
        (
            "/console/policies/S_000001/delete".into(),
            vec![("csrf", c)],
        ),
    ];
    for (path, form) in &posts {
        let a = b.request("POST", path, form);
        assert_eq!(
            a.status, 404,
            "POST {path} answered {} for another account's id: {}",
            a.status, a.body
        );
    }
    // adding a number into another account's space is refused too
    let a = b.request(
        "POST",
        "/console/numbers",
        &[
            ("csrf", c),
            ("phone", "8613600000077"),
            ("channel", "simulator"),
            ("space", &space),
        ],
    );
    assert_eq!(a.status, 400, "{}", a.body);
    // and nothing of account default changed
    assert_eq!(
        s.sdk(json!([{"op": "query_chatapp_phone_numbers", "request": {}}]))[0]["ok"],
        true,
        "the key still works"
    );
    let numbers = s.cli_json(&["number", "list"]).to_string();
    assert!(
        numbers.contains(number) && !numbers.contains("mine now"),
        "{numbers}"
    );
    assert!(!numbers.contains("8613600000077"), "{numbers}");
    let detail = s.sdk1(
        "get_chatapp_template_detail",
        json!({"TemplateCode": code, "Language": "en_US"}),
    );
    assert_eq!(detail["body"]["Data"]["AuditStatus"], "pass", "{detail}");
}

#[test]
fn a_session_ends_after_twelve_hours() {
    let mut s = Server::start();
    let mut b = Browser::new(&s.addr);
    let email = banner_field(&s.banner, "console user");
    let password = banner_field(&s.banner, "console password");
    assert_eq!(b.sign_in(&email, &password).status, 303);
    assert_eq!(b.get("/console/messages").status, 200);
    // eleven hours on: still signed in
    s.restart_with_env(&[("OPENCAMS_CLOCK_OFFSET_MS", &(11 * 3_600_000).to_string())]);
    assert_eq!(b.get("/console/messages").status, 200);
    // past twelve: the cookie names a session that ended; back to the sign-in form
    s.restart_with_env(&[(
        "OPENCAMS_CLOCK_OFFSET_MS",
        &(12 * 3_600_000 + 60_000).to_string(),
    )]);
    let expired = b.get("/console/messages");
    assert_eq!(expired.status, 303, "{}", expired.body);
    assert_eq!(expired.header("location"), Some("/console/login"));
    let csrf = Browser::csrf_of(&b.get("/console/login").body);
    let refused = b.request("POST", "/console/keys", &[("csrf", &csrf)]);
    assert_eq!(
        refused.status, 303,
        "a change with an ended session is refused"
    );
    // signing in again works on the shifted clock
    assert_eq!(b.sign_in(&email, &password).status, 303);
    assert_eq!(b.get("/console/messages").status, 200);
}
