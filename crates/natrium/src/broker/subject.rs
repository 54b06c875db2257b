//! Subject rules: what may be published to, what may be subscribed to, and matching.

use crate::error::{Error, Result};

fn invalid(subject: &str, reason: &'static str) -> Error {
    Error::InvalidSubject {
        subject: subject.to_owned(),
        reason,
    }
}

fn check_tokens(subject: &str) -> Result<()> {
    if subject.is_empty() {
        return Err(invalid(subject, "subjects must not be empty"));
    }
    if subject.chars().any(char::is_whitespace) {
        return Err(invalid(subject, "subjects must not contain whitespace"));
    }
    if subject.split('.').any(str::is_empty) {
        return Err(invalid(subject, "subjects must not contain empty tokens"));
    }
    Ok(())
}

/// A subject that can be published to: tokens, no wildcards.
pub(crate) fn validate_publish(subject: &str) -> Result<()> {
    check_tokens(subject)?;
    if subject.split('.').any(|t| t == "*" || t == ">") {
        return Err(invalid(
            subject,
            "wildcards are not allowed when publishing",
        ));
    }
    Ok(())
}

/// A subject that can be subscribed to: whole-token `*`, and `>` only as the last token.
pub(crate) fn validate_subscribe(subject: &str) -> Result<()> {
    check_tokens(subject)?;
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, t) in tokens.iter().enumerate() {
        if (t.contains('*') && *t != "*") || (t.contains('>') && *t != ">") {
            return Err(invalid(subject, "wildcards must be whole tokens"));
        }
        if *t == ">" && i + 1 != tokens.len() {
            return Err(invalid(subject, "'>' must be the last token"));
        }
    }
    Ok(())
}

/// A queue group name: non-empty, no whitespace.
pub(crate) fn validate_queue(queue: &str) -> Result<()> {
    if queue.is_empty() || queue.chars().any(char::is_whitespace) {
        return Err(invalid(
            queue,
            "queue group names must be non-empty without whitespace",
        ));
    }
    Ok(())
}

/// Whether `subject` (literal) matches `pattern` (may hold wildcards).
pub(crate) fn matches(pattern: &str, subject: &str) -> bool {
    let mut pats = pattern.split('.');
    let mut subs = subject.split('.');
    loop {
        match (pats.next(), subs.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(p), Some(s)) if p == s => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_whole_tokens() {
        assert!(matches("a.*", "a.b"));
        assert!(!matches("a.*", "a.b.c"));
        assert!(matches("a.>", "a.b.c"));
        assert!(!matches("a.>", "a"));
        assert!(matches("*.b", "x.b"));
        assert!(!matches("a.b", "a.bc"));
    }

    #[test]
    fn invalid_subjects_are_rejected() {
        assert!(validate_publish("a.*").is_err());
        assert!(validate_publish("a..b").is_err());
        assert!(validate_publish("a b").is_err());
        assert!(validate_publish("").is_err());
        assert!(validate_subscribe("a.>.b").is_err());
        assert!(validate_subscribe("a.b*").is_err());
        assert!(validate_subscribe("a.*.>").is_ok());
    }
}
