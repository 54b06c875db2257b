//! The service shown in the README, kept here so that `cargo test` compiles it.
//!
//! Run it against any NATS server: `cargo run -p natrium --example readme_service`.

use natrium::{App, BrokerConfig, BrokerExt, NatsBroker, NatsServer, Subject};

#[derive(serde::Serialize, serde::Deserialize)]
struct Event {
    name: String,
}

async fn save(Subject(subject): Subject, event: Event) -> natrium::Result<()> {
    tracing::info!(%subject, name = %event.name, "saved");
    Ok(())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = BrokerConfig::new(["nats://127.0.0.1:4222"]);
    let broker = NatsBroker::connect(config.clone()).await?; // publishing side
    broker
        .publish(
            "report.event",
            &Event {
                name: "signup".into(),
            },
        )
        .await?;

    let nats = NatsServer::builder(config) // subscribing side
        .queue_subscribe("report.event", "savers", save)
        .build()?;
    App::new("saver")
        .version("1.0.0")
        .server(nats)
        .run()
        .await?; // stops on SIGINT/SIGTERM
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(err) = run().await {
        eprintln!("readme_service: {err}");
        std::process::exit(1);
    }
}
