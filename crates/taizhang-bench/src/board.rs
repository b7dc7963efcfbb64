//! The star boards of the sample campaign's first half-year over the whole city, as a
//! server answers them while the city keeps registering: a page of a hundred, ranked
//! from every candidate's standing, explained and given the half-year before.

use std::time::Instant;

use anyhow::{ensure, Result};
use taizhang_app::{CommandContext, Ledger};
use taizhang_core::*;
use taizhang_read::board::{complete_page, BoardEntry, KeptBoards};
use taizhang_read::policy::{Policy, PolicySet};
use taizhang_read::report::Scope;
use taizhang_read::{AsOf, Projector};
use taizhang_store::EventStore;

use crate::{median, report};

/// Rounds of new outings, each followed by both ways of answering.
const ROUNDS: u32 = 7;
/// Outings registered between two answers, each by a unit of its own with two members:
/// a hundred units and two hundred members touched. With them, a member moves to
/// another unit, which changes who is on the member board.
const OUTINGS_PER_ROUND: usize = 100;

/// For the unit board (5,800 units) and the member board (about 58,000 members): each
/// round registers [`OUTINGS_PER_ROUND`] outings and a transfer, then asks for the board's first page
/// from the board kept since the round before (`board.units`, `board.members`) and, in
/// the same round, from a board assessed whole (the baseline, which must give the same
/// page); medians of [`ROUNDS`]. `.unchanged`: the kept board asked again at once, with
/// nothing new (its ranking and its page).
pub async fn boards<S: EventStore>(ledger: &Ledger<S>, projector: &Projector<S>, policies: &PolicySet) -> Result<()> {
    let half = HalfYear { year: 2011, half: 1 };
    let mut round = 0;
    for (line, policy) in [("board.units", "ten-star-unit-default"), ("board.members", "ten-star-named-default")] {
        let policy = policies.get(policy)?;
        let kept = KeptBoards::default();
        let started = Instant::now();
        let (_, listed) = first_page(&kept, projector, policy, half)?;
        report(&format!("{line}.first"), ms(started), "ms", None);
        report(&format!("{line}.listed"), listed as f64, "entries", None);
        let (mut kept_runs, mut whole_runs, mut unchanged_runs) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            register_outings_and_a_transfer(ledger, round).await?;
            round += 1;
            projector.wait_for(ledger.store().head(), std::time::Duration::from_secs(30)).await?;
            let started = Instant::now();
            let (page, _) = first_page(&kept, projector, policy, half)?;
            kept_runs.push(ms(started));
            let started = Instant::now();
            let (whole, _) = first_page(&KeptBoards::default(), projector, policy, half)?;
            whole_runs.push(ms(started));
            ensure!(page == whole, "the kept board gives the page of a board assessed whole");
            // Asked again with nothing new: the ranking and the page alone.
            let started = Instant::now();
            first_page(&kept, projector, policy, half)?;
            unchanged_runs.push(ms(started));
        }
        report(&format!("{line}.unchanged"), median(unchanged_runs), "ms", None);
        let whole = median(whole_runs);
        report(&format!("{line}.whole"), whole, "ms", None);
        report(line, median(kept_runs), "ms", Some(whole));
    }
    Ok(())
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1e3
}

/// The board's first hundred at the head, completed, and how many it lists.
fn first_page<S: EventStore>(
    kept: &KeptBoards,
    projector: &Projector<S>,
    policy: &Policy,
    half: HalfYear,
) -> Result<(Vec<BoardEntry>, usize)> {
    let (as_of, listed, board) = kept.page(projector, policy, &Scope::All, half, &AsOf::now(), 0, 100, &|| false)?;
    ensure!(board.entries.len() == 100, "the board's first page is full");
    let mut entries = board.entries;
    projector.read(|m| complete_page(m, policy, &mut entries, half, &as_of))?;
    Ok((entries, listed))
}

/// [`OUTINGS_PER_ROUND`] outings of the sample's units, the first two members of each
/// unit for an hour and a half in the evening of a June day of the round's own, when
/// none of them is booked; and the third member of another unit moved to a third in
/// mid-June.
async fn register_outings_and_a_transfer<S: EventStore>(ledger: &Ledger<S>, round: usize) -> Result<()> {
    let day = time::macros::date!(2011 - 06 - 01) + time::Duration::days((round % 30) as i64);
    let text = |s: &str| Text::parse("bench", s).expect("a valid text");
    let span = |from: u16, to: u16| {
        TimeRange::new(
            "bench",
            ClockTime::from_minutes(from).expect("in a day"),
            ClockTime::from_minutes(to).expect("in a day"),
        )
        .expect("positive")
    };
    let batch = (0..OUTINGS_PER_ROUND)
        .map(|i| {
            let unit_code = format!("SY-{:04}", 1 + (round * OUTINGS_PER_ROUND + i) % 5_800);
            let participants = (1..=2)
                .map(|m| ParticipationInput {
                    member: MemberId::of_code(&format!("{unit_code}-{m:02}")),
                    span: None,
                    minutes: None,
                })
                .collect();
            let command = Command::RegisterOuting(RegisterOuting {
                outing: OutingId::new(),
                unit: UnitId::of_code(&unit_code),
                details: OutingDetails {
                    date: day,
                    span: span(19 * 60 + 30, 21 * 60),
                    place: text("社区服务站"),
                    category: text("便民服务"),
                    description: None,
                    beneficiaries: 40,
                },
                participants,
                code: None,
            });
            (CommandContext::new(Actor::OPERATOR), command)
        })
        .chain(std::iter::once({
            let command = Command::TransferMember(TransferMember {
                member: MemberId::of_code(&format!("SY-{:04}-03", 5_001 + round)),
                to: UnitId::of_code(&format!("SY-{:04}", 5_401 + round)),
                effective: time::macros::date!(2011 - 06 - 15),
            });
            (CommandContext::new(Actor::OPERATOR), command)
        }))
        .collect();
    ledger.run_in_order(batch, |_| {}).await?;
    Ok(())
}
