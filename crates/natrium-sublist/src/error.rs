//! The error returned for a subject the index cannot hold.

use std::fmt;

/// A subscription subject (or queue name) that breaks the subject rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid subject \"{}\": {reason}", self.subject_lossy())]
pub struct InvalidSubject {
    subject: Box<[u8]>,
    reason: InvalidSubjectReason,
}

impl InvalidSubject {
    pub(crate) fn new(subject: &[u8], reason: InvalidSubjectReason) -> Self {
        Self {
            subject: subject.into(),
            reason,
        }
    }

    /// The rejected subject, as given.
    pub fn subject(&self) -> &[u8] {
        &self.subject
    }

    /// Which rule it breaks.
    pub fn reason(&self) -> InvalidSubjectReason {
        self.reason
    }

    fn subject_lossy(&self) -> String {
        String::from_utf8_lossy(&self.subject).into_owned()
    }
}

/// The rule an [`InvalidSubject`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidSubjectReason {
    /// The subject has no bytes at all.
    Empty,
    /// Two separators in a row, or a separator at either end.
    EmptyToken,
    /// `>` followed by more tokens.
    FullWildcardNotLast,
    /// A queue group name with no bytes.
    EmptyQueueName,
    /// Another of natrium-wire's subject rules (the index's own check never gives one).
    Other(natrium_wire::SubjectError),
}

impl From<natrium_wire::SubjectError> for InvalidSubjectReason {
    fn from(e: natrium_wire::SubjectError) -> Self {
        use natrium_wire::SubjectError;
        match e {
            SubjectError::Empty => Self::Empty,
            SubjectError::EmptyToken => Self::EmptyToken,
            SubjectError::FullWildcardNotLast => Self::FullWildcardNotLast,
            other => Self::Other(other),
        }
    }
}

impl fmt::Display for InvalidSubjectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty subject",
            Self::EmptyToken => "empty token",
            Self::FullWildcardNotLast => "'>' is allowed only as the last token",
            Self::EmptyQueueName => "empty queue group name",
            Self::Other(e) => e.reason(),
        })
    }
}
