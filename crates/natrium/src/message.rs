//! A NATS message as natrium sees it, inbound or outbound.

use bytes::Bytes;

use crate::headers::Headers;

/// One message: subject, optional reply subject, headers and payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// The subject the message is (or was) published on.
    pub subject: String,
    /// Where replies go, for requests.
    pub reply: Option<String>,
    /// Headers; all of them reach the wire.
    pub headers: Headers,
    /// The encoded payload.
    pub payload: Bytes,
}

impl Message {
    /// A message with no headers and no reply subject.
    pub fn new(subject: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Message {
            subject: subject.into(),
            reply: None,
            headers: Headers::new(),
            payload: payload.into(),
        }
    }

    /// Sets the headers.
    pub fn with_headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the reply subject.
    pub fn with_reply(mut self, reply: impl Into<String>) -> Self {
        self.reply = Some(reply.into());
        self
    }
}

impl From<async_nats::Message> for Message {
    fn from(m: async_nats::Message) -> Self {
        Message {
            subject: m.subject.to_string(),
            reply: m.reply.map(|r| r.to_string()),
            headers: m.headers.as_ref().map(Headers::from).unwrap_or_default(),
            payload: m.payload,
        }
    }
}
