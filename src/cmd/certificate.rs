//! `certificate`: issue, show, revoke and list service certificates, on the data
//! directory or through a running server; verify a certificate file offline; show or
//! rotate the signing key.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use taizhang_app::CommandContext;
use taizhang_core::*;
use taizhang_io::certificate::{self as issuing, IssueRequest};
use taizhang_read::Projector;
use taizhang_store::{private, signing_key, AnyStore, EventStore};

use crate::cli::*;
use crate::cmd::*;

/// Where this installation's signing key is: the one named, or `signing.key` beside
/// the master key.
pub(crate) fn signing_key_path(cli: &Cli) -> Result<PathBuf> {
    match &cli.signing_key_file {
        Some(path) => Ok(path.clone()),
        None => Ok(master_key_path(cli)?.with_file_name("signing.key")),
    }
}

/// The address certificates link to when `--public-url` is not given.
pub(crate) const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// `certificate verify` and `certificate key`: nothing but a file is opened.
pub(crate) fn certificate_offline(cli: &Cli, action: &CertificateAction) -> Result<()> {
    match action {
        CertificateAction::Verify { file, key } => {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            let document: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
            let pinned = key.as_deref().map(taizhang_credential::PublicKey::parse).transpose()?;
            match taizhang_credential::verify(&document, pinned.as_ref()) {
                Ok(verified) => {
                    let number = document["name"].as_str().unwrap_or_default();
                    println!("verified: {number}, signed {} by {}", verified.created, verified.key);
                    if pinned.is_none() {
                        eprintln!(
                            "the signature holds; to know it is the installation's, compare the key with the one it \
                             publishes (/certificates/keys) or give it with --key"
                        );
                    }
                    Ok(())
                }
                Err(e) => bail!("{} does not verify: {e}", file.display()),
            }
        }
        CertificateAction::Key { rotate } => {
            let path = signing_key_path(cli)?;
            if *rotate {
                let (retired, new) = signing_key::rotate(&path)?;
                if let Some(retired) = retired {
                    eprintln!("retired {retired}: the certificates it signed still verify; it signs nothing more");
                }
                println!("{new}");
            } else {
                println!("{}", signing_key::load_or_create(&path)?.public());
            }
            Ok(())
        }
        _ => unreachable!("the others open the log"),
    }
}

/// The other actions, on the data directory.
pub(crate) async fn certificate(cli: &Cli, store: Arc<AnyStore>, action: &CertificateAction) -> Result<()> {
    let ledger = open_ledger(cli, store.clone()).await?;
    let projector = Projector::open(store.clone(), Some(checkpoint_path(cli))).await?;
    let follower = tokio::spawn(projector.clone().run());
    projector.wait_for(store.head(), Duration::from_secs(600)).await?;
    let result = match action {
        CertificateAction::Issue { member, unit, from, to, person_in_charge, contact, output } => {
            let request = IssueRequest {
                member: MemberId::parse_ref(member.trim()),
                unit: UnitId::parse_ref(unit.trim()),
                period: Period::new(*from, *to)?,
                person_in_charge: Text::parse("--person-in-charge", person_in_charge)?,
                contact: Text::parse("--contact", contact)?,
                base_url: Text::parse("--public-url", cli.public_url.as_deref().unwrap_or(DEFAULT_PUBLIC_URL))?,
            };
            let ctx = CommandContext::new(Actor::OPERATOR);
            let (id, _) = issuing::issue(&ledger, &projector, ctx, &signing_key_path(cli)?, &request).await?;
            projector.wait_for(store.head(), Duration::from_secs(10)).await?;
            let issued = issuing::read(&ledger, &projector, id).await?;
            write_out(output.as_deref(), &serde_json::to_vec_pretty(&issued.document)?)?;
            eprintln!(
                "issued certificate {} (check code {}): {}",
                issued.record.issued.number,
                issued.code,
                issuing::check_address(&issued.record.issued)
            );
            Ok(())
        }
        CertificateAction::Show { number, format, output } => {
            let issued = issuing::read(&ledger, &projector, CertificateId::parse_ref(number.trim())).await?;
            let body = match format {
                CertificateFormat::Json => serde_json::to_vec_pretty(&issued.document)?,
                CertificateFormat::Html => issuing::printable_html(&issued).into_bytes(),
            };
            write_out(output.as_deref(), &body)
        }
        CertificateAction::Revoke { number, reason } => {
            let certificate = CertificateId::parse_ref(number.trim());
            let command = RevokeCertificate { certificate, reason: Text::parse("--reason", reason)? };
            ledger.execute(CommandContext::new(Actor::OPERATOR), command.into()).await?;
            eprintln!("revoked certificate {number}");
            Ok(())
        }
        CertificateAction::List { member, unit, format, output } => {
            let member = member.as_deref().map(|m| MemberId::parse_ref(m.trim()));
            let unit = unit.as_deref().map(|u| UnitId::parse_ref(u.trim()));
            if member.is_none() && unit.is_none() {
                bail!("give --member or --unit");
            }
            let xlsx = *format == SheetFormat::Xlsx;
            let file = projector.read(|m| taizhang_io::export::certificate_list(m, member, unit, xlsx))?;
            write_out(output.as_deref(), &file)
        }
        CertificateAction::Verify { .. } | CertificateAction::Key { .. } => unreachable!("offline"),
    };
    follower.abort();
    result
}

/// The other actions, through a running server.
pub(crate) async fn online_certificate(server: &str, token: &str, action: &CertificateAction) -> Result<()> {
    match action {
        CertificateAction::Issue { member, unit, from, to, person_in_charge, contact, output } => {
            let query = "mutation($input: IssueCertificateInput!) { issueCertificate(input: $input) { certificate { number checkCode } } }";
            let input = serde_json::json!({
                "member": member, "unit": unit, "first": from.to_string(), "last": to.to_string(),
                "personInCharge": person_in_charge, "contact": contact,
            });
            let answer = graphql(server, token, query, serde_json::json!({ "input": input })).await?;
            let certificate = &answer["issueCertificate"]["certificate"];
            let number = certificate["number"].as_str().context("the server answered no certificate")?;
            let route = "/export/certificate";
            online_sheet(server, token, route, &[("number", number.to_owned())], output.as_deref()).await?;
            eprintln!("issued certificate {number} (check code {})", certificate["checkCode"].as_str().unwrap_or("?"));
            Ok(())
        }
        CertificateAction::Show { number, format, output } => {
            let format = match format {
                CertificateFormat::Json => "json",
                CertificateFormat::Html => "html",
            };
            let query = [("number", number.clone()), ("format", format.to_owned())];
            online_sheet(server, token, "/export/certificate", &query, output.as_deref()).await
        }
        CertificateAction::Revoke { number, reason } => {
            let query = "mutation($n: String!, $r: String!) { revokeCertificate(number: $n, reason: $r) { certificate { number } } }";
            graphql(server, token, query, serde_json::json!({ "n": number, "r": reason })).await?;
            eprintln!("revoked certificate {number}");
            Ok(())
        }
        CertificateAction::List { member, unit, format, output } => {
            let mut query: Vec<(&str, String)> = Vec::new();
            query.extend(member.iter().map(|m| ("member", m.clone())));
            query.extend(unit.iter().map(|u| ("unit", u.clone())));
            if *format == SheetFormat::Xlsx {
                query.push(("format", "xlsx".to_owned()));
            }
            online_sheet(server, token, "/export/certificates", &query, output.as_deref()).await
        }
        CertificateAction::Verify { .. } | CertificateAction::Key { .. } => unreachable!("offline"),
    }
}

fn write_out(output: Option<&Path>, body: &[u8]) -> Result<()> {
    match output {
        Some(path) => {
            let mut file = private::create_file(path).with_context(|| format!("creating {}", path.display()))?;
            file.write_all(body)?;
            file.sync_all()?;
        }
        None => std::io::stdout().lock().write_all(body)?,
    }
    Ok(())
}
