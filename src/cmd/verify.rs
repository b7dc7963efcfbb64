//! `verify` of the hash chain (on a read-only copy too) and `rebuild` of the
//! projections.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use taizhang_read::Projector;
use taizhang_store::{chain, EventStore};

use crate::cli::*;
use crate::cmd::*;
use crate::progress::Progress;

pub(crate) async fn verify<S: EventStore>(store: &S) -> Result<()> {
    let progress = Progress::new("verifying", store.head());
    match chain::verify(store, |p| progress.set(p)).await {
        Ok(report) => {
            progress.finish();
            println!("ok: {} events, head hash {}", report.events, hex::encode(report.head_hash));
            Ok(())
        }
        Err(e) => {
            progress.finish();
            bail!("chain broken: {e}")
        }
    }
}

/// `verify` of a data directory this user may read but not write (a copy on read-only
/// media, another user's backup): the embedded store only opens for writing, so its log
/// is copied to a temporary directory, verified there and removed.
pub(crate) async fn verify_a_copy(data: &Path, denied: &Path) -> Result<()> {
    let copy = tempfile::Builder::new().prefix("taizhang-verify-").tempdir().context("making a temporary directory")?;
    eprintln!("{} cannot be written ({}): verifying a copy of its log", data.display(), denied.display());
    copy_tree(&data.join("log"), &copy.path().join("log"))?;
    let store = taizhang_store::SledStore::open(copy.path()).context("opening the copy of the log")?;
    verify(&store).await
}

/// Copies the directory `from` and everything in it to `to`, naming any file it cannot read.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_tree(&source, &target)?;
        } else {
            std::fs::copy(&source, &target).with_context(|| format!("reading {}", source.display()))?;
            // The copy keeps the original's read-only mode; the store opens for writing.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// `verify --recognitions`: every decided recognition's board computed again at its own
/// position (its evidence must come out the same) and as the log stands now; those whose
/// evidence no longer reaches the award's level are listed as weakened. Fails when some
/// evidence is not given again (the log or the policy text no longer says what it said).
pub(crate) async fn verify_recognitions<S: EventStore>(cli: &Cli, store: Arc<S>) -> Result<()> {
    let projector = Projector::open(store.clone(), Some(checkpoint_path(cli))).await?;
    let follower = tokio::spawn(projector.clone().run());
    projector.wait_for(store.head(), std::time::Duration::from_secs(600)).await?;
    let checked = projector.read(|m| {
        let checks = taizhang_read::recognitions::check_recognitions(m, &taizhang_read::AsOf::now())?;
        let lines: Vec<(String, bool, bool)> = checks
            .iter()
            .map(|c| {
                let n = &m.recognitions[&c.recognition].nominated;
                let required =
                    m.recognitions[&c.recognition].decision.as_ref().map(|d| d.evidence.required.to_string());
                let now =
                    c.now.as_ref().and_then(|e| e.outcome.as_ref()).map_or("nothing".to_owned(), |o| o.to_string());
                let line = format!(
                    "{} {} {} {}: {}{}",
                    c.recognition,
                    n.award,
                    n.half_year,
                    n.nominee,
                    if c.reproduced { "evidence given again" } else { "EVIDENCE NOT GIVEN AGAIN" },
                    if c.holds_now {
                        String::new()
                    } else {
                        format!(
                            "; weakened: the board now awards {now}, the award needs {}",
                            required.unwrap_or_default()
                        )
                    }
                );
                (line, c.reproduced, c.holds_now)
            })
            .collect();
        Ok::<_, taizhang_read::eligibility::EligibilityError>((m.position, lines))
    });
    follower.abort();
    let (position, lines) = checked?;
    for (line, _, _) in &lines {
        println!("{line}");
    }
    let failed = lines.iter().filter(|(_, reproduced, _)| !reproduced).count();
    let weakened = lines.iter().filter(|(_, _, holds)| !holds).count();
    if failed > 0 {
        bail!(
            "{failed} of {} decided recognitions: their evidence is not given again at position {position}",
            lines.len()
        );
    }
    println!(
        "ok: {} decided recognitions, every one's evidence given again; {weakened} weakened by later corrections (at position {position})",
        lines.len()
    );
    Ok(())
}

pub(crate) async fn rebuild<S: EventStore>(cli: &Cli, store: Arc<S>) -> Result<()> {
    let projector = Projector::open(store, Some(checkpoint_path(cli))).await?;
    let report = projector.rebuild().await?;
    println!("{:<10} {:<66} {:<66}", "projection", "live", "rebuilt");
    for ((name, live), (_, rebuilt)) in report.live.iter().zip(&report.rebuilt) {
        let mark = if live == rebuilt { "" } else { "  DIFFERENT" };
        println!("{name:<10} {live:<66} {rebuilt:<66}{mark}");
    }
    if report.matches() {
        println!("ok: the rebuilt projections equal the live ones");
    } else {
        println!("the live projections differed from the log; the rebuilt ones replace them");
    }
    Ok(())
}
