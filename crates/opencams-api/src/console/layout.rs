//! The page shell every console page is drawn in (maud, compiled into the binary), its
//! stylesheet, and the headers every page carries: nothing is fetched from elsewhere, pages are
//! not cached, not framed, and run no script from anywhere but this server.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::session::Signed;

/// The stylesheet, served at [`CSS_PATH`].
const CSS: &str = include_str!("console.css");
pub static CSS_PATH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| asset_path("console", "css", CSS));

/// Where a static file is served: named by its content's hash, so that it can be cached for
/// good and a changed one is fetched.
pub fn asset_path(name: &str, ext: &str, content: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(content.as_bytes());
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("/console/static/{name}-{hex}.{ext}")
}

/// A static file's answer, cacheable for good (its path changes with its content).
pub fn asset(content_type: &'static str, content: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        content,
    )
        .into_response()
}

/// `GET CSS_PATH`.
pub async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

/// The pages in the navigation: (path, label).
const NAV: [(&str, &str); 9] = [
    ("/console", "Overview"),
    ("/console/messages", "Messages"),
    ("/console/templates", "Templates"),
    ("/console/send", "Send"),
    ("/console/phone", "Phone"),
    ("/console/numbers", "Numbers"),
    ("/console/webhooks", "Webhooks"),
    ("/console/policies", "Fallback policies"),
    ("/console/keys", "Access keys"),
];

/// A whole page: `title`, the navigation and who is signed in (with the sign-out form) when
/// `signed`, and `body`.
pub fn page(status: StatusCode, title: &str, signed: Option<&Signed>, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · opencams" }
                link rel="stylesheet" href=(*CSS_PATH);
                // no favicon: an empty one rather than a request that answers 404
                link rel="icon" href="data:,";
            }
            body {
                header.top {
                    a.brand href="/console" { "opencams" }
                    @if let Some(s) = signed {
                        nav aria-label="Console" {
                            @for (path, label) in NAV {
                                a href=(path) { (label) }
                            }
                        }
                        div.who {
                            span { (s.user.email) " · " (s.account.name) " · " (s.user.role.as_str()) }
                            form method="post" action="/console/logout" {
                                input type="hidden" name="csrf" value=(s.session.csrf_token);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    html_answer(status, markup)
}

/// HTML with the headers every console answer carries: not cached, not framed, no script or
/// style from anywhere but this server, no content sniffing.
fn html_answer(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A piece of a page for a page's script to put in place, with a whole page's headers.
pub fn fragment(status: StatusCode, markup: Markup) -> Response {
    html_answer(status, markup)
}

/// A page that only says what went wrong.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Error",
        None,
        html! {
            h1 { "Something went wrong" }
            p.error role="alert" { (message) }
            p { a href="/console" { "Back to the console" } }
        },
    )
}

/// The page for a database that cannot be reached, the error logged with what was being done.
pub fn unavailable(doing: &str, e: &opencams_store::StoreError) -> Response {
    tracing::error!(error = %e, "console: {doing} failed");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The console cannot reach its database right now; try again in a moment.",
    )
}

/// The page for a form whose CSRF token is not the session's.
pub fn forged() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "This form expired or came from another site; reload the page and try again.",
    )
}
