//! A bound on the connections a server holds open. Each holds a task, buffers and a
//! file descriptor; without a bound, a caller opening connections and sending nothing
//! (or a byte now and then) exhausts them and the server stops answering everyone,
//! `/healthz` included. Past the bound a new connection is closed at once, so the
//! connections already open go on being served; connections that stay silent are
//! closed by the server's idle timeout (see `taizhang serve`).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many connections a server holds open by default.
pub const MAX_CONNECTIONS: usize = 4_096;

/// An acceptor that holds at most `max` connections open.
pub struct Bounded<A> {
    inner: A,
    open: Arc<Semaphore>,
    /// Connections closed at once so far (one warning per thousand).
    refused: AtomicU64,
}

impl<A> Bounded<A> {
    pub fn new(inner: A, max: usize) -> Self {
        Self { inner, open: Arc::new(Semaphore::new(max)), refused: AtomicU64::new(0) }
    }
}

impl<A: Acceptor> Acceptor for Bounded<A> {
    type Io = Counted<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        loop {
            let (io, local, remote, scheme) = self.inner.accept().await?;
            match self.open.clone().try_acquire_owned() {
                Ok(permit) => return Ok((Counted { io, _permit: permit }, local, remote, scheme)),
                Err(_) => {
                    if self.refused.fetch_add(1, Ordering::Relaxed) % 1_000 == 0 {
                        tracing::warn!(%remote, "too many open connections; closing new ones");
                    }
                    drop(io);
                }
            }
        }
    }
}

/// A connection that counts against the bound until it is dropped.
pub struct Counted<Io> {
    io: Io,
    _permit: OwnedSemaphorePermit,
}

impl<Io: AsyncRead + Unpin> AsyncRead for Counted<Io> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Counted<Io> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
