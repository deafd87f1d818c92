//! One HTTP/1.1 keep-alive connection per load-generator worker.
//!
//! Why hyper's connection-level client (`hyper::client::conn::http1`) and not a pooled client
//! (`hyper_util::client::legacy::Client`, reqwest): a benchmark must control exactly how many
//! connections are open and that each stays open. With one `SendRequest` per worker, `--connections
//! 64` means 64 TCP connections, each carrying one request at a time (no pipelining, as the SDKs
//! do), reconnected only after an error; a pool would open, park and close connections on its own
//! schedule and hide that in the figures. hyper still does the HTTP parsing, so the bench does not
//! carry a hand-written HTTP/1.1 parser of its own.

use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub type Body = Full<Bytes>;

/// An open keep-alive connection.
pub struct Conn {
    sender: SendRequest<Body>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // ends when the sender is dropped or the peer closes; the worker sees the error
            let _ = conn.await;
        });
        Ok(Conn { sender })
    }

    /// Sends one request and reads the whole answer: (status, body).
    pub async fn send(&mut self, req: Request<Body>) -> anyhow::Result<(u16, Bytes)> {
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// One request on a fresh connection (setup calls, not measured).
pub async fn once(addr: SocketAddr, req: Request<Body>) -> anyhow::Result<(u16, Bytes)> {
    Conn::open(addr).await?.send(req).await
}
