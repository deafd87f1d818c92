//! The console seen over HTTP: a cookie-keeping client, the first admin's credentials from the
//! start banner, `opencams user` with a password on stdin, and where Chromium is.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::io::Write;
use std::process::{Command, Stdio};

use super::*;

/// A browser of one: the cookies it holds for the console, sent back on every request.
pub struct Browser {
    pub addr: String,
    pub cookies: Vec<(String, String)>,
    pub forwarded_https: bool,
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl Browser {
    pub fn new(addr: &str) -> Browser {
        Browser {
            addr: addr.to_string(),
            cookies: Vec::new(),
            forwarded_https: false,
        }
    }

    pub fn request(&mut self, method: &str, path: &str, form: &[(&str, &str)]) -> Answer {
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

    pub fn get(&mut self, path: &str) -> Answer {
        self.request("GET", path, &[])
    }

    /// The hidden CSRF field of the page's first form.
    pub fn csrf_of(page: &str) -> String {
        let at = page.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
        page[at..].split('"').next().unwrap().to_string()
    }

    /// Opens the sign-in form and submits it; returns the answer to the POST.
    pub fn sign_in(&mut self, email: &str, password: &str) -> Answer {
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

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn banner_field(banner: &str, name: &str) -> String {
    banner
        .lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_default()
        .to_string()
}

/// `opencams user …` with the password on stdin.
pub fn user_cli(s: &Server, args: &[&str], password: &str) -> (i32, String, String) {
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

/// Debian's chromium and chromedriver (or `CHROMIUM`, `CHROMEDRIVER`); `None` when missing,
/// which fails under CI (`.ci/run` installs them) and skips elsewhere, saying how to get them.
pub fn browser() -> Option<(String, String)> {
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

/// The password the tests give the console users they create.
pub const USER_PASSWORD: &str = "a long enough password";

/// Creates console user `email` of `account` with `role` (password [`USER_PASSWORD`]) through
/// `opencams user create`.
pub fn add_user(s: &Server, account: &str, email: &str, role: &str) {
    let (code, _, err) = user_cli(
        s,
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
        USER_PASSWORD,
    );
    assert_eq!(code, 0, "{err}");
}

/// [`add_user`], then a browser signed in as that user.
pub fn signed_in_as(s: &Server, account: &str, email: &str, role: &str) -> Browser {
    add_user(s, account, email, role);
    let mut b = Browser::new(&s.addr);
    let answer = b.sign_in(email, USER_PASSWORD);
    assert_eq!(answer.status, 303, "{}", answer.body);
    b
}
