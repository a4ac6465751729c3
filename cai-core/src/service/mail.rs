//! The invitation mail, from the host's templates: its language, its wording, its link.
//!
//! The invitation code is the only way into the session, so where it travels matters:
//! it goes in the mail body or in a link's URL *fragment* (after `#`), which browsers
//! never send to a server and proxies never log — never in a query string or a path
//! (R-A8). [`InvitationTemplate::new`] refuses a link base that would put it elsewhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Longest subject or body template, in bytes.
pub const MAX_TEMPLATE_LEN: usize = 16 * 1024;
/// Longest language tag (BCP 47 tags in practice stay far below).
pub const MAX_LANGUAGE_LEN: usize = 35;

/// One language's invitation mail. Placeholders, replaced when the mail is made:
/// `{tenant}` (the tenant's name), `{code}` (the invitation code), `{link}` (the link
/// base with the code in its fragment: `<link_base>#<code>`; only with a link base),
/// `{expires}` (the expiry time, RFC 3339 UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TemplateJson")]
pub struct InvitationTemplate {
    subject: String,
    body: String,
    link_base: Option<String>,
}

impl InvitationTemplate {
    /// A template. The body must contain `{code}` or `{link}` (else the mail would be
    /// useless); `{link}` needs a `link_base`, which must be an `https://` URL without a
    /// fragment (the code becomes the fragment). Sizes are bounded by
    /// [`MAX_TEMPLATE_LEN`]; the subject is one line.
    pub fn new(
        subject: impl Into<String>,
        body: impl Into<String>,
        link_base: Option<String>,
    ) -> Result<Self> {
        let (subject, body) = (subject.into(), body.into());
        let invalid = |reason| Error::Invalid {
            what: "invitation template",
            reason,
        };
        if subject.is_empty() || subject.len() > MAX_TEMPLATE_LEN || subject.contains(['\r', '\n'])
        {
            return Err(invalid("the subject must be one line of 1..=16384 bytes"));
        }
        if body.len() > MAX_TEMPLATE_LEN {
            return Err(invalid("the body is longer than 16384 bytes"));
        }
        if subject.contains("{code}") || subject.contains("{link}") {
            return Err(invalid("the code never goes in the subject"));
        }
        if !body.contains("{code}") && !body.contains("{link}") {
            return Err(invalid("the body must contain {code} or {link}"));
        }
        let bad_base = |base: &String| {
            !base.starts_with("https://")
                || base.len() > 2048
                || base.contains('#')
                || base.chars().any(|c| c.is_whitespace() || c.is_control())
        };
        match &link_base {
            Some(base) if bad_base(base) => {
                return Err(invalid(
                    "the link base must be an https URL without a fragment",
                ));
            }
            None if body.contains("{link}") => {
                return Err(invalid("{link} needs a link base"));
            }
            _ => {}
        }
        Ok(Self {
            subject,
            body,
            link_base,
        })
    }

    /// The subject and body for this invitation.
    pub(crate) fn render(
        &self,
        tenant: &str,
        code: &str,
        expires: &str,
    ) -> (String, Zeroizing<String>) {
        let subject = self.subject.replace("{tenant}", tenant);
        let link = Zeroizing::new(match &self.link_base {
            Some(base) => format!("{base}#{code}"),
            None => String::new(),
        });
        // Replace `{code}` and `{link}` last, so a tenant name containing a placeholder
        // cannot pull the code somewhere else.
        let body = Zeroizing::new(
            self.body
                .replace("{tenant}", &tenant.replace('{', "(").replace('}', ")"))
                .replace("{expires}", expires)
                .replace("{link}", &link)
                .replace("{code}", code),
        );
        (subject, body)
    }
}

/// The JSON input of a template, checked by [`InvitationTemplate::new`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateJson {
    subject: String,
    body: String,
    #[serde(default)]
    link_base: Option<String>,
}

impl TryFrom<TemplateJson> for InvitationTemplate {
    type Error = Error;
    fn try_from(t: TemplateJson) -> Result<Self> {
        Self::new(t.subject, t.body, t.link_base)
    }
}

impl Default for InvitationTemplate {
    fn default() -> Self {
        Self {
            subject: "Invitation from {tenant}".to_owned(),
            body: "You have been invited to a counselling session at {tenant}.\n\
                   Your invitation code (keep it private): {code}\n\
                   It is valid until {expires}.\n"
                .to_owned(),
            link_base: None,
        }
    }
}

/// The host's invitation templates: one per language, and a default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationTemplates {
    /// Used when no language is asked for or none matches.
    pub default: InvitationTemplate,
    /// By language tag (`"de"`, `"en"`, `"pt-BR"`; compared case-insensitively).
    pub by_language: BTreeMap<String, InvitationTemplate>,
}

impl InvitationTemplates {
    /// The template for `language`: an exact (case-insensitive) match, else its primary
    /// subtag (`de` for `de-AT`), else the default.
    pub fn for_language(&self, language: Option<&str>) -> &InvitationTemplate {
        let Some(lang) = language else {
            return &self.default;
        };
        let find = |tag: &str| {
            self.by_language
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                .map(|(_, v)| v)
        };
        find(lang)
            .or_else(|| lang.split('-').next().and_then(find))
            .unwrap_or(&self.default)
    }
}

/// Checks a language tag a client sent: 1..=35 ASCII letters, digits and `-`.
pub(crate) fn check_language(tag: &str) -> Result<()> {
    if tag.is_empty()
        || tag.len() > MAX_LANGUAGE_LEN
        || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(Error::Invalid {
            what: "language",
            reason: "not a language tag",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_goes_in_the_body_or_the_fragment_only() {
        let t = InvitationTemplate::new(
            "Einladung von {tenant}",
            "Hallo! {link}",
            Some("https://beratung.example/join?lang=de".into()),
        )
        .unwrap();
        let (subject, body) = t.render("Nord", "inv_1.abc", "2026-12-08T00:00:00.000Z");
        assert_eq!(subject, "Einladung von Nord");
        assert_eq!(
            body.as_str(),
            "Hallo! https://beratung.example/join?lang=de#inv_1.abc"
        );
        for (subject, body, base) in [
            ("x", "no code here", None),
            ("{code}", "{code}", None),
            ("two\nlines", "{code}", None),
            ("x", "{link}", None),
            ("x", "{link}", Some("http://plain.example/")),
            ("x", "{link}", Some("https://x.example/#frag")),
            ("x", "{link}", Some("https://x.example/ space")),
        ] {
            assert!(
                InvitationTemplate::new(subject, body, base.map(str::to_owned)).is_err(),
                "{subject:?} {body:?}"
            );
        }
        assert!(
            InvitationTemplate::new("x", "y".repeat(MAX_TEMPLATE_LEN + 1) + "{code}", None)
                .is_err()
        );
        // Exactly at the limit is fine.
        let at_limit = "y".repeat(MAX_TEMPLATE_LEN - "{code}".len()) + "{code}";
        assert_eq!(at_limit.len(), 16 * 1024);
        assert!(InvitationTemplate::new("x", at_limit, None).is_ok());
    }

    #[test]
    fn templates_from_json_are_checked_like_new() {
        let ok: InvitationTemplate =
            serde_json::from_str(r#"{"subject":"Hi","body":"Code: {code}"}"#).unwrap();
        assert_eq!(
            ok,
            InvitationTemplate::new("Hi", "Code: {code}", None).unwrap()
        );
        for bad in [
            r#"{"subject":"Hi","body":"no code"}"#,
            r#"{"subject":"{code}","body":"{code}"}"#,
            r#"{"subject":"Hi","body":"{link}","link_base":"http://x.example/"}"#,
            r#"{"subject":"Hi","body":"{code}","extra":1}"#,
        ] {
            assert!(
                serde_json::from_str::<InvitationTemplate>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_tenant_name_cannot_move_the_code() {
        let t = InvitationTemplate::new("Hi", "{tenant}: {code}", None).unwrap();
        let (_, body) = t.render("{code}{link}", "SECRET", "");
        assert_eq!(body.as_str(), "(code)(link): SECRET");
    }

    #[test]
    fn languages_fall_back_to_primary_subtag_then_default() {
        let de = InvitationTemplate::new("Einladung", "{code}", None).unwrap();
        let mut by_language = BTreeMap::new();
        by_language.insert("de".to_owned(), de.clone());
        let all = InvitationTemplates {
            default: InvitationTemplate::default(),
            by_language,
        };
        assert_eq!(all.for_language(Some("DE-at")), &de);
        assert_eq!(all.for_language(Some("fr")), &all.default);
        assert_eq!(all.for_language(None), &all.default);
        assert!(check_language("de-AT").is_ok());
        assert!(check_language(&"x".repeat(MAX_LANGUAGE_LEN)).is_ok());
        for bad in ["", "de_AT", "x".repeat(36).as_str(), "dé"] {
            assert!(check_language(bad).is_err());
        }
    }
}
