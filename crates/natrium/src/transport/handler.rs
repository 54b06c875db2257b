//! Handlers: async functions of 0 to 6 extractors, returning `()` or `Result<R, E>`.

use std::future::Future;

use bytes::Bytes;

use crate::codec::{Codec, Encode, Proto, Wire};
use crate::headers::Headers;

use super::extract::{FromMessage, Json, Msg, StateRequirement};
use super::request::{HandlerError, HandlerRequest, HandlerResult, Reply};

/// A value a handler can return as a reply.
pub trait IntoReply {
    /// Encodes the reply (`None`: nothing to send beyond an empty reply).
    fn into_reply(self, codec: Codec) -> Result<Option<Reply>, HandlerError>;
}

impl IntoReply for () {
    fn into_reply(self, _: Codec) -> Result<Option<Reply>, HandlerError> {
        Ok(None)
    }
}

impl IntoReply for Reply {
    fn into_reply(self, _: Codec) -> Result<Option<Reply>, HandlerError> {
        Ok(Some(self))
    }
}

impl IntoReply for Bytes {
    fn into_reply(self, _: Codec) -> Result<Option<Reply>, HandlerError> {
        Ok(Some(Reply {
            headers: Headers::new(),
            payload: self,
        }))
    }
}

fn encoded<T: Encode + ?Sized>(codec: Codec, value: &T) -> Result<Option<Reply>, HandlerError> {
    let payload = codec
        .encode(value, "(reply)")
        .map_err(|e| HandlerError::new(e.to_string()))?;
    Ok(Some(Reply {
        headers: Headers::new(),
        payload,
    }))
}

impl<T: Encode> IntoReply for Msg<T> {
    fn into_reply(self, codec: Codec) -> Result<Option<Reply>, HandlerError> {
        encoded(codec, &self.0)
    }
}

impl<T: serde::Serialize> IntoReply for Json<T> {
    fn into_reply(self, _: Codec) -> Result<Option<Reply>, HandlerError> {
        encoded(Codec::Json, &self.0)
    }
}

impl<T: prost::Message> IntoReply for Proto<T> {
    fn into_reply(self, _: Codec) -> Result<Option<Reply>, HandlerError> {
        encoded(Codec::Protobuf, &self)
    }
}

impl<T: prost::Message + serde::Serialize> IntoReply for Wire<T> {
    fn into_reply(self, codec: Codec) -> Result<Option<Reply>, HandlerError> {
        encoded(codec, &self)
    }
}

impl<R: IntoReply> IntoReply for (Headers, R) {
    fn into_reply(self, codec: Codec) -> Result<Option<Reply>, HandlerError> {
        let (headers, inner) = self;
        let mut reply = inner.into_reply(codec)?.unwrap_or_default();
        reply.headers.extend(&headers);
        Ok(Some(reply))
    }
}

/// What a handler's return value becomes.
pub trait IntoOutcome: Send {
    /// Converts the return value into the chain's result.
    fn into_outcome(self, codec: Codec) -> HandlerResult;
}

impl IntoOutcome for () {
    fn into_outcome(self, _: Codec) -> HandlerResult {
        Ok(None)
    }
}

impl<T, E> IntoOutcome for Result<T, E>
where
    T: IntoReply + Send,
    E: Into<HandlerError> + Send,
{
    fn into_outcome(self, codec: Codec) -> HandlerResult {
        match self {
            Ok(value) => value.into_reply(codec),
            Err(err) => Err(err.into()),
        }
    }
}

/// An async function usable as a message handler; implemented for `async fn`s and
/// closures of 0 to 6 [`FromMessage`] arguments returning an [`IntoOutcome`].
pub trait Handler<Args>: Clone + Send + Sync + 'static {
    /// Extracts the arguments from `request` and starts the handler. Extraction happens
    /// here, before the first poll, so the returned future does not borrow `request`.
    fn call(
        &self,
        request: &HandlerRequest,
    ) -> impl Future<Output = HandlerResult> + Send + 'static + use<Self, Args>;

    /// The states the arguments need (the framework's business, so hidden).
    #[doc(hidden)]
    fn required_states() -> Vec<StateRequirement>;
}

macro_rules! impl_handler {
    ($($arg:ident),*) => {
        #[allow(non_snake_case, unused_variables, unused_mut, unused_labels)]
        impl<F, Fut, R, $($arg,)*> Handler<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoOutcome,
            $($arg: FromMessage,)*
        {
            fn call(
                &self,
                request: &HandlerRequest,
            ) -> impl Future<Output = HandlerResult> + Send + 'static + use<F, Fut, R, $($arg,)*> {
                let codec = request.codec;
                let started: Result<Fut, HandlerError> = 'extract: {
                    $(
                        let $arg = match $arg::from_message(request) {
                            Ok(value) => value,
                            Err(err) => break 'extract Err(err),
                        };
                    )*
                    Ok((self)($($arg),*))
                };
                async move {
                    match started {
                        Ok(handling) => handling.await.into_outcome(codec),
                        Err(err) => Err(err),
                    }
                }
            }

            fn required_states() -> Vec<StateRequirement> {
                let mut states = Vec::new();
                $( states.extend($arg::required_state()); )*
                states
            }
        }
    };
}

impl_handler!();
impl_handler!(A1);
impl_handler!(A1, A2);
impl_handler!(A1, A2, A3);
impl_handler!(A1, A2, A3, A4);
impl_handler!(A1, A2, A3, A4, A5);
impl_handler!(A1, A2, A3, A4, A5, A6);
