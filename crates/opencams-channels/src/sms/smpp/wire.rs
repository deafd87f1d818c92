//! PDUs over a byte stream. Reading is cancel-safe — octets already read stay buffered in the
//! reader — so the session loop can `select!` between the socket, keep-alive ticks and shutdown
//! without losing half a PDU.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::pdu::{Pdu, PduError};

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed PDU: {0}")]
    Pdu(#[from] PduError),
    #[error("the peer closed the connection")]
    Closed,
}

pub struct PduReader<R> {
    inner: R,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> PduReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: BytesMut::with_capacity(4096),
        }
    }

    /// The next PDU; `WireError::Closed` when the peer hung up.
    pub async fn next(&mut self) -> Result<Pdu, WireError> {
        loop {
            if let Some(pdu) = Pdu::take(&mut self.buf)? {
                return Ok(pdu);
            }
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                return Err(WireError::Closed);
            }
        }
    }
}

pub async fn write_pdu<W: AsyncWrite + Unpin>(w: &mut W, pdu: &Pdu) -> Result<(), WireError> {
    w.write_all(&pdu.to_bytes()).await?;
    Ok(())
}
