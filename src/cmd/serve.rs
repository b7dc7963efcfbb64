//! `serve`: the API on the store until a signal, the store watched for a failed or
//! stalled write, the sample campaign loaded on request.

use std::io::Write;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use taizhang_api::{ApiState, Limits};
use taizhang_app::Ledger;
use taizhang_core::Role;
use taizhang_read::policy::PolicySet;
use taizhang_read::Projector;
use taizhang_store::tokens::{NewToken, Secret};
use taizhang_store::{AnyStore, EventStore};

use crate::cli::*;
use crate::cmd::*;
use crate::progress::Progress;

/// Serves the API until SIGTERM or SIGINT, then stops accepting, lets requests in
/// flight finish, makes the store durable and saves the read model's checkpoint.
pub(crate) async fn serve(
    cli: &Cli,
    store: Arc<AnyStore>,
    listen: &str,
    demo: bool,
    max_connections: usize,
    limits: Limits,
) -> Result<()> {
    use poem::listener::{Acceptor, Listener, TcpListener};
    let ledger = Arc::new(open_ledger(cli, store.clone()).await?);
    if demo {
        if store.head() == 0 {
            load_demo(cli, &ledger, 1.0, DEMO_SEED).await?;
        } else {
            tracing::info!(head = store.head(), "the log is not empty; the sample campaign is not loaded");
        }
    }
    let policies = PolicySet::load(cli.policy_dir.as_deref())?;
    let projector = Projector::open(store.clone(), Some(checkpoint_path(cli))).await?;
    let follower = tokio::spawn(projector.clone().run());
    let acceptor =
        TcpListener::bind(listen.to_owned()).into_acceptor().await.with_context(|| format!("listening on {listen}"))?;
    let acceptor = taizhang_api::connections::Bounded::new(acceptor, max_connections);
    let address = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("the listener has no address")?;
    let mut state = ApiState::new(ledger, projector.clone(), policies)?;
    let key_file = signing_key_path(cli)?;
    // Made now, so that a key that cannot be read stops the start, not an issue later.
    let signer = taizhang_store::signing_key::load_or_create(&key_file)?.public();
    tracing::info!(key = %signer, file = %key_file.display(), "certificates are signed with this key");
    let base_url = cli.public_url.clone().unwrap_or_else(|| format!("http://{address}"));
    state.certificates = Some(taizhang_api::CertificateSettings { key_file, base_url });
    let state = Arc::new(state);
    let demo_token = admin_check(&state, demo).await?;
    let schema = taizhang_api::schema(state.clone(), &limits);
    tracing::info!(%address, store = store.kind(), position = projector.position(), "serving");
    // Tests and scripts started with port 0 read the address from this line.
    println!("listening on http://{address}");
    if let Some(token) = demo_token {
        println!("sample admin token (shown once): {}", token.expose());
        println!("GraphiQL with it: http://{address}/graphql#token={}", token.expose());
    }
    std::io::stdout().flush()?;
    let watchdog = tokio::spawn(watch_store(store.clone()));
    poem::Server::new_with_acceptor(acceptor)
        .idle_timeout(limits.idle)
        .run_with_graceful_shutdown(
            taizhang_api::http::routes(schema, state, limits),
            shutdown_signal(),
            Some(std::time::Duration::from_secs(30)),
        )
        .await?;
    tracing::info!("stopping: making the store durable");
    follower.abort();
    watchdog.abort();
    // Acknowledged appends are durable already; this flushes the key store beside
    // them. A writer stuck in the disk must not keep the process from ending.
    match tokio::time::timeout(STORE_STOP_WAIT, store.sync()).await {
        Ok(synced) => synced?,
        Err(_) => exit_for_restart("the store did not finish its last write"),
    }
    projector.save_checkpoint()?;
    tracing::info!(position = projector.position(), "stopped");
    Ok(())
}

/// How long stopping waits for the store's last flush.
pub(crate) const STORE_STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a server whose store can no longer take writes keeps answering (reads, and
/// `/healthz` with 503, so that a load balancer turns away) before it exits.
pub(crate) const UNHEALTHY_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
/// The exit code of a server that stopped so that its supervisor starts it again
/// (EX_TEMPFAIL: a restart reads the log again and recovers).
pub(crate) const EXIT_RESTART: i32 = 75;

/// Ends the process once the store can no longer take writes: poisoned by a failed
/// write, or stalled in one that never returns. A restart reads the log again and
/// serves on; staying up would answer every write with an error, or never.
pub(crate) async fn watch_store(store: Arc<AnyStore>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let health = store.health();
        if health != taizhang_store::StoreHealth::Ok {
            tracing::error!(?health, "the store can no longer take writes; /healthz answers 503");
            tokio::time::sleep(UNHEALTHY_GRACE).await;
            exit_for_restart("the store can no longer take writes");
        }
    }
}

/// Exits at once with [`EXIT_RESTART`], without dropping the store: its writer thread
/// may be stuck inside the disk write, and dropping waits for it.
pub(crate) fn exit_for_restart(why: &str) -> ! {
    tracing::error!("{why}: exiting with code {EXIT_RESTART} to be restarted");
    std::process::exit(EXIT_RESTART)
}

/// Warns when no admin token exists. With `--demo` it creates one named "demo" instead,
/// printed with the address, so that a new user can try the API in one command.
pub(crate) async fn admin_check(state: &ApiState, demo: bool) -> Result<Option<Secret>> {
    let now = time::OffsetDateTime::now_utc();
    if state.tokens.has_admin(now).await? {
        return Ok(None);
    }
    if demo {
        let new = NewToken { name: "demo".into(), role: Role::Admin, units: vec![], lifetime: None };
        return Ok(Some(state.tokens.create(state.store().as_ref(), new, now).await?.secret));
    }
    tracing::warn!(
        "no admin token exists, so nobody can use the API yet: stop the server and run \
         `taizhang token create --role admin` (on PostgreSQL it works while servers run)"
    );
    Ok(None)
}

/// The seed `serve --demo` and `demo` use unless told otherwise.
pub(crate) const DEMO_SEED: u64 = 2011;

pub(crate) async fn load_demo(cli: &Cli, ledger: &Arc<Ledger<AnyStore>>, scale: f64, seed: u64) -> Result<()> {
    if !(scale > 0.0 && scale <= 100.0) {
        bail!("--scale must be above 0 and at most 100, not {scale}");
    }
    let plan = taizhang_app::demo::plan(scale, seed);
    let total = plan.commands.len();
    let progress = Progress::new("loading the sample campaign", total as u64);
    let started = std::time::Instant::now();
    let done = taizhang_app::demo::load(ledger, plan, |n| progress.set(n as u64)).await?;
    progress.finish();
    eprintln!(
        "loaded the sample campaign: {done} commands (scale {scale}, seed {seed}) in {:.1} s; log head {}",
        started.elapsed().as_secs_f64(),
        ledger.store().head()
    );
    // The recognitions are decided on the boards, which the read side computes.
    let started = std::time::Instant::now();
    let store = ledger.store().clone();
    let projector = Projector::open(store.clone(), Some(checkpoint_path(cli))).await?;
    let follower = tokio::spawn(projector.clone().run());
    let half_year = taizhang_core::HalfYear { year: 2011, half: 1 };
    let recognised = taizhang_io::sample::recognise(ledger, &projector, half_year, seed).await;
    projector.wait_for(store.head(), std::time::Duration::from_secs(600)).await?;
    follower.abort();
    projector.save_checkpoint()?;
    let recognised = recognised?;
    if recognised.boards > 0 {
        eprintln!(
            "published {} star boards and decided {} of {} nominations on their evidence in {:.1} s; log head {}",
            recognised.boards,
            recognised.decided,
            recognised.nominated,
            started.elapsed().as_secs_f64(),
            store.head()
        );
    }
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("installing SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutdown requested");
}
