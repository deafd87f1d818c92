//! The baseline: a bare hyper HTTP/1.1 server that reads each request whole and answers a fixed
//! small JSON body shaped like a CAMS success. It is what the machine, the client and the network
//! stack can do with no signature check, no validation and no database, so opencams's figures are
//! reported as a fraction of it. It runs as a child process of the bench (hidden subcommand
//! `serve-baseline`), exactly like `opencams serve`, on a multi-threaded tokio runtime with one
//! worker per core, so both servers get the same process model and their RSS is read the same way.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// Printed once bound, like opencams's own line.
pub const READY: &str = "baseline listening on http://";

const ANSWER: &str = r#"{"RequestId":"9F6B1C2D-0000-4000-8000-000000000000","Code":"OK","Message":"OK","MessageId":"bench-baseline"}"#;

pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("{READY}{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // read the body like a real endpoint would, even though it is empty
    let _ = req.into_body().collect().await;
    let mut resp = Response::new(Full::new(Bytes::from_static(ANSWER.as_bytes())));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json;charset=utf-8"),
    );
    Ok(resp)
}
