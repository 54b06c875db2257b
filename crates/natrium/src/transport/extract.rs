//! Extractors: what a handler asks for by naming it as an argument.
//!
//! Any type implementing [`Decode`](crate::Decode) (every serde type, and
//! [`Proto<T>`](crate::Proto)) is decoded from the payload with the configured codec, so
//! the kratos-transport shape `async fn(Ctx, Subject, Headers, T) -> Result<()>` works as is.

use std::any::TypeId;

use crate::codec::{Codec, Decode};
use crate::headers::Headers;
use crate::message::Message;

use super::request::{Ctx, HandlerError, HandlerRequest, RouteInfo};

/// A state type a handler needs, checked when the server is built. Public only because
/// [`FromMessage::required_state`] returns it; not exported (the framework's business).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateRequirement {
    /// The state's type id.
    pub type_id: TypeId,
    /// The state's type name, for errors.
    pub type_name: &'static str,
}

/// Something a handler can take as an argument.
pub trait FromMessage: Sized + Send + 'static {
    /// Extracts the value from the request.
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError>;

    /// The shared state this extractor needs, checked at build time (only [`State`]
    /// needs one; the framework's business, so hidden).
    #[doc(hidden)]
    fn required_state() -> Option<StateRequirement> {
        None
    }
}

fn decode_with<T: Decode>(codec: Codec, request: &HandlerRequest) -> Result<T, HandlerError> {
    // `T::decode` rather than `Codec::decode`: the value is not moved through the larger
    // `Result<T, Error>` on every message; the error gets the same context when it happens.
    T::decode(codec, &request.message.payload).map_err(|source| {
        let err = crate::codec::decode_error::<T>(codec, &request.message.subject, source);
        HandlerError::decode(err.to_string())
    })
}

impl<T: Decode + Send + 'static> FromMessage for T {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        decode_with(request.codec, request)
    }
}

/// The payload decoded with the configured codec (same as naming `T` directly).
/// As a reply, encodes with the configured codec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Msg<T>(pub T);

impl<T: Decode + Send + 'static> FromMessage for Msg<T> {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        decode_with(request.codec, request).map(Msg)
    }
}

/// The payload decoded as JSON, whatever the configured codec. As a reply, JSON-encoded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send + 'static> FromMessage for Json<T> {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        decode_with(Codec::Json, request).map(Json)
    }
}

/// The subject the message was published on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject(pub String);

impl FromMessage for Subject {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        Ok(Subject(request.message.subject.clone()))
    }
}

impl std::ops::Deref for Subject {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl FromMessage for Headers {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        Ok(request.message.headers.clone())
    }
}

/// The reply subject, if the message is a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyTo(pub Option<String>);

impl FromMessage for ReplyTo {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        Ok(ReplyTo(request.message.reply.clone()))
    }
}

impl FromMessage for Ctx {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        Ok(request.ctx.clone())
    }
}

impl FromMessage for Message {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        Ok(request.message.clone())
    }
}

impl FromMessage for RouteInfo {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        Ok((*request.route).clone())
    }
}

/// Which attempt this is (1 for the first delivery, 2.. for retries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt(pub u32);

impl FromMessage for Attempt {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        Ok(Attempt(request.attempt))
    }
}

/// Shared state given with [`NatsServerBuilder::state`](crate::transport::NatsServerBuilder::state).
/// A missing state is a build error, not a runtime one.
#[derive(Clone, Debug, Default)]
pub struct State<S>(pub S);

impl<S: Clone + Send + Sync + 'static> FromMessage for State<S> {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        request
            .states
            .get(&TypeId::of::<S>())
            .and_then(|s| s.downcast_ref::<S>())
            .map(|s| State(s.clone()))
            .ok_or_else(|| {
                HandlerError::new(format!("no state of type {}", std::any::type_name::<S>()))
            })
    }

    fn required_state() -> Option<StateRequirement> {
        Some(StateRequirement {
            type_id: TypeId::of::<S>(),
            type_name: std::any::type_name::<S>(),
        })
    }
}

/// A value middleware put into [`HandlerRequest::extensions`].
#[derive(Clone, Debug, Default)]
pub struct Extension<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromMessage for Extension<T> {
    fn from_message(request: &HandlerRequest) -> Result<Self, HandlerError> {
        request
            .extensions
            .get::<T>()
            .cloned()
            .map(Extension)
            .ok_or_else(|| {
                HandlerError::new(format!(
                    "no extension of type {} (is the middleware that adds it installed?)",
                    std::any::type_name::<T>()
                ))
            })
    }
}
