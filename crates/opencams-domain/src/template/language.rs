//! WhatsApp template language codes (Meta's supported-languages list). A template exists per
//! (name, language) and Meta matches the code exactly (`en` is not `en_US`), so the canonical
//! spelling is what we keep.

use crate::{CamsError, Code};

/// Meta's template language codes, canonical spelling.
pub const LANGUAGES: &[&str] = &[
    "af", "sq", "ar", "az", "bn", "bg", "ca", "zh_CN", "zh_HK", "zh_TW", "hr", "cs", "da", "nl",
    "en", "en_GB", "en_US", "et", "fil", "fi", "fr", "ka", "de", "el", "gu", "ha", "he", "hi",
    "hu", "id", "ga", "it", "ja", "kn", "kk", "rw_RW", "ko", "ky_KG", "lo", "lv", "lt", "mk", "ms",
    "ml", "mr", "nb", "fa", "pl", "pt_BR", "pt_PT", "pa", "ro", "ru", "sr", "sk", "sl", "es",
    "es_AR", "es_ES", "es_MX", "sw", "sv", "ta", "te", "th", "tr", "uk", "ur", "uz", "vi", "zu",
];

/// Returns the canonical code for `raw`. Exact match first; then case-insensitively and with `-`
/// read as `_` (clients write `en-us` or `EN_US`), since the intent is unambiguous.
pub fn parse_language(raw: &str) -> Result<String, CamsError> {
    let trimmed = raw.trim();
    if let Some(code) = LANGUAGES.iter().find(|c| **c == trimmed) {
        return Ok((*code).to_string());
    }
    let loose = trimmed.replace('-', "_");
    if let Some(code) = LANGUAGES.iter().find(|c| c.eq_ignore_ascii_case(&loose)) {
        return Ok((*code).to_string());
    }
    Err(CamsError::new(
        Code::LanguageNotSupport,
        format!(
            "Language {raw:?} is not a WhatsApp template language; use a code from Meta's list such as en, en_US, en_GB, es, pt_BR, zh_CN, ar, hi, id."
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_are_canonicalised() {
        assert_eq!(parse_language("en_US").ok().as_deref(), Some("en_US"));
        assert_eq!(parse_language("en-us").ok().as_deref(), Some("en_US"));
        assert_eq!(parse_language("FIL").ok().as_deref(), Some("fil"));
        assert_eq!(parse_language("zh_CN").ok().as_deref(), Some("zh_CN"));
    }

    #[test]
    fn unknown_codes_are_refused_by_name() {
        let err = parse_language("xx_YY").expect_err("unknown language");
        assert_eq!(err.code, Code::LanguageNotSupport);
        assert!(err.message.contains("\"xx_YY\""), "{}", err.message);
        assert!(parse_language("").is_err());
    }
}
