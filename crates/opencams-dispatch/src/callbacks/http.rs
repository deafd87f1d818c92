//! One signed POST of a callback batch. No redirects are followed (a redirect could lead to a
//! refused address), the whole exchange is bounded by a timeout, and only the status matters:
//! 2xx is accepted, anything else is a failure to retry.

use std::time::Duration;

use opencams_protocol::callback_sign;

use super::ssrf;

/// The HTTP client callbacks go out with.
pub fn client(timeout: Duration, allow_private: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(ssrf::resolver(allow_private))
        .user_agent(concat!("opencams-callbacks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Posts `body` (a JSON array) signed with `secret`; `Ok` only for a 2xx answer.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    secret: &str,
    now_secs: i64,
    allow_private: bool,
) -> Result<u16, String> {
    // literal addresses never reach the resolver, so they are checked here, at delivery time
    let url = ssrf::check_url(url, allow_private)?;
    let signature = callback_sign::sign(secret, now_secs, &body);
    let resp = client
        .post(url)
        .header("Content-Type", "application/json")
        .header(callback_sign::TIMESTAMP_HEADER, now_secs.to_string())
        .header(callback_sign::SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .map_err(|e| chain(&e))?;
    let status = resp.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(format!("HTTP {}", status.as_u16()))
    }
}

/// An error with its causes, which is where reqwest says what actually went wrong.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
