//! The real server, started on port 0 over a fresh data directory, for end-to-end tests.
#![allow(dead_code)] // each test binary uses a part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

/// A running server over its own data directory; killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl Server {
    pub fn start() -> Self {
        Self::start_in(tempfile::tempdir().unwrap())
    }

    pub fn start_in(dir: tempfile::TempDir) -> Self {
        Self::start_with(dir, &[])
    }

    /// A server over `dir` with more global options (`--store`, `--master-key-file`…).
    pub fn start_with(dir: tempfile::TempDir, options: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_taizhang"))
            .args(["--data", dir.path().to_str().unwrap()])
            .args(options)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("taizhang starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected: {line:?}")).to_owned();
        Self { child, url, dir, http: reqwest::Client::new() }
    }

    /// POSTs a GraphQL request (Accept: application/graphql-response+json) and returns
    /// the status and the body.
    pub async fn post(&self, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/graphql", self.url))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Runs a request that must succeed and returns its `data`.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Runs a request that must fail with one error and returns that error.
    pub async fn error(&self, query: &str, variables: Value) -> Value {
        let (_, body) = self.post(query, variables).await;
        let errors = body["errors"].as_array().unwrap_or_else(|| panic!("expected errors: {body}"));
        assert_eq!(errors.len(), 1, "{body}");
        errors[0].clone()
    }

    pub async fn head(&self) -> u64 {
        self.ok("{ head { position } }", json!({})).await["head"]["position"].as_u64().unwrap()
    }

    /// Stops the server with SIGTERM and returns its exit status.
    pub fn terminate(mut self) -> (std::process::ExitStatus, tempfile::TempDir) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (exit, dir)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
