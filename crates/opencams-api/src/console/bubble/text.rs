//! WhatsApp's text: the `{{name}}` variables of a template filled from values (the unfilled
//! ones kept and marked), and WhatsApp's formatting — `*bold*`, `_italic_`, `~strike~`,
//! ` ```mono``` ` — as maud elements around escaped text, so that nothing written by a user or a
//! template reaches the page unescaped.

use std::collections::BTreeMap;

use maud::{Markup, html};

/// `text` with each `{{name}}` that has a non-empty value replaced by it; the others stay.
pub(super) fn fill(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        out.push_str(&rest[..open]);
        match values
            .get(after[..close].trim())
            .filter(|v| !v.trim().is_empty())
        {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[open..open + close + 4]),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// Text with the `{{name}}` left in it marked as unfilled variables.
pub(super) fn with_vars(text: &str) -> Markup {
    let mut pieces: Vec<(bool, &str)> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}") else {
            break;
        };
        let end = open + 2 + close + 2;
        pieces.push((false, &rest[..open]));
        pieces.push((true, &rest[open..end]));
        rest = &rest[end..];
    }
    pieces.push((false, rest));
    html! {
        @for (var, piece) in pieces {
            @if var { span.var { (piece) } } @else { (piece) }
        }
    }
}

/// A run of WhatsApp-formatted text.
#[derive(Debug, PartialEq)]
enum Span<'a> {
    Plain(&'a str),
    Bold(Vec<Span<'a>>),
    Italic(Vec<Span<'a>>),
    Strike(Vec<Span<'a>>),
    Mono(&'a str),
}

/// WhatsApp's formatting: ` ```mono``` ` (may span lines, nothing inside it is formatted), and
/// `*bold*`, `_italic_`, `~strike~` (nestable, on one line). A marker opens at the start or
/// after a character that is not a letter or digit, before a character that is not a space;
/// it closes after one that is not a space, before the end or a character that is not a letter
/// or digit. Anything else is text as written (`2*3*4`, `snake_case`, `a * b`).
fn spans(text: &str) -> Vec<Span<'_>> {
    let mut out = Vec::new();
    let mut plain = 0;
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        if text[i..].starts_with("```")
            && let Some(len) = text[i + 3..].find("```").filter(|n| *n > 0)
        {
            push_plain(&mut out, &text[plain..i]);
            out.push(Span::Mono(&text[i + 3..i + 3 + len]));
            i += len + 6;
            plain = i;
            continue;
        }
        if matches!(c, '*' | '_' | '~')
            && opens(text, i)
            && let Some(end) = closes(text, i, c)
        {
            push_plain(&mut out, &text[plain..i]);
            let inner = spans(&text[i + 1..end]);
            out.push(match c {
                '*' => Span::Bold(inner),
                '_' => Span::Italic(inner),
                _ => Span::Strike(inner),
            });
            i = end + 1;
            plain = i;
            continue;
        }
        i += c.len_utf8();
    }
    push_plain(&mut out, &text[plain..]);
    out
}

fn push_plain<'a>(out: &mut Vec<Span<'a>>, text: &'a str) {
    if !text.is_empty() {
        out.push(Span::Plain(text));
    }
}

/// Whether the (one-byte) marker at `i` may open a run.
fn opens(text: &str, i: usize) -> bool {
    let before = text[..i].chars().next_back();
    let after = text[i + 1..].chars().next();
    before.is_none_or(|b| !b.is_alphanumeric()) && after.is_some_and(|a| !a.is_whitespace())
}

/// Where the run opened at `open` by `marker` closes, on the same line.
fn closes(text: &str, open: usize, marker: char) -> Option<usize> {
    let mut prev = marker;
    for (j, c) in text[open + 1..].char_indices() {
        if c == '\n' {
            return None;
        }
        let at = open + 1 + j;
        if c == marker
            && j > 0
            && !prev.is_whitespace()
            && text[at + 1..]
                .chars()
                .next()
                .is_none_or(|n| !n.is_alphanumeric())
        {
            return Some(at);
        }
        prev = c;
    }
    None
}

/// Text with WhatsApp's formatting as elements; unfilled `{{name}}` marked.
pub(super) fn rich(text: &str) -> Markup {
    html! { @for s in spans(text) { (span(&s)) } }
}

fn span(s: &Span<'_>) -> Markup {
    match s {
        Span::Plain(t) => with_vars(t),
        Span::Bold(inner) => html! { strong { @for s in inner { (span(s)) } } },
        Span::Italic(inner) => html! { em { @for s in inner { (span(s)) } } },
        Span::Strike(inner) => html! { s { @for s in inner { (span(s)) } } },
        Span::Mono(t) => html! { code { (t) } },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html_of(text: &str) -> String {
        rich(text).into_string()
    }

    #[test]
    fn whatsapp_formatting_becomes_elements() {
        assert_eq!(
            html_of("*bold* _it_ ~gone~ ```x = 1```"),
            "<strong>bold</strong> <em>it</em> <s>gone</s> <code>x = 1</code>"
        );
        assert_eq!(
            html_of("*_both_* and (*in parens*)."),
            "<strong><em>both</em></strong> and (<strong>in parens</strong>)."
        );
        assert_eq!(
            html_of("```a\n*b*```"),
            "<code>a\n*b*</code>",
            "mono spans lines, nothing inside it is formatted"
        );
        assert_eq!(html_of("héllo *wörld*"), "héllo <strong>wörld</strong>");
    }

    #[test]
    fn markers_that_do_not_open_or_close_stay_text() {
        for plain in [
            "2*3*4",
            "a * b * c",
            "snake_case_name",
            "*open only",
            "**",
            "*a\nb*",
            "* spaced*",
            "*spaced *",
            "~",
            "``````",
            "*bold*er",
        ] {
            assert_eq!(
                html_of(plain),
                maud::html! { (plain) }.into_string(),
                "{plain:?}"
            );
        }
    }

    #[test]
    fn user_text_is_escaped_and_never_markup() {
        let out = html_of("<script>alert('x')</script> *<b>&</b>* ```<i>``` {{var}}");
        assert_eq!(
            out,
            "&lt;script&gt;alert('x')&lt;/script&gt; <strong>&lt;b&gt;&amp;&lt;/b&gt;</strong> <code>&lt;i&gt;</code> <span class=\"var\">{{var}}</span>"
        );
        let values = BTreeMap::from([
            ("a".to_string(), "<b>".to_string()),
            ("b".to_string(), " ".to_string()),
        ]);
        assert_eq!(
            fill("{{a}} {{ b }} {{c}} {{", &values),
            "<b> {{ b }} {{c}} {{"
        );
        assert_eq!(
            with_vars(&fill("{{a}}", &values)).into_string(),
            "&lt;b&gt;"
        );
    }
}
