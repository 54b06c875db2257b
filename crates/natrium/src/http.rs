//! [`HttpServer`]: an axum router as a [`Server`] of an [`App`](crate::App).

use std::net::SocketAddr;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::app::{AppContext, Server};
use crate::error::{Error, Result};

/// Serves an axum [`Router`](axum::Router) on a TCP address; graceful stop lets open
/// requests finish.
pub struct HttpServer {
    addr: SocketAddr,
    router: Mutex<Option<axum::Router>>,
    local_addr: Mutex<Option<SocketAddr>>,
    running: Mutex<Option<(CancellationToken, tokio::task::JoinHandle<()>)>>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("addr", &self.addr)
            .field("local_addr", &*self.local_addr.lock())
            .finish_non_exhaustive()
    }
}

impl HttpServer {
    /// A server for `router` on `addr` (port 0 picks a free port; see
    /// [`HttpServer::local_addr`]).
    pub fn new(addr: impl Into<SocketAddr>, router: axum::Router) -> Self {
        HttpServer {
            addr: addr.into(),
            router: Mutex::new(Some(router)),
            local_addr: Mutex::new(None),
            running: Mutex::new(None),
        }
    }

    /// The bound address, once started.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        *self.local_addr.lock()
    }
}

#[async_trait]
impl Server for HttpServer {
    fn name(&self) -> String {
        format!("http({})", self.addr)
    }

    async fn start(&self, ctx: &AppContext) -> Result<()> {
        let router =
            self.router.lock().take().ok_or_else(|| {
                Error::Config(format!("HTTP server on {} started twice", self.addr))
            })?;
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .map_err(|e| {
                Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("cannot bind HTTP server to {}: {e}", self.addr),
                ))
            })?;
        let local = listener.local_addr()?;
        *self.local_addr.lock() = Some(local);
        let token = CancellationToken::new();
        let shutdown = token.clone().cancelled_owned();
        let ctx = ctx.clone();
        let name = self.name();
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                ctx.fail(name, err);
            }
        });
        *self.running.lock() = Some((token, task));
        tracing::info!(addr = %local, "HTTP server started");
        Ok(())
    }

    /// `http://<addr>` of the bound address; a bind on `0.0.0.0` or `[::]` advertises this
    /// host's address instead ([`host::advertise`](crate::host::advertise)).
    fn endpoints(&self) -> Vec<String> {
        self.local_addr()
            .map(|addr| vec![format!("http://{}", crate::host::advertise(addr))])
            .unwrap_or_default()
    }

    async fn stop(&self, ctx: &AppContext) -> Result<()> {
        let running = self.running.lock().take();
        if let Some((token, mut task)) = running {
            token.cancel();
            tokio::select! {
                result = &mut task => {
                    result.map_err(|e| Error::other(format!("HTTP server task failed: {e}")))?;
                }
                _ = ctx.cancel_token().cancelled() => {
                    task.abort();
                    tracing::warn!("stop timeout passed; open HTTP connections aborted");
                }
            }
            tracing::info!("HTTP server stopped");
        }
        Ok(())
    }
}
