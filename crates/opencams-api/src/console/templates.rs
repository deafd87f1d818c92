//! Templates: the account's templates with status and language filters; a builder (header,
//! body, footer, buttons, named variables with examples) whose preview is drawn as WhatsApp
//! shows it, with the linter's finding, while typing (a little script posts the form to
//! `/console/templates/preview`; without script the Preview button does the same); a template's
//! page with each language version, its review history and reason, and delete. Creating and
//! deleting run CreateChatappTemplate and DeleteChatappTemplate themselves ([`crate::rpc::call`]),
//! and the preview runs the same draft check, so the console applies the API's rules exactly.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use opencams_domain::template::{self, AuditStatus, Category, LANGUAGES};
use opencams_protocol::{CamsError, Params};
use opencams_store::{EventRow, Space, TemplateFilter, TemplateRow};
use serde::Deserialize;
use serde_json::{Value, json};

use super::bubble;
use super::layout::{error_page, page, unavailable};
use super::session::{Access, Signed};
use super::webhooks::SpaceQuery;
use crate::AppState;

/// Templates per page of the list.
const PAGE: u32 = 50;
/// Button rows in the builder (Meta allows up to ten buttons; the JSON field takes more).
const BUTTON_ROWS: usize = 3;

/// The builder's script, served at [`SCRIPT_PATH`].
const SCRIPT: &str = include_str!("builder.js");
pub static SCRIPT_PATH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| super::layout::asset_path("builder", "js", SCRIPT));

/// `GET SCRIPT_PATH`.
pub async fn script() -> Response {
    super::layout::asset("text/javascript; charset=utf-8", SCRIPT)
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    space: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    page: u64,
}

fn badge(status: AuditStatus) -> Markup {
    html! { span class={ "badge " (status.as_str()) } { (status.as_str()) } }
}

/// `GET /console/templates`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Query(q): Query<ListQuery>,
) -> Response {
    let (space, spaces) = match signed.space(&state, &q.space).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut problems = Vec::new();
    let audit_status = match q.status.trim() {
        "" => None,
        s => match AuditStatus::parse(s) {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(format!("status: {}", e.message));
                None
            }
        },
    };
    let language = match q.language.trim() {
        "" => None,
        l => match template::parse_language(l) {
            Ok(l) => Some(l),
            Err(e) => {
                problems.push(format!("language: {}", e.message));
                None
            }
        },
    };
    let name = Some(q.name.trim().to_string()).filter(|n| !n.is_empty());
    let filter = TemplateFilter {
        space_id: space.id.clone(),
        name,
        language,
        audit_status,
        offset: q.page * u64::from(PAGE),
        limit: PAGE,
        ..Default::default()
    };
    let (total, rows) = match state.store.list_templates(filter).await {
        Ok(r) => r,
        Err(e) => return unavailable("templates", &e),
    };
    let more = (q.page + 1) * u64::from(PAGE) < total;
    let next_page = (q.page + 1).to_string();
    let next = format!(
        "/console/templates?{}",
        super::messages::form_urlencoded_pairs(&[
            ("space", &space.id),
            ("status", &q.status),
            ("language", &q.language),
            ("name", &q.name),
            ("page", &next_page),
        ])
    );
    let body = html! {
        h1 { "Templates" }
        @if signed.may(Access::Operate) {
            p { a href={ "/console/templates/new?space=" (space.id) } { "New template" } }
        }
        @for p in &problems { p.error role="alert" { (p) } }
        form.search method="get" action="/console/templates" role="search" {
            @if spaces.len() > 1 {
                label { "Space"
                    select name="space" { @for s in &spaces { option value=(s.id) selected[s.id == space.id] { (s.id) } } }
                }
            } @else { input type="hidden" name="space" value=(space.id); }
            label { "Name" input type="text" name="name" value=(q.name); }
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in [AuditStatus::Auditing, AuditStatus::Pass, AuditStatus::Fail, AuditStatus::Paused, AuditStatus::Disabled] {
                        option value=(s.as_str()) selected[q.status.eq_ignore_ascii_case(s.as_str())] { (s.as_str()) }
                    }
                }
            }
            label { "Language"
                select name="language" {
                    option value="" { "any" }
                    @for l in LANGUAGES { option value=(l) selected[q.language == *l] { (l) } }
                }
            }
            button type="submit" { "Filter" }
        }
        p.muted { (total) " template language versions in space " code { (space.id) } "." }
        div.table-wrap { table {
            thead { tr { th { "Name" } th { "Language" } th { "Category" } th { "Status" } th { "Reason" } th { "Updated (UTC)" } } }
            tbody { @for t in &rows { tr {
                td { a href={ "/console/templates/" (t.code) "?space=" (space.id) } { (t.name) } }
                td { (t.language) }
                td { (t.category) }
                td { (badge(t.audit_status)) }
                td { (t.reason) }
                td { (opencams_protocol::time_fmt::format(t.updated_at / 1000)) }
            } } }
        } }
        @if more { p { a href=(next) rel="next" { "Next page" } } }
    };
    page(StatusCode::OK, "Templates", Some(&signed), body)
}

/// The builder's fields.
#[derive(Deserialize, Default, Clone)]
pub struct Builder {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    space: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    header_format: String,
    #[serde(default)]
    header_text: String,
    #[serde(default)]
    header_url: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    footer: String,
    #[serde(default)]
    button_type_0: String,
    #[serde(default)]
    button_text_0: String,
    #[serde(default)]
    button_value_0: String,
    #[serde(default)]
    button_type_1: String,
    #[serde(default)]
    button_text_1: String,
    #[serde(default)]
    button_value_1: String,
    #[serde(default)]
    button_type_2: String,
    #[serde(default)]
    button_text_2: String,
    #[serde(default)]
    button_value_2: String,
    /// `name: value` per line.
    #[serde(default)]
    examples: String,
    /// Components as CAMS JSON: when given, used instead of the fields above.
    #[serde(default)]
    components: String,
}

impl Builder {
    fn button(&self, i: usize) -> (&str, &str, &str) {
        match i {
            0 => (
                &self.button_type_0,
                &self.button_text_0,
                &self.button_value_0,
            ),
            1 => (
                &self.button_type_1,
                &self.button_text_1,
                &self.button_value_1,
            ),
            _ => (
                &self.button_type_2,
                &self.button_text_2,
                &self.button_value_2,
            ),
        }
    }

    /// `Components` as CAMS JSON: the JSON field when given, else built from the fields.
    fn components_json(&self) -> Result<String, String> {
        if !self.components.trim().is_empty() {
            return Ok(self.components.trim().to_string());
        }
        let mut out = Vec::new();
        match self.header_format.trim().to_ascii_uppercase().as_str() {
            "" | "NONE" => {}
            "TEXT" => {
                out.push(json!({"Type": "HEADER", "Format": "TEXT", "Text": self.header_text}))
            }
            f @ ("IMAGE" | "VIDEO" | "DOCUMENT") => {
                let mut h = json!({"Type": "HEADER", "Format": f});
                if !self.header_url.trim().is_empty() {
                    h["Url"] = Value::String(self.header_url.trim().into());
                }
                out.push(h);
            }
            "LOCATION" => out.push(json!({"Type": "HEADER", "Format": "LOCATION"})),
            other => {
                return Err(format!(
                    "header: {other:?} is not a header kind; choose none, TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION"
                ));
            }
        }
        out.push(json!({"Type": "BODY", "Text": self.body}));
        if !self.footer.trim().is_empty() {
            out.push(json!({"Type": "FOOTER", "Text": self.footer}));
        }
        let mut buttons = Vec::new();
        for i in 0..BUTTON_ROWS {
            let (kind, text, value) = self.button(i);
            let value = value.trim();
            let b = match kind.trim().to_ascii_uppercase().as_str() {
                "" | "NONE" => continue,
                "QUICK_REPLY" => json!({"Type": "QUICK_REPLY", "Text": text}),
                "URL" => {
                    let dynamic = value.contains("{{");
                    json!({"Type": "URL", "Text": text, "Url": value,
                           "UrlType": if dynamic { "dynamic" } else { "static" }})
                }
                "PHONE_NUMBER" => {
                    json!({"Type": "PHONE_NUMBER", "Text": text, "PhoneNumber": value})
                }
                "COPY_CODE" => json!({"Type": "COPY_CODE", "Text": text, "CouponCode": value}),
                other => {
                    return Err(format!(
                        "button {}: {other:?} is not a button kind; choose QUICK_REPLY, URL, PHONE_NUMBER or COPY_CODE",
                        i + 1
                    ));
                }
            };
            buttons.push(b);
        }
        if !buttons.is_empty() {
            out.push(json!({"Type": "BUTTONS", "Buttons": buttons}));
        }
        Ok(Value::Array(out).to_string())
    }

    /// `Example` from the `name: value` lines.
    fn examples(&self) -> Result<BTreeMap<String, String>, String> {
        let mut out = BTreeMap::new();
        for (n, line) in self.examples.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some((k, v)) = line.split_once([':', '=']) else {
                return Err(format!(
                    "examples, line {}: {line:?} is not `name: value`",
                    n + 1
                ));
            };
            let k = k
                .trim()
                .trim_start_matches("{{")
                .trim_end_matches("}}")
                .trim();
            out.insert(k.to_string(), v.trim().to_string());
        }
        Ok(out)
    }

    /// The CreateChatappTemplate parameters of this form.
    fn params(&self, space: &str) -> Result<Params, String> {
        let components = self.components_json()?;
        let example = self.examples()?;
        let mut map = BTreeMap::new();
        map.insert("CustSpaceId".to_string(), space.to_string());
        map.insert("TemplateType".to_string(), "WHATSAPP".to_string());
        map.insert("Name".to_string(), self.name.trim().to_string());
        map.insert("Language".to_string(), self.language.trim().to_string());
        map.insert("Category".to_string(), self.category.trim().to_string());
        map.insert("Components".to_string(), components);
        map.insert(
            "Example".to_string(),
            serde_json::to_string(&example).unwrap_or_else(|_| "{}".into()),
        );
        Ok(Params::from_map(map))
    }
}

/// What the preview shows of a form: the message drawn (when its components parse) and the
/// first finding of the API's own draft check, or none.
fn preview_of(form: &Builder) -> Markup {
    let params = match form.params("") {
        Ok(p) => p,
        Err(e) => return findings(Some(&e), None),
    };
    let example = form.examples().unwrap_or_default();
    let components = params
        .get_json_text("Components")
        .map(template::parse_components);
    let drawn = match &components {
        Some(Ok(c)) => Some(bubble::template(c, &example)),
        _ => None,
    };
    let checked = (|| -> Result<(), CamsError> {
        let name = params.require("Name")?;
        let language = template::parse_language(params.require("Language")?)?;
        let category = Category::parse(params.require("Category")?)?;
        crate::templates::draft(&params, name, &language, category)?;
        Ok(())
    })();
    let finding = checked
        .err()
        .map(|e| format!("{}: {}", e.code.as_str(), e.message));
    let vars = match &components {
        Some(Ok(c)) => template::variables(c).required(),
        _ => Vec::new(),
    };
    html! {
        (findings(finding.as_deref(), drawn))
        @if !vars.is_empty() {
            h3 { "Variables" }
            ul { @for (name, used) in &vars { li {
                code { "{{" (name) "}}" } " in " (used) ": "
                @match example.get(name) {
                    Some(v) => { "example " q { (v) } }
                    None => { span.error { "no example (Meta's review needs one)" } }
                }
            } } }
        }
    }
}

fn findings(finding: Option<&str>, drawn: Option<Markup>) -> Markup {
    html! {
        div id="preview-result" {
            @match finding {
                Some(f) => { p.findings.bad role="alert" { (f) } }
                None => { p.findings.ok role="status" { "No findings: the draft passes the checks Meta's review makes." } }
            }
            @if let Some(d) = drawn { div.phone-preview { (d) } }
        }
    }
}

/// `GET /console/templates/new` (the form is shown to everyone; only operators submit).
pub async fn new_form(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Query(q): Query<ListQuery>,
) -> Response {
    let form = Builder {
        space: q.space,
        language: "en_US".into(),
        category: "UTILITY".into(),
        ..Default::default()
    };
    builder_page(&state, &signed, StatusCode::OK, &form, None).await
}

async fn builder_page(
    state: &AppState,
    signed: &Signed,
    status: StatusCode,
    form: &Builder,
    error: Option<&str>,
) -> Response {
    let (space, spaces) = match signed.space(state, &form.space).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let operate = signed.may(Access::Operate);
    let field = |label: &str, name: &str, value: &str, hint: &str| {
        html! { label { (label) input type="text" name=(name) value=(value) placeholder=(hint); } }
    };
    let body = html! {
        h1 { "New template" }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        @if !operate { p.muted { "Your role may preview templates; an operator or admin submits them." } }
        div.builder {
            form.stacked id="builder" method="post" action="/console/templates" data-preview="/console/templates/preview" {
                input type="hidden" name="csrf" value=(signed.session.csrf_token);
                @if spaces.len() > 1 {
                    label { "Space" select name="space" { @for s in &spaces { option value=(s.id) selected[s.id == space.id] { (s.id) } } } }
                } @else { input type="hidden" name="space" value=(space.id); }
                div.row {
                    (field("Name", "name", &form.name, "order_update"))
                    label { "Language" select name="language" { @for l in LANGUAGES { option value=(l) selected[form.language == *l] { (l) } } } }
                    label { "Category" select name="category" {
                        @for c in [Category::Utility, Category::Marketing, Category::Authentication] {
                            option value=(c.as_str()) selected[form.category.eq_ignore_ascii_case(c.as_str())] { (c.as_str()) }
                        }
                    } }
                }
                fieldset {
                    legend { "Header" }
                    div.row {
                        label { "Kind" select name="header_format" {
                            @for f in ["none", "TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"] {
                                option value=(f) selected[form.header_format.eq_ignore_ascii_case(f)] { (f) }
                            }
                        } }
                        (field("Text (TEXT)", "header_text", &form.header_text, "Your order {{order}}"))
                        (field("Sample media URL (IMAGE, VIDEO, DOCUMENT)", "header_url", &form.header_url, "https://example.com/a.jpg"))
                    }
                }
                label { "Body (variables as {{name}}; *bold*, _italic_, ~strike~)"
                    textarea name="body" rows="5" { (form.body) }
                }
                (field("Footer", "footer", &form.footer, "Reply STOP to opt out"))
                fieldset {
                    legend { "Buttons" }
                    @for i in 0..BUTTON_ROWS {
                        @let (kind, text, value) = form.button(i);
                        div.row {
                            label { "Button " (i + 1) " kind" select name={ "button_type_" (i) } {
                                @for k in ["none", "QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE"] {
                                    option value=(k) selected[kind.eq_ignore_ascii_case(k)] { (k) }
                                }
                            } }
                            (field(&format!("Button {} text", i + 1), &format!("button_text_{i}"), text, "Track order"))
                            (field(&format!("Button {} URL, phone or code", i + 1), &format!("button_value_{i}"), value, "https://example.com/t/{{id}}"))
                        }
                    }
                }
                label { "Examples, one per line: name: value"
                    textarea name="examples" rows="3" placeholder="order: 12345" { (form.examples) }
                }
                details {
                    summary { "Advanced: Components as CAMS JSON (used instead of the fields above)" }
                    label { "Components JSON" textarea name="components" rows="6" { (form.components) } }
                }
                div.row {
                    button type="submit" formaction="/console/templates/preview" { "Preview" }
                    @if operate { button.primary type="submit" { "Submit for review" } }
                }
            }
            section.preview aria-labelledby="preview-h" aria-live="polite" {
                h2 id="preview-h" { "Preview" }
                div id="preview" { (preview_of(form)) }
            }
        }
        script src=(*SCRIPT_PATH) defer {}
    };
    page(status, "New template", Some(signed), body)
}

/// `POST /console/templates/preview`: the preview alone for the builder's script (which sends
/// `X-Preview: fragment`), else the whole builder page with it.
pub async fn preview(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    headers: HeaderMap,
    Form(form): Form<Builder>,
) -> Response {
    if !signed.csrf_ok(&form.csrf) {
        return super::layout::forged();
    }
    if headers.get("x-preview").is_some_and(|v| v == "fragment") {
        return super::layout::fragment(StatusCode::OK, preview_of(&form));
    }
    builder_page(&state, &signed, StatusCode::OK, &form, None).await
}

/// `POST /console/templates` (operators): CreateChatappTemplate with the form.
pub async fn create(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Form(form): Form<Builder>,
) -> Response {
    if let Some(refused) = signed.refusal(&form.csrf, Access::Operate) {
        return refused;
    }
    let space = match signed.space(&state, &form.space).await {
        Ok((s, _)) => s,
        Err(r) => return r,
    };
    let params = match form.params(&space.id) {
        Ok(p) => p,
        Err(e) => {
            return builder_page(&state, &signed, StatusCode::BAD_REQUEST, &form, Some(&e)).await;
        }
    };
    let principal = match signed.principal(&state).await {
        Ok(p) => p,
        Err(e) => return unavailable("templates", &e),
    };
    match crate::rpc::call(&state, principal, "CreateChatappTemplate", &params).await {
        Ok(out) => {
            let code = out
                .get("Data")
                .and_then(|d| d["TemplateCode"].as_str())
                .unwrap_or_default();
            Redirect::to(&format!("/console/templates/{code}?space={}", space.id)).into_response()
        }
        Err(e) => {
            let message = format!("{}: {}", e.code.as_str(), e.message);
            builder_page(&state, &signed, status_of(&e), &form, Some(&message)).await
        }
    }
}

/// The language versions of `code` in one of the account's spaces (`space` when given).
async fn versions(
    state: &AppState,
    signed: &Signed,
    code: &str,
    space: &str,
) -> Result<(Space, Vec<TemplateRow>), Response> {
    let (space, spaces) = signed.space(state, space).await?;
    let missing = || {
        error_page(
            StatusCode::NOT_FOUND,
            &format!("No template {code:?} in your account."),
        )
    };
    // the space asked for first, then the account's others
    let order = std::iter::once(&space).chain(spaces.iter().filter(|s| s.id != space.id));
    for s in order {
        let rows = state
            .store
            .templates_by_code(&s.id, code)
            .await
            .map_err(|e| unavailable("templates", &e))?;
        if rows.iter().any(|r| r.account_id == signed.account.id) {
            return Ok((s.clone(), rows));
        }
    }
    Err(missing())
}

/// `GET /console/templates/{code}`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(code): Path<String>,
    Query(q): Query<SpaceQuery>,
) -> Response {
    let (space, rows) = match versions(&state, &signed, &code, &q.space).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let history = match state
        .store
        .message_events(&opencams_store::events::template_subject(&code))
        .await
    {
        Ok(h) => h,
        Err(e) => return unavailable("templates", &e),
    };
    let operate = signed.may(Access::Operate);
    let reviewing = rows.iter().any(|r| r.audit_status == AuditStatus::Auditing);
    let name = rows.first().map(|r| r.name.clone()).unwrap_or_default();
    let body = html! {
        @if reviewing {
            // no script needed to watch a review: the page reloads itself while one runs
            meta http-equiv="refresh" content="2";
        }
        h1 { "Template " (name) }
        p.muted { "Code " code { (code) } " in space " code { (space.id) } "." }
        @for t in &rows {
            section aria-labelledby={ "v-" (t.language) } {
                h2 id={ "v-" (t.language) } { (t.language) " " (badge(t.audit_status)) }
                @if !t.reason.is_empty() { p { "Reason: " (t.reason) } }
                div.table-wrap { table { tbody {
                    tr { th scope="row" { "Category" } td { (t.category) } }
                    tr { th scope="row" { "Quality" } td { (t.quality_score) } }
                    tr { th scope="row" { "Created (UTC)" } td { (opencams_protocol::time_fmt::format(t.created_at / 1000)) } }
                    tr { th scope="row" { "Updated (UTC)" } td { (opencams_protocol::time_fmt::format(t.updated_at / 1000)) } }
                } } }
                @if let Ok(components) = template::parse_components(&t.components) {
                    @let example = template::parse_example(&t.example).unwrap_or_default();
                    div.phone-preview { (bubble::template(&components, &example)) }
                }
                h3 { "Review history" }
                (review_history(&history, &t.language))
                @if t.audit_status == AuditStatus::Pass {
                    p { a href={ "/console/send?space=" (space.id) "&template=" (t.code) "&language=" (t.language) } { "Send this template" } }
                }
                @if operate {
                    form method="post" action={ "/console/templates/" (t.code) "/" (t.language) "/delete" } {
                        input type="hidden" name="csrf" value=(signed.session.csrf_token);
                        input type="hidden" name="space" value=(space.id);
                        button type="submit" { "Delete the " (t.language) " version" }
                    }
                }
            }
        }
        p { a href={ "/console/templates?space=" (space.id) } { "All templates" } }
    };
    page(
        StatusCode::OK,
        &format!("Template {name}"),
        Some(&signed),
        body,
    )
}

/// The ChatAppAudit records of one language version, oldest first.
fn review_history(events: &[EventRow], language: &str) -> Markup {
    let steps: Vec<(i64, String, String)> = events
        .iter()
        .filter_map(|e| {
            let v: Value = serde_json::from_str(&e.payload).ok()?;
            let record = v.as_array().and_then(|a| a.first()).unwrap_or(&v);
            (record["Language"].as_str() == Some(language)).then(|| {
                (
                    e.created_at,
                    record["AuditStatus"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    record["Reason"].as_str().unwrap_or_default().to_string(),
                )
            })
        })
        .collect();
    html! {
        @if steps.is_empty() { p.muted { "No review recorded." } }
        @else {
            ol.timeline { @for (at, status, reason) in &steps { li {
                time { (opencams_protocol::time_fmt::format(at / 1000)) } " " strong { (status) }
                @if !reason.is_empty() { " — " (reason) }
            } } }
        }
    }
}

/// `POST /console/templates/{code}/{language}/delete` (operators): DeleteChatappTemplate.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path((code, language)): Path<(String, String)>,
    Form(f): Form<SpaceForm>,
) -> Response {
    if let Some(refused) = signed.refusal(&f.csrf, Access::Operate) {
        return refused;
    }
    let (space, _) = match versions(&state, &signed, &code, &f.space).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let principal = match signed.principal(&state).await {
        Ok(p) => p,
        Err(e) => return unavailable("templates", &e),
    };
    let mut map = BTreeMap::new();
    map.insert("CustSpaceId".to_string(), space.id.clone());
    map.insert("TemplateCode".to_string(), code.clone());
    map.insert("Language".to_string(), language);
    map.insert("TemplateType".to_string(), "WHATSAPP".to_string());
    match crate::rpc::call(
        &state,
        principal,
        "DeleteChatappTemplate",
        &Params::from_map(map),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/console/templates?space={}", space.id)).into_response(),
        Err(e) => error_page(
            status_of(&e),
            &format!("{}: {}", e.code.as_str(), e.message),
        ),
    }
}

/// The HTTP status the API answers `e` with.
pub(super) fn status_of(e: &CamsError) -> StatusCode {
    StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
}

#[derive(Deserialize, Default)]
pub struct SpaceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    space: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_make_the_components_the_api_takes() {
        let form = Builder {
            name: "order_update".into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            header_format: "TEXT".into(),
            header_text: "Order {{order}}".into(),
            body: "Hi {{name}}, it ships today.".into(),
            footer: "opencams".into(),
            button_type_0: "QUICK_REPLY".into(),
            button_text_0: "Thanks".into(),
            button_type_1: "URL".into(),
            button_text_1: "Track".into(),
            button_value_1: "https://example.com/t/{{id}}".into(),
            examples: "order: 42\n{{name}} = Ann\nid: 7".into(),
            ..Default::default()
        };
        let p = form.params("sp").unwrap();
        let c: Value = serde_json::from_str(p.get_json_text("Components").unwrap()).unwrap();
        assert_eq!(c[0]["Format"], "TEXT");
        assert_eq!(c[3]["Buttons"][1]["UrlType"], "dynamic");
        let parsed = template::parse_components(&c.to_string()).unwrap();
        assert_eq!(parsed.len(), 4);
        assert_eq!(
            form.examples().unwrap(),
            BTreeMap::from([
                ("id".into(), "7".into()),
                ("name".into(), "Ann".into()),
                ("order".into(), "42".into())
            ])
        );
        assert!(crate::templates::draft(&p, "order_update", "en_US", Category::Utility).is_ok());
        let finding = preview_of(&form).into_string();
        assert!(finding.contains("No findings"), "{finding}");
    }

    #[test]
    fn the_preview_names_the_first_finding() {
        let form = Builder {
            name: "Bad Name".into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            body: "Hello {{name}}".into(),
            ..Default::default()
        };
        let html = preview_of(&form).into_string();
        assert!(html.contains("findings bad"), "{html}");
        let bad_line = Builder {
            examples: "no separator".into(),
            ..form
        };
        assert!(preview_of(&bad_line).into_string().contains("line 1"));
    }
}
