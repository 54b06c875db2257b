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

impl Message {
    /// Overwrites `self` with `m` (whose payload it takes), reusing the subject's and
    /// reply's allocations: a subscription's messages mostly share their subject, so a
    /// runner that keeps one `Message` allocates nothing for it per message.
    pub(crate) fn fill_from(&mut self, m: &mut async_nats::Message) {
        self.subject.clear();
        self.subject.push_str(m.subject.as_str());
        match &m.reply {
            Some(reply) => {
                let slot = self.reply.get_or_insert_with(String::new);
                slot.clear();
                slot.push_str(reply.as_str());
            }
            None => self.reply = None,
        }
        match &m.headers {
            Some(map) => self.headers = Headers::from(map),
            None => self.headers.clear(),
        }
        self.payload = std::mem::take(&mut m.payload);
    }
}

impl From<async_nats::Message> for Message {
    fn from(m: async_nats::Message) -> Self {
        // A plain copy: `to_string` would go through the formatting machinery, which
        // costs more than the rest of the conversion.
        Message {
            subject: String::from(m.subject.as_str()),
            reply: m.reply.as_deref().map(String::from),
            headers: m.headers.as_ref().map(Headers::from).unwrap_or_default(),
            payload: m.payload,
        }
    }
}
