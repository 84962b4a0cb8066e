//! Serves the router over plain TCP or TLS. Handshakes run in their own tasks, so a client
//! that stalls its handshake holds up no one; a connection whose peer takes no data for
//! [`STALL`] is closed. Every connection reads the same shared bytes, so a slow client
//! costs only its own socket and task.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Sleep;
use tokio_rustls::server::TlsStream;

use super::reload::WebConfig;

/// A peer that accepts no data for this long is given up on.
pub const STALL: Duration = Duration::from_secs(30);
/// A TLS handshake must finish within this.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` (over TLS when the web config has TLS) until `shutdown`,
/// then lets open requests finish for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    web: Option<Arc<WebConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> io::Result<()> {
    let stop = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&stop);
    let server = serve_until(listener, app, web, async move {
        shutdown.await;
        notify.notify_one();
    });
    tokio::select! {
        r = server => r,
        _ = async { stop.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("scrapes still open after the grace period; closing them");
            Ok(())
        }
    }
}

async fn serve_until(
    listener: TcpListener,
    app: Router,
    web: Option<Arc<WebConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    match web.filter(|w| w.current().tls.is_some()) {
        Some(web) => {
            let tls = TlsListener::new(listener, web)?;
            axum::serve(tls, app).with_graceful_shutdown(shutdown).await
        }
        None => {
            axum::serve(PlainListener(listener), app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

/// Waits after an accept error that is not the peer's doing (e.g. out of file descriptors).
async fn accept_error(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::error!(error = %e, "accepting a connection failed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct PlainListener(TcpListener);

impl Listener for PlainListener {
    type Io = Stalling<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        loop {
            match self.0.accept().await {
                Ok((s, addr)) => return (Stalling::new(s), addr),
                Err(e) => accept_error(e).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// Accepts TCP connections and hands over those whose handshake succeeded. The
/// certificate and settings are those in force when the connection arrives.
struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    fn new(listener: TcpListener, web: Arc<WebConfig>) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        accept_error(e).await;
                        continue;
                    }
                };
                let Some(config) = web.current().tls.clone() else {
                    continue;
                };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let acceptor = tokio_rustls::TlsAcceptor::from(config);
                    match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            ready,
            addr,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // Stops accepting, so the port is released.
        self.accepting.abort();
    }
}

impl Listener for TlsListener {
    type Io = Stalling<TlsStream<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        match self.ready.recv().await {
            Some((tls, addr)) => (Stalling::new(tls), addr),
            // The accepting task only ends when aborted, and that happens on drop.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// A stream whose writes fail once the peer has taken no data for [`STALL`].
pub struct Stalling<S> {
    inner: S,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> Stalling<S> {
    fn new(inner: S) -> Self {
        Self { inner, timer: None }
    }

    /// Passes a write's outcome through, failing a write that has waited too long.
    fn watch<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.timer = None;
            return r;
        }
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(STALL)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the peer took no data for too long",
        )))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Stalling<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Stalling<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
