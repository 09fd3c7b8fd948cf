//! A write deadline on every HTTP connection: a connection whose socket
//! accepts nothing for the deadline fails with `TimedOut`, and the server
//! drops it. What a stalled Server-Sent Events client needs (the response
//! body is only pulled while its socket takes data, so the stream itself
//! never sees the stall); any other response to a peer that stopped reading
//! ends the same way. The clock restarts on every write that goes through,
//! so slow readers stay; only a peer that takes nothing at all is cut.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// A TCP listener whose connections carry a write deadline; give it to
/// `axum::serve` in place of the listener.
pub struct DeadlineListener {
    inner: TcpListener,
    deadline: Duration,
}

impl DeadlineListener {
    pub fn new(inner: TcpListener, deadline: Duration) -> DeadlineListener {
        DeadlineListener { inner, deadline }
    }
}

impl axum::serve::Listener for DeadlineListener {
    type Io = DeadlineIo<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (
            DeadlineIo {
                inner: stream,
                deadline: self.deadline,
                stalled: None,
                peer: addr,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection whose writes fail once one has waited `deadline`.
pub struct DeadlineIo<T> {
    inner: T,
    deadline: Duration,
    /// Running while a write waits for the socket.
    stalled: Option<Pin<Box<Sleep>>>,
    peer: SocketAddr,
}

impl<T> DeadlineIo<T> {
    /// A write went through (or failed on its own): the clock stops.
    fn progressed<R>(&mut self, result: R) -> Poll<R> {
        self.stalled = None;
        Poll::Ready(result)
    }

    /// A write waits: fails once it has waited the whole deadline.
    fn waiting<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let deadline = self.deadline;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                tracing::warn!(
                    peer = %self.peer,
                    deadline_ms = deadline.as_millis() as u64,
                    "HTTP client disconnected: its socket took nothing within the write deadline"
                );
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "write deadline passed: the client reads nothing",
                )))
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for DeadlineIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for DeadlineIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => this.progressed(result),
            Poll::Pending => this.waiting(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => this.progressed(result),
            Poll::Pending => this.waiting(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(result) => this.progressed(result),
            Poll::Pending => this.waiting(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_shutdown(cx) {
            Poll::Ready(result) => this.progressed(result),
            Poll::Pending => this.waiting(cx),
        }
    }
}
