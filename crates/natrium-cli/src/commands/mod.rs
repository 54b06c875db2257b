//! The client subcommands (`pub`, `sub`, `req`, `reply`), the JetStream management
//! subcommands (`stream`, `consumer`, `kv`, `object`), `registry`, and the `server`
//! subcommand.

pub mod consumer;
pub mod jetstream;
pub mod kv;
pub mod object;
pub mod publish;
pub mod registry;
pub mod reply;
pub mod request;
pub mod server;
pub mod stream;
pub mod subscribe;
pub mod table;

use std::io::Write as _;

use anyhow::Context as _;

/// Connects as `name`, subscribes to `subject` (in `queue` if given) and announces
/// `Listening on ...` on stderr once the server confirmed the subscription: anything published
/// after the announcement is delivered (tests and scripts wait for that line).
pub async fn listen(
    url: &str,
    name: &str,
    subject: &str,
    queue: Option<&str>,
) -> anyhow::Result<(async_nats::Client, async_nats::Subscriber)> {
    let client = crate::connect::connect(url, name).await?;
    let subscriber = match queue {
        Some(queue) => {
            client
                .queue_subscribe(subject.to_owned(), queue.to_owned())
                .await
        }
        None => client.subscribe(subject.to_owned()).await,
    }
    .with_context(|| format!("cannot subscribe to {subject:?}"))?;
    crate::connect::round_trip(&client)
        .await
        .context("the server did not confirm the subscription")?;
    match queue {
        Some(queue) => eprintln!("Listening on \"{subject}\" in queue group \"{queue}\""),
        None => eprintln!("Listening on \"{subject}\""),
    }
    Ok((client, subscriber))
}

/// Placeholder a body may contain; it is replaced with the 1-based message number.
const COUNT_PLACEHOLDER: &str = "{{Count}}";

/// Expands `{{Count}}` in `body` to `n`, so repeated messages can be told apart.
pub fn expand_body(body: &str, n: u64) -> bytes::Bytes {
    if body.contains(COUNT_PLACEHOLDER) {
        bytes::Bytes::from(body.replace(COUNT_PLACEHOLDER, &n.to_string()))
    } else {
        bytes::Bytes::copy_from_slice(body.as_bytes())
    }
}

/// Prints a received message the way people read it: a numbered header line, the headers,
/// a blank line, the body. With `raw`, only the body is printed.
pub fn print_message(n: u64, message: &async_nats::Message, raw: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if raw {
        out.write_all(&message.payload)?;
        out.write_all(b"\n")?;
        return out.flush();
    }
    write!(out, "[#{n}] Received on \"{}\"", message.subject)?;
    if let Some(reply) = &message.reply {
        write!(out, " with reply \"{reply}\"")?;
    }
    writeln!(out)?;
    if let Some(headers) = &message.headers {
        out.write_all(crate::headers::render(headers).as_bytes())?;
    }
    writeln!(out)?;
    out.write_all(&message.payload)?;
    out.write_all(b"\n\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_count_placeholder() {
        assert_eq!(expand_body("n={{Count}}", 7), "n=7");
        assert_eq!(expand_body("plain", 7), "plain");
    }
}
