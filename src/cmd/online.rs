//! The jobs taken through a running server (`--server URL --token T`): the backup,
//! exports, imports, `verify` and `token`, over its HTTP routes and GraphQL.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use taizhang_io::import::{Amendment, Encoding};
use taizhang_io::Kind;
use taizhang_store::private;

use crate::cli::*;
use crate::cmd::*;
use crate::progress::Progress;

/// The backup of a running server: its log up to the head when asked, and with `keys`
/// the wrapped member keys, written as `export` writes them offline (mode 0600).
pub(crate) async fn online_backup(server: &str, token: &str, output: Option<&Path>, keys: Option<&Path>) -> Result<()> {
    let client = reqwest::Client::new();
    let base = server.trim_end_matches('/');
    let fetch = |route: &str| {
        let url = format!("{base}{route}");
        let request = client.get(&url).bearer_auth(token);
        async move {
            let response = request.send().await.with_context(|| format!("asking {url}"))?;
            let status = response.status();
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                bail!("{url} answered {status}: {}", body.trim());
            }
            Ok(response)
        }
    };
    let mut response = fetch("/backup").await?;
    let position: u64 = response
        .headers()
        .get("x-log-position")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .context("the server did not say which position the backup ends at")?;
    let mut out = BackupOut::open(output)?;
    let progress = Progress::new("backing up", position);
    let mut lines = 0u64;
    while let Some(chunk) = response.chunk().await.context("reading the backup")? {
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        out.write_all(&chunk)?;
        progress.set(lines);
    }
    out.finish()?;
    progress.finish();
    if lines != position {
        bail!("the backup ended after {lines} of {position} events (the server stopped it); it is incomplete");
    }
    eprintln!("backed up {lines} events from {base} (the log up to position {position})");
    if let Some(path) = keys {
        let body = fetch("/backup/keys").await?.bytes().await.context("reading the keys")?;
        let mut file = private::create_file(path).with_context(|| format!("creating {}", path.display()))?;
        file.write_all(&body)?;
        file.sync_all()?;
        eprintln!("wrote the member keys to {} (wrapped: they open only with the master key)", path.display());
    }
    Ok(())
}

/// `export reports` or `export ledger` from a running server (`GET /export/…`): the same
/// file, made by the server while it serves, written here (mode 0600) or to standard
/// output.
pub(crate) async fn online_sheet(
    server: &str,
    token: &str,
    route: &str,
    query: &[(&str, String)],
    output: Option<&Path>,
) -> Result<()> {
    let url = format!("{}{route}", server.trim_end_matches('/'));
    let request = reqwest::Client::new().get(&url).bearer_auth(token).query(query);
    let response = request.send().await.with_context(|| format!("asking {url}"))?;
    let status = response.status();
    let body = response.bytes().await.context("reading the report")?;
    if !status.is_success() {
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let message = answer["errors"][0]["message"]
            .as_str()
            .map_or_else(|| String::from_utf8_lossy(&body).into_owned(), str::to_owned);
        bail!("{url} answered {status}: {message}");
    }
    match output {
        Some(path) => {
            let mut file = private::create_file(path).with_context(|| format!("creating {}", path.display()))?;
            file.write_all(&body)?;
            file.sync_all()?;
        }
        None => std::io::stdout().lock().write_all(&body)?,
    }
    Ok(())
}

/// `verify` by a running server (GraphQL `verifyChain`, an admin's or a reviewer's
/// token): the same walk of the chain, answered as `verify` answers.
pub(crate) async fn online_verify(server: &str, token: &str) -> Result<()> {
    let query = "{ verifyChain { ok events headHash brokenAt reason } }";
    let data = graphql(server, token, query, serde_json::json!({})).await?;
    let report = &data["verifyChain"];
    if report["ok"] != true {
        bail!("chain broken at position {}: {}", report["brokenAt"], report["reason"].as_str().unwrap_or(""));
    }
    println!("ok: {} events, head hash {}", report["events"], report["headHash"].as_str().unwrap_or(""));
    Ok(())
}

/// The `data` of a GraphQL request to a running server, or its first error's message.
pub(crate) async fn graphql(
    server: &str,
    token: &str,
    query: &str,
    variables: serde_json::Value,
) -> Result<serde_json::Value> {
    let url = format!("{}/graphql", server.trim_end_matches('/'));
    let body = serde_json::json!({ "query": query, "variables": variables });
    let request = reqwest::Client::new().post(&url).bearer_auth(token).json(&body);
    let response = request.send().await.with_context(|| format!("asking {url}"))?;
    let status = response.status();
    let mut answer: serde_json::Value = response.json().await.with_context(|| format!("{url} answered {status}"))?;
    if let Some(error) = answer["errors"].get(0) {
        bail!("{url} refused: {}", error["message"].as_str().unwrap_or("no message"));
    }
    Ok(answer["data"].take())
}

/// `token` through a running server, over GraphQL (an admin's token): the same
/// create, list and revoke as on the data directory.
pub(crate) async fn online_token(server: &str, token: &str, action: &TokenAction) -> Result<()> {
    match action {
        TokenAction::Create { role, units, expires, name } => {
            let days = match expires {
                None => None,
                Some(d) if d.whole_seconds() % 86_400 == 0 => Some(d.whole_days()),
                Some(_) => bail!("through --server a token's lifetime is given in days (--expires 90d)"),
            };
            let query = "mutation($input: CreateTokenInput!) { createToken(input: $input) { secret token { id role expiresAt } } }";
            let units: Vec<String> = units.iter().map(ToString::to_string).collect();
            let input = serde_json::json!({ "name": name, "role": role.as_str().to_uppercase(), "units": units, "expiresInDays": days });
            let issued = graphql(server, token, query, serde_json::json!({ "input": input })).await?;
            let issued = &issued["createToken"];
            println!("{}", issued["secret"].as_str().unwrap_or_default());
            let expiring =
                issued["token"]["expiresAt"].as_str().map(|at| format!(", expiring {at}")).unwrap_or_default();
            eprintln!(
                "created {role} token {}{expiring}; it is shown once: keep it where you keep passwords",
                issued["token"]["id"].as_str().unwrap_or_default()
            );
        }
        TokenAction::List => {
            let query = "{ tokens { id name role units createdAt expiresAt revokedAt active } }";
            let listed = graphql(server, token, query, serde_json::json!({})).await?;
            print_token_header();
            for t in listed["tokens"].as_array().into_iter().flatten() {
                let text = |key: &str| t[key].as_str().unwrap_or_default().to_owned();
                let status = match (t["revokedAt"].is_null(), t["active"] == true) {
                    (false, _) => "revoked",
                    (true, false) => "expired",
                    (true, true) => "active",
                };
                let units: Vec<&str> = t["units"].as_array().into_iter().flatten().filter_map(|u| u.as_str()).collect();
                let expires = t["expiresAt"].as_str().unwrap_or("never").to_owned();
                let role = text("role").to_lowercase();
                print_token_row(
                    &text("id"),
                    &role,
                    status,
                    &text("name"),
                    &text("createdAt"),
                    &expires,
                    &units.join(","),
                );
            }
        }
        TokenAction::Revoke { id } => {
            let query = "mutation($id: UUID!) { revokeToken(id: $id) { id } }";
            graphql(server, token, query, serde_json::json!({ "id": id })).await?;
            eprintln!("revoked token {id}");
        }
    }
    Ok(())
}

/// `import` through a running server (`POST /import/{kind}`): the same checks, the
/// problems printed at their line and column, sent as the token's holder.
pub(crate) async fn online_import(
    server: &str,
    token: &str,
    kind: Kind,
    file: &Path,
    encoding: Encoding,
    skip_invalid: bool,
    amending: Amending,
) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Answer {
        rows: usize,
        written: usize,
        corrections_written: usize,
        already_in_the_log: usize,
        rows_left_out: usize,
        problems: Vec<Problem>,
        amendments: Vec<Amendment>,
    }
    #[derive(serde::Deserialize)]
    struct Problem {
        line: u64,
        column: usize,
        header: Option<String>,
        message: String,
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let encoding = if encoding == Encoding::Gbk { "gbk" } else { "utf-8" };
    let base = server.trim_end_matches('/');
    let url = format!("{base}/import/{}", kind.name());
    let mut query = vec![("encoding", encoding.to_owned()), ("skip_invalid", skip_invalid.to_string())];
    if let Some(reason) = &amending.reason {
        query.extend([("amend", reason.to_string()), ("confirm", amending.confirmed.to_string())]);
    }
    let request = reqwest::Client::new().post(&url).query(&query).bearer_auth(token).body(bytes);
    let response = request.send().await.with_context(|| format!("sending {} to {url}", file.display()))?;
    let status = response.status();
    let body = response.text().await.context("reading the answer")?;
    let answer: Answer = match serde_json::from_str(&body) {
        Ok(answer) if status.is_success() || status.as_u16() == 422 => answer,
        _ => bail!("{url} answered {status}: {}", body.trim()),
    };
    let name = file.display().to_string();
    for p in &answer.problems {
        let header = p.header.as_deref().map(|h| format!("{h}: ")).unwrap_or_default();
        eprintln!("{name}:{}:{}: {header}{}", p.line, p.column, p.message);
    }
    if amending.stops(&name, answer.problems.len(), skip_invalid, &answer.amendments)? {
        return Ok(());
    }
    let summary = ImportSummary {
        rows: answer.rows,
        written: answer.written,
        corrections: answer.corrections_written,
        already: answer.already_in_the_log,
        left_out: answer.rows_left_out,
    };
    eprintln!("{name}: {} (through {base})", summary.describe(kind));
    Ok(())
}
