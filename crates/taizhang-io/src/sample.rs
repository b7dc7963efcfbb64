//! The sample campaign's recognitions, which need the read side: after the half-year's
//! evaluations, the star boards of the units and of the members are published, the
//! best are nominated (200 windows the public is satisfied with, and the members with
//! enough named stars as post pioneers, as many as the source recognised and more),
//! listed for objections, and decided, each on its board's evidence. Everything is
//! derived from the seed and the log, so the same seed gives the same events.

use std::time::Duration;

use taizhang_app::{AppError, CommandContext, Ledger};
use taizhang_core::*;
use taizhang_read::board::{star_board_in_slices, Detail, StarBoard};
use taizhang_read::policy::{Award, Policy, PolicySet};
use taizhang_read::recognitions::{evidence_for, publication};
use taizhang_read::report::Scope;
use taizhang_read::{AsOf, Projector};
use taizhang_store::EventStore;
use uuid::Uuid;

/// Windows recognised as satisfying the public (群众满意窗口), as in the source.
pub const SATISFIED_WINDOWS: usize = 200;
/// Post pioneers (岗位先锋) recognised at most; the source names "500 and more".
pub const POST_PIONEERS: usize = 520;

/// The namespace of the ids of the sample's recognitions.
const NAMESPACE: Uuid = Uuid::from_u128(0x7a1c_7a5e_1d0c_4b3e_9c61_6a2d_1f00_2012);

/// Why the sample could not be recognised.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The read side could not answer (its model fell behind, a board did not compute).
    #[error("{0}")]
    Read(String),
}

fn read_error(e: impl std::fmt::Display) -> SampleError {
    SampleError::Read(e.to_string())
}

/// What [`recognise`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recognised {
    pub boards: usize,
    pub nominated: usize,
    pub decided: usize,
}

/// Publishes the half-year's boards, nominates the best and decides them, unless the
/// log holds a published board already (the sample was recognised before).
pub async fn recognise<S: EventStore>(
    ledger: &Ledger<S>,
    projector: &Projector<S>,
    half_year: HalfYear,
    seed: u64,
) -> Result<Recognised, SampleError> {
    projector.wait_for(ledger.store().head(), Duration::from_secs(600)).await.map_err(read_error)?;
    if projector.read(|m| !m.boards.is_empty()) {
        return Ok(Recognised::default());
    }
    let policies = PolicySet::built_in();
    let id = |what: &str| Uuid::new_v5(&NAMESPACE, format!("{seed}/{half_year}/{what}").as_bytes());
    // A day after the last thing the log records, at ten in the morning.
    let last = projector.read(|m| m.recorded_at(m.position)).unwrap_or_else(Timestamp::now);
    let day = last.service_date().next_day().unwrap_or(last.service_date());
    let at = |date: time::Date| Timestamp::of_service(date, ClockTime::from_minutes(10 * 60).expect("10:00"));
    let context = |command: &str, date| CommandContext {
        command_id: id(command),
        recorded_at: Some(at(date)),
        ..CommandContext::new(Actor::OPERATOR)
    };
    let mut done = Recognised::default();
    for (policy, award, best) in [
        ("ten-star-unit-default", "satisfied-window", SATISFIED_WINDOWS),
        ("ten-star-named-default", "post-pioneer", POST_PIONEERS),
    ] {
        let policy = policies.get(policy).map_err(read_error)?;
        let award = policy.awards.iter().find(|a| a.name == award).expect("the built-in policy declares the award");
        let (published, board) =
            publish(ledger, projector, policy, half_year, &context, day, id(policy.name.as_str())).await?;
        done.boards += 1;
        let board = (&published, policy, &board);
        let (nominated, decided) = nominate_and_decide(ledger, projector, board, award, best, &context, day).await?;
        done.nominated += nominated;
        done.decided += decided;
    }
    Ok(done)
}

/// Publishes `policy`'s board of the whole city as the log stands; answers the record
/// and the board as computed.
async fn publish<S: EventStore>(
    ledger: &Ledger<S>,
    projector: &Projector<S>,
    policy: &Policy,
    half_year: HalfYear,
    context: &impl Fn(&str, time::Date) -> CommandContext,
    day: time::Date,
    board: Uuid,
) -> Result<(BoardPublished, StarBoard), SampleError> {
    let (_, computed) =
        star_board_in_slices(projector, policy, &Scope::All, half_year, &AsOf::now(), Detail::Explained, &|| false)
            .map_err(read_error)?;
    let name = format!(
        "{}年{}星级榜（{}）",
        half_year.year,
        if half_year.half == 1 { "上半年" } else { "下半年" },
        policy.title
    );
    let name = Text::parse("name", &name)?;
    let published = publication(BoardId(board), name, RoundScope::All, policy, &computed);
    let command = Command::PublishBoard(PublishBoard::new(published.clone()));
    ledger.run_in_order(vec![(context(&format!("publish/{}", policy.name), day), command)], |_| {}).await?;
    Ok((published, computed))
}

/// Nominates the `best` on a published board (its record, policy and entries) whose
/// stars reach `award`'s level, the day after publication; decides them once their
/// listing is over, each on the board's evidence.
async fn nominate_and_decide<S: EventStore>(
    ledger: &Ledger<S>,
    projector: &Projector<S>,
    (published, policy, board): (&BoardPublished, &Policy, &StarBoard),
    award: &Award,
    best: usize,
    context: &impl Fn(&str, time::Date) -> CommandContext,
    day: time::Date,
) -> Result<(usize, usize), SampleError> {
    let needed = policy.rank_of(Some(&award.at_least));
    let nominated_on = day.next_day().unwrap_or(day);
    let decided_on = listing_end(nominated_on, award.listing_days).next_day().unwrap_or(nominated_on);
    let chosen: Vec<Rated> = board
        .entries
        .iter()
        .filter(|e| e.stars >= needed)
        .take(best)
        .map(|e| match e.eligibility.candidate {
            taizhang_read::eligibility::Candidate::Member(id) => Rated::Member(id),
            taizhang_read::eligibility::Candidate::Unit(id) => Rated::Unit(id),
        })
        .collect();
    let award_name = Text::parse("award", &award.name)?;
    let nominations: Vec<(CommandContext, Command)> = chosen
        .iter()
        .map(|&nominee| {
            let recognition = RecognitionId::of(&award.name, published.half_year, nominee);
            let command = Command::NominateRecognition(NominateRecognition {
                recognition,
                award: award_name.clone(),
                policy: published.policy.clone(),
                half_year: published.half_year,
                nominee,
                reason: None,
                listing_days: award.listing_days,
            });
            (context(&format!("nominate/{recognition}"), nominated_on), command)
        })
        .collect();
    let nominated = nominations.len();
    ledger.run_in_order(nominations, |_| {}).await?;
    projector.wait_for(ledger.store().head(), Duration::from_secs(600)).await.map_err(read_error)?;
    let decisions: Vec<(CommandContext, Command)> = projector.read(|m| {
        chosen
            .iter()
            .filter_map(|&nominee| {
                let recognition = RecognitionId::of(&award.name, published.half_year, nominee);
                let nomination = &m.recognitions.get(&recognition)?.nominated;
                let evidence = evidence_for(published, policy, board, nomination).ok()?;
                let command = Command::DecideRecognition(DecideRecognition { recognition, evidence, exception: None });
                Some((context(&format!("decide/{recognition}"), decided_on), command))
            })
            .collect()
    });
    let decided = decisions.len();
    ledger.run_in_order(decisions, |_| {}).await?;
    Ok((nominated, decided))
}
