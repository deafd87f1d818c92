//! `{{name}}` placeholders in template text and `$(name)` coupon variables. The strict scanner is
//! for the linter; the lenient `names` is for stored templates, which were linted on the way in.

use crate::{CamsError, Code};

/// A placeholder found in a text: the variable name and the byte range of `{{name}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder<'a> {
    pub name: &'a str,
    pub start: usize,
    pub end: usize,
}

/// Strictly scans `text`: every `{{` must close with `}}` around a valid name.
/// `label` names the place in error messages.
pub fn scan<'a>(text: &'a str, label: &str) -> Result<Vec<Placeholder<'a>>, CamsError> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &text[pos..];
        let open = rest.find("{{");
        let close = rest.find("}}");
        let start = match (open, close) {
            (None, None) => return Ok(out),
            (Some(o), Some(c)) if o < c => pos + o,
            (Some(o), None) => {
                return Err(malformed(
                    label,
                    &text[pos + o..],
                    "`{{` is never closed by `}}`",
                ));
            }
            (_, Some(c)) => {
                return Err(malformed(
                    label,
                    &text[pos + c..],
                    "`}}` has no opening `{{`",
                ));
            }
        };
        let inner_start = start + 2;
        let Some(len) = text[inner_start..].find("}}") else {
            return Err(malformed(
                label,
                &text[start..],
                "`{{` is never closed by `}}`",
            ));
        };
        let name = &text[inner_start..inner_start + len];
        let end = inner_start + len + 2;
        if name.contains(['{', '}']) {
            return Err(malformed(label, &text[start..end], "braces are unbalanced"));
        }
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CamsError::new(
                Code::MessageInvalid,
                format!(
                    "{label} uses {{{{{name}}}}}: numeric placeholders are not supported; use named variables such as {{{{name}}}}."
                ),
            ));
        }
        if !is_var_name(name) {
            return Err(CamsError::new(
                Code::MessageInvalid,
                format!(
                    "{label} has the invalid variable {{{{{name}}}}}: a variable name starts with a lower-case letter and holds only lower-case letters, digits and underscores, e.g. {{{{order_id}}}}."
                ),
            ));
        }
        out.push(Placeholder { name, start, end });
        pos = end;
    }
}

fn malformed(label: &str, at: &str, why: &str) -> CamsError {
    let snippet: String = at.chars().take(20).collect();
    CamsError::new(
        Code::MessageInvalid,
        format!(
            "{label} has malformed braces near {snippet:?}: {why}; write variables as {{{{name}}}}."
        ),
    )
}

/// `^[a-z][a-z0-9_]*$`, Meta's rule for named parameters.
pub fn is_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Every `{{name}}` in `text`, in order, deduplicated; malformed pieces are skipped.
pub fn names(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(o) = rest.find("{{") {
        let after = &rest[o + 2..];
        let Some(c) = after.find("}}") else { break };
        let name = after[..c].trim();
        if !name.is_empty() && !name.contains(['{', '}']) && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
        rest = &after[c + 2..];
    }
    out
}

/// Replaces each `{{name}}` that has a value; unknown ones stay as written.
pub fn substitute(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(o) = rest.find("{{") {
        let after = &rest[o + 2..];
        let Some(c) = after.find("}}") else { break };
        out.push_str(&rest[..o]);
        match value(after[..c].trim()) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[o..o + 2 + c + 2]),
        }
        rest = &after[c + 2..];
    }
    out.push_str(rest);
    out
}

/// The variable of a coupon code written `$(name)`.
pub fn coupon_var(code: &str) -> Option<&str> {
    code.trim()
        .strip_prefix("$(")?
        .strip_suffix(')')
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_named_variables() {
        let found = scan("Hi {{first_name}}, order {{order_2}}.", "BODY").expect("valid");
        let names: Vec<_> = found.iter().map(|p| p.name).collect();
        assert_eq!(names, ["first_name", "order_2"]);
        assert_eq!(found[0].start, 3);
    }

    #[test]
    fn refuses_numeric_and_malformed_placeholders() {
        let numeric = scan("Hi {{1}}", "BODY").expect_err("numeric");
        assert!(
            numeric
                .message
                .contains("numeric placeholders are not supported"),
            "{}",
            numeric.message
        );
        for bad in [
            "Hi {{name",
            "Hi name}}",
            "Hi {{{name}}}",
            "Hi {{First}}",
            "Hi {{}}",
            "Hi {{ name }}",
        ] {
            assert_eq!(
                scan(bad, "BODY").expect_err(bad).code,
                Code::MessageInvalid,
                "{bad}"
            );
        }
    }

    #[test]
    fn lenient_helpers() {
        assert_eq!(names("{{a}} {{b}} {{a}}"), ["a", "b"]);
        assert_eq!(
            substitute("Hi {{a}} {{b}}", |n| (n == "a").then(|| "Ada".into())),
            "Hi Ada {{b}}"
        );
        assert_eq!(coupon_var("$(couponCode)"), Some("couponCode"));
        assert_eq!(coupon_var("SAVE10"), None);
    }
}
