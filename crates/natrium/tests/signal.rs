//! SIGTERM stops an app gracefully. Its own test binary: the signal goes to the process.

use std::sync::Arc;

use natrium::app::FnServer;
use natrium::{App, AppContext};
use parking_lot::Mutex;

#[tokio::test]
async fn sigterm_stops_the_app_gracefully() {
    let stopped = Arc::new(Mutex::new(false));
    let flag = stopped.clone();
    let server = FnServer::new(
        "worker",
        |_ctx: AppContext| async { Ok(()) },
        move |_ctx: AppContext| async move {
            *flag.lock() = true;
            Ok(())
        },
    );
    let app = App::new("svc").server(server);
    let handle = app.handle();
    let run = tokio::spawn(app.run());
    assert!(handle.ready().await);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .expect("app stopped within 10 s")
        .unwrap()
        .unwrap();
    assert!(*stopped.lock(), "servers were stopped");
}
