//! The console seen by a browser of one: one keep-alive connection, the cookies the console
//! sets, the sign-in form with its CSRF field, and timed page loads.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::report;

/// `k=v&…` with the values percent-encoded (a form body or a query string).
pub fn urlencoded(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The target of the page's "Older messages →" link (`rel="next"`), unescaped.
fn next_link(body: &[u8]) -> Option<String> {
    let page = std::str::from_utf8(body).ok()?;
    let at = page.find(r#"rel="next" href=""#)? + r#"rel="next" href=""#.len();
    let href = page[at..].split('"').next()?;
    Some(href.replace("&amp;", "&"))
}

/// Messages listed on a page (each row links to its message), or the entries of a message's
/// timeline.
fn rows(body: &[u8]) -> usize {
    let page = String::from_utf8_lossy(body);
    let listed = page.matches(r#"href="/console/messages/"#).count();
    if listed > 0 {
        listed
    } else {
        page.matches("<li><time>").count()
    }
}

/// An answer: status, `Set-Cookie` and `Location` headers, body.
struct Answer {
    status: u16,
    cookies: Vec<String>,
    location: Option<String>,
    body: Bytes,
}

/// A browser of one on one keep-alive connection: keeps the cookies the console sets (name and
/// value; a cookie set with `Max-Age=0` is dropped) and sends them all back.
pub struct Browser {
    host: String,
    sender: SendRequest<Full<Bytes>>,
    cookies: Vec<(String, String)>,
}

impl Browser {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Browser> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Browser {
            host: addr.to_string(),
            sender,
            cookies: Vec::new(),
        })
    }

    async fn send(&mut self, method: Method, path: &str, form: String) -> anyhow::Result<Answer> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host);
        if !form.is_empty() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(header::COOKIE, c.join("; "));
        }
        let req = req
            .body(Full::new(Bytes::from(form)))
            .with_context(|| format!("cannot build a request for {path:?}"))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let text = |v: &header::HeaderValue| v.to_str().unwrap_or_default().to_string();
        let cookies: Vec<String> = resp
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(text)
            .collect();
        let location = resp.headers().get(header::LOCATION).map(text);
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        for c in &cookies {
            let pair = c.split(';').next().unwrap_or_default();
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            self.cookies.retain(|(name, _)| name != k);
            if !c.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        Ok(Answer {
            status,
            cookies,
            location,
            body,
        })
    }

    async fn get(&mut self, path: &str) -> anyhow::Result<Answer> {
        self.send(Method::GET, path, String::new()).await
    }

    /// Where the page's "Older messages →" link leads, if it has one.
    pub async fn older(&mut self, path: &str) -> anyhow::Result<Option<String>> {
        Ok(next_link(&self.get(path).await?.body))
    }

    /// The sign-in form (its CSRF cookie and field), then the form posted; fails unless the
    /// server answers with a session cookie.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> anyhow::Result<()> {
        let form = self.get("/console/login").await?;
        let page = String::from_utf8_lossy(&form.body);
        let marker = r#"name="csrf" value=""#;
        let csrf = page
            .find(marker)
            .and_then(|at| page[at + marker.len()..].split('"').next())
            .with_context(|| format!("the sign-in form (HTTP {}) has no csrf field", form.status))?
            .to_string();
        let body = urlencoded(&[("email", email), ("password", password), ("csrf", &csrf)]);
        let a = self.send(Method::POST, "/console/login", body).await?;
        if !a.cookies.iter().any(|c| c.starts_with("opencams_session=")) {
            bail!(
                "signing in as {email} failed: HTTP {} (to {:?}) {}",
                a.status,
                a.location,
                String::from_utf8_lossy(&a.body)
            );
        }
        Ok(())
    }

    /// `warmups` requests, then `runs` timed: latency percentiles, and the last answer's status,
    /// size and rows.
    pub async fn time(&mut self, path: &str, warmups: u32, runs: u32) -> anyhow::Result<Value> {
        for _ in 0..warmups {
            self.get(path).await?;
        }
        let mut h = crate::load::new_histogram();
        let mut not_ok = 0;
        let mut last = None;
        for _ in 0..runs {
            let t = Instant::now();
            let a = self.get(path).await?;
            h.saturating_record((t.elapsed().as_micros() as u64).max(1));
            if a.status != 200 {
                not_ok += 1;
            }
            last = Some(a);
        }
        let last = last.context("no run")?;
        Ok(json!({
            "path": path,
            "latency_ms": report::latency_ms(&h),
            "status": last.status,
            "non_200": not_ok,
            "bytes": last.body.len(),
            "rows": rows(&last.body),
        }))
    }
}
