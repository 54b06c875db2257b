//! Subject rules for the framework: natrium-wire's statement of nats-server's rules, with
//! natrium's error type. The rules themselves live only there.

use natrium_wire::{SubjectError, check_publish_subject, check_subject, is_valid_queue};

use crate::error::{Error, Result};

fn invalid(subject: &str, reason: &'static str) -> Error {
    Error::InvalidSubject {
        subject: subject.to_owned(),
        reason,
    }
}

fn wire_error(subject: &str, e: SubjectError) -> Error {
    invalid(subject, e.reason())
}

/// A subject that can be published to (nats-server's `IsValidPublishSubject`): no empty
/// token, no whitespace, no `*` or `>` token. `a*b` is a literal token and may be used.
pub(crate) fn validate_publish(subject: &str) -> Result<()> {
    check_publish_subject(subject.as_bytes()).map_err(|e| wire_error(subject, e))
}

/// A subject that can be subscribed to (nats-server's `IsValidSubject`): `*` and `>` are
/// wildcards as whole tokens, `>` only last.
pub(crate) fn validate_subscribe(subject: &str) -> Result<()> {
    check_subject(subject.as_bytes())
        .map(drop)
        .map_err(|e| wire_error(subject, e))
}

/// A queue group name: non-empty, no whitespace.
pub(crate) fn validate_queue(queue: &str) -> Result<()> {
    if !is_valid_queue(queue.as_bytes()) {
        return Err(invalid(
            queue,
            "queue group names must be non-empty without whitespace",
        ));
    }
    Ok(())
}

/// Whether `subject` (literal) matches `pattern` (may hold wildcards).
pub(crate) fn matches(pattern: &str, subject: &str) -> bool {
    natrium_wire::subject_matches(pattern.as_bytes(), subject.as_bytes())
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
        assert!(matches("*", "a*b"));
        assert!(!matches("a*b", "axb"));
    }

    #[test]
    fn invalid_subjects_are_rejected() {
        assert!(validate_publish("a.*").is_err());
        assert!(validate_publish("a..b").is_err());
        assert!(validate_publish("a b").is_err());
        assert!(validate_publish("").is_err());
        assert!(validate_subscribe("a.>.b").is_err());
        assert!(validate_subscribe("a.*.>").is_ok());
        assert!(validate_queue("a b").is_err());
        assert!(validate_queue("").is_err());
    }

    #[test]
    fn wildcard_characters_inside_a_token_are_literal_as_in_nats_server() {
        assert!(validate_subscribe("a.b*").is_ok());
        assert!(validate_subscribe("a*b").is_ok());
        assert!(validate_publish("a*b").is_ok());
        assert!(validate_publish("a.b>").is_ok());
    }

    #[test]
    fn errors_name_the_rule() {
        let reason = |r: Result<()>| match r {
            Err(Error::InvalidSubject { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason(validate_publish("a.*")),
            "wildcards are not allowed when publishing"
        );
        assert_eq!(
            reason(validate_subscribe("a.>.b")),
            "'>' must be the last token"
        );
        assert_eq!(
            reason(validate_subscribe("a..b")),
            "subjects must not contain empty tokens"
        );
    }
}
