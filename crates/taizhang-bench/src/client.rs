//! The `http` scenario's client: HTTP/1.1 on hyper's connection API, with a pool of
//! kept-alive connections and bodies prepared before a run starts. The client shares
//! the machine's two cores with the servers it measures, so whatever it spends per
//! request is taken from them; a general-purpose client (URL parsing, header maps
//! merged per request, redirect and decompression layers) spent a fifth of the CPU of
//! the busy phase. What the servers do is the same as with any other client.

use std::net::SocketAddr;
use std::sync::Mutex;

use anyhow::{ensure, Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;

/// Requests to one server's `/graphql`, each carrying the same bearer token.
pub struct Client {
    address: SocketAddr,
    host: HeaderValue,
    authorization: HeaderValue,
    /// Connections not in use; a request takes one or opens a new one, and gives it back
    /// when its answer has been read.
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl Client {
    pub fn new(address: SocketAddr, token: &str) -> Result<Self> {
        Ok(Client {
            address,
            host: HeaderValue::from_str(&address.to_string())?,
            authorization: HeaderValue::from_str(&format!("Bearer {token}"))?,
            idle: Mutex::default(),
        })
    }

    /// Posts one GraphQL request; returns the length of a successful answer (a 2xx
    /// status, no `errors` in the body).
    pub async fn post(&self, body: Bytes) -> Result<usize> {
        let idle = self.idle.lock().expect("no panics under the lock").pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => self.connect().await?,
        };
        let request = hyper::Request::post("/graphql")
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let response = connection.send_request(request).await?;
        let status = response.status();
        let answer = response.into_body().collect().await?.to_bytes();
        self.idle.lock().expect("no panics under the lock").push(connection);
        ensure!(status.is_success(), "status {status}");
        ensure!(!answer.windows(9).any(|w| w == b"\"errors\":"), "{}", String::from_utf8_lossy(&answer));
        Ok(answer.len())
    }

    /// Gets `path` on a kept-alive connection; returns the length of a 2xx answer.
    pub async fn get(&self, path: &str) -> Result<usize> {
        let idle = self.idle.lock().expect("no panics under the lock").pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => self.connect().await?,
        };
        let request = hyper::Request::get(path).header(HOST, self.host.clone()).body(Full::new(Bytes::new()))?;
        let response = connection.send_request(request).await?;
        let status = response.status();
        let answer = response.into_body().collect().await?.to_bytes();
        self.idle.lock().expect("no panics under the lock").push(connection);
        ensure!(status.is_success(), "status {status}");
        Ok(answer.len())
    }

    /// The validator (`ETag`) of `path`.
    pub async fn etag(&self, path: &str) -> Result<String> {
        let mut connection = self.connect().await?;
        let request = hyper::Request::get(path).header(HOST, self.host.clone()).body(Full::new(Bytes::new()))?;
        let response = connection.send_request(request).await?;
        let tag = response.headers().get(hyper::header::ETAG).context("no ETag")?.to_str()?.to_owned();
        response.into_body().collect().await?;
        Ok(tag)
    }

    /// Gets `path` holding its validator `tag`; true when answered `304 Not Modified`.
    pub async fn get_unchanged(&self, path: &str, tag: &str) -> Result<bool> {
        let idle = self.idle.lock().expect("no panics under the lock").pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => self.connect().await?,
        };
        let request = hyper::Request::get(path)
            .header(HOST, self.host.clone())
            .header(hyper::header::IF_NONE_MATCH, tag)
            .body(Full::new(Bytes::new()))?;
        let response = connection.send_request(request).await?;
        let status = response.status();
        response.into_body().collect().await?;
        self.idle.lock().expect("no panics under the lock").push(connection);
        Ok(status == hyper::StatusCode::NOT_MODIFIED)
    }

    /// Gets `path` (a download, such as `/backup`) on a connection of its own and reads
    /// the whole answer as it streams; returns its length.
    pub async fn download(&self, path: &str) -> Result<usize> {
        let mut connection = self.connect().await?;
        let request = hyper::Request::get(path)
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .body(Full::new(Bytes::new()))?;
        let response = connection.send_request(request).await?;
        let status = response.status();
        ensure!(status.is_success(), "status {status}");
        let mut body = response.into_body();
        let mut length = 0;
        while let Some(frame) = body.frame().await {
            length += frame?.data_ref().map_or(0, Bytes::len);
        }
        Ok(length)
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>> {
        let stream = tokio::net::TcpStream::connect(self.address).await.context("connecting")?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // The connection's own task reads and writes the socket until the sender is gone.
        tokio::spawn(connection);
        Ok(sender)
    }
}

/// What closed loops measured: requests per second, and the servers' CPU time per
/// request (the process's less the client's thread's), which the client's own work
/// does not blur.
pub(crate) struct Loops {
    pub per_second: f64,
    pub server_cpu_per_request: std::time::Duration,
}

/// 32 closed loops each sending `one` (a request and its check) again and again for
/// 2 s. Must run on the client's runtime of one thread ([`crate::http::on_client_runtime`]).
pub(crate) async fn closed_loops<F, Answered>(client: &std::sync::Arc<Client>, one: F) -> Result<Loops>
where
    F: Fn(std::sync::Arc<Client>) -> Answered + Clone + Send + 'static,
    Answered: std::future::Future<Output = Result<()>> + Send,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let start = std::time::Instant::now();
    let mark = crate::cpu::CpuMark::now()?;
    let loops: Vec<_> = (0..32)
        .map(|_| {
            let (client, one) = (client.clone(), one.clone());
            tokio::spawn(async move {
                let mut n = 0usize;
                while std::time::Instant::now() < deadline {
                    one(client.clone()).await?;
                    n += 1;
                }
                anyhow::Ok(n)
            })
        })
        .collect();
    let mut done = 0;
    for handle in loops {
        done += handle.await??;
    }
    let mut used = crate::cpu::CpuUse::default();
    used.add(&mark)?;
    Ok(Loops {
        per_second: crate::rate(done, start.elapsed()),
        server_cpu_per_request: used.server_time() / done.max(1) as u32,
    })
}
