//! Star boards (星级榜): a ten-star policy applied to every member or unit of a scope
//! for a half-year, as of one position: each one's stars, score, rank and change since
//! the previous half-year, with the policy's explanation of every star.

use std::cmp::Ordering;

use serde::Serialize;
use taizhang_core::*;

use crate::eligibility::{award_members, eligibility, standing, Candidate, Eligibility, EligibilityError};
use crate::policy::{Policy, Subject};
use crate::report::{units_in_scope, Scope};
use crate::{AsOf, ReadModel};

/// One member or unit on a board.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct BoardEntry {
    /// 1 for the best; equal stars and score share a rank.
    pub rank: usize,
    /// The stars (the policy's rank of the outcome) after the board's quota.
    pub stars: usize,
    /// The stars of the previous half-year, as of the same position.
    pub previous_stars: usize,
    /// Kept one below the top rank by the policy's `top_share_percent`.
    pub held_by_quota: bool,
    /// The half-year's assessment: every level, cap and veto with its criteria.
    pub eligibility: Eligibility,
}

/// A board as of one position.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct StarBoard {
    pub policy: String,
    pub policy_version: u32,
    pub half_year: HalfYear,
    pub as_of_position: taizhang_store::Position,
    pub entries: Vec<BoardEntry>,
}

/// Those a board lists: a unit policy's units of the scope, or a member policy's
/// members of the scope's units on the half-year's last day, as known at the position.
pub fn board_candidates(
    model: &ReadModel,
    policy: &Policy,
    scope: &Scope,
    half_year: HalfYear,
    as_of: &AsOf,
) -> Vec<Candidate> {
    match policy.subject {
        Subject::Unit => units_in_scope(model, scope, as_of.position(model)).into_iter().map(Candidate::Unit).collect(),
        Subject::Member => {
            award_members(model, scope, half_year.period(), as_of).into_iter().map(Candidate::Member).collect()
        }
    }
}

/// How much of each candidate a board assesses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Detail {
    /// Every entry with its explanation: a board kept whole (a published board, whose
    /// entries give a decision its evidence).
    Explained,
    /// The outcome and score alone ([`standing`]): a board of which a page is shown,
    /// explained by [`complete_page`]. Ranks, stars and scores are the same.
    StarsOnly,
}

/// Each candidate's assessment for `half_year`, unranked: a part of a board, so that a
/// board can be assessed a slice at a time.
pub fn board_part(
    model: &ReadModel,
    policy: &Policy,
    candidates: &[Candidate],
    half_year: HalfYear,
    as_of: &AsOf,
    detail: Detail,
) -> Result<Vec<Eligibility>, EligibilityError> {
    let no_personal = |_: MemberId| None;
    let assess = match detail {
        Detail::Explained => eligibility,
        Detail::StarsOnly => standing,
    };
    candidates
        .iter()
        .map(|&candidate| assess(model, policy, candidate, half_year.period(), as_of, &no_personal))
        .collect()
}

/// Completes `entries`, a page of a board: each with its explanation (its stars as the
/// board gave them, the quota included) and the stars of the half-year before. Neither
/// changes a rank, so a page needs only its own.
pub fn complete_page(
    model: &ReadModel,
    policy: &Policy,
    entries: &mut [BoardEntry],
    half_year: HalfYear,
    as_of: &AsOf,
) -> Result<(), EligibilityError> {
    let no_personal = |_: MemberId| None;
    for entry in entries.iter_mut() {
        let explained =
            eligibility(model, policy, entry.eligibility.candidate, half_year.period(), as_of, &no_personal)?;
        entry.eligibility = Eligibility { outcome: policy.outcome_of(entry.stars), ..explained };
    }
    fill_previous(model, policy, entries, half_year, as_of)
}

/// Gives `entries` the stars of the half-year before.
fn fill_previous(
    model: &ReadModel,
    policy: &Policy,
    entries: &mut [BoardEntry],
    half_year: HalfYear,
    as_of: &AsOf,
) -> Result<(), EligibilityError> {
    let no_personal = |_: MemberId| None;
    let previous = half_year.previous().period();
    for entry in entries {
        let before = eligibility(model, policy, entry.eligibility.candidate, previous, as_of, &no_personal)?;
        entry.previous_stars = policy.rank_of(before.outcome.as_deref());
    }
    Ok(())
}

/// The board made of every part: the quota applied, then ordered by stars, then score,
/// then the order the candidates were given in; ranked.
/// The stars of the half-year before are left at 0 for [`complete_page`].
pub fn rank_board(policy: &Policy, half_year: HalfYear, assessed: Vec<Eligibility>) -> StarBoard {
    let as_of_position = assessed.first().map_or(0, |e| e.as_of_position);
    let mut entries: Vec<BoardEntry> = assessed
        .into_iter()
        .map(|eligibility| BoardEntry {
            rank: 0,
            stars: policy.rank_of(eligibility.outcome.as_deref()),
            previous_stars: 0,
            held_by_quota: false,
            eligibility,
        })
        .collect();
    // A stable sort keeps the candidates' own order among equals.
    entries.sort_by(|a, b| b.stars.cmp(&a.stars).then_with(|| by_score(b, a)));
    if let Some(share) = policy.top_share_percent {
        let top = policy.top_rank();
        let allowed = entries.len() * usize::from(share) / 100;
        for entry in entries.iter_mut().filter(|e| e.stars == top).skip(allowed) {
            entry.stars = top - 1;
            entry.held_by_quota = true;
        }
        entries.sort_by(|a, b| b.stars.cmp(&a.stars).then_with(|| by_score(b, a)));
    }
    for i in 0..entries.len() {
        let tied = i > 0 && entries[i - 1].stars == entries[i].stars && by_score(&entries[i - 1], &entries[i]).is_eq();
        entries[i].rank = if tied { entries[i - 1].rank } else { i + 1 };
        entries[i].eligibility.outcome = policy.outcome_of(entries[i].stars);
    }
    StarBoard { policy: policy.name.clone(), policy_version: policy.version, half_year, as_of_position, entries }
}

/// A page of a board in one go, `first` entries after `offset`, with the number on the
/// whole board: every candidate assessed for their stars, the page's explained (servers
/// assess the board a slice at a time with [`board_part`]).
pub fn star_board_page(
    model: &ReadModel,
    policy: &Policy,
    scope: &Scope,
    half_year: HalfYear,
    as_of: &AsOf,
    offset: usize,
    first: usize,
) -> Result<(usize, StarBoard), EligibilityError> {
    let as_of = as_of.pinned(model);
    let candidates = board_candidates(model, policy, scope, half_year, &as_of);
    let assessed = board_part(model, policy, &candidates, half_year, &as_of, Detail::StarsOnly)?;
    let mut board = rank_board(policy, half_year, assessed);
    let total = board.entries.len();
    board.entries = board.entries.into_iter().skip(offset).take(first).collect();
    complete_page(model, policy, &mut board.entries, half_year, &as_of)?;
    Ok((total, board))
}

/// A whole board without the half-year before, assessed to `detail`
/// [`AWARD_MEMBERS_PER_SLICE`](crate::eligibility::AWARD_MEMBERS_PER_SLICE) candidates
/// per hold of the model's lock, as of the position `as_of` pins (the head when it
/// names none). Stops early, with what it has, once `abandoned` says nobody waits.
pub fn star_board_in_slices<S: taizhang_store::EventStore>(
    projector: &crate::Projector<S>,
    policy: &Policy,
    scope: &Scope,
    half_year: HalfYear,
    as_of: &AsOf,
    detail: Detail,
    abandoned: &dyn Fn() -> bool,
) -> Result<(AsOf, StarBoard), EligibilityError> {
    let (as_of, candidates) = projector.read(|m| {
        let as_of = as_of.pinned(m);
        let candidates = board_candidates(m, policy, scope, half_year, &as_of);
        (as_of, candidates)
    });
    let mut assessed = Vec::with_capacity(candidates.len());
    for slice in candidates.chunks(crate::eligibility::AWARD_MEMBERS_PER_SLICE) {
        if abandoned() {
            break;
        }
        assessed.extend(projector.read(|m| board_part(m, policy, slice, half_year, &as_of, detail))?);
    }
    let mut board = rank_board(policy, half_year, assessed);
    // An empty board names the position it was asked at.
    board.as_of_position = as_of.position.unwrap_or(board.as_of_position);
    Ok((as_of, board))
}

/// A whole board, every entry explained and with the stars of the half-year before.
pub fn star_board(
    model: &ReadModel,
    policy: &Policy,
    scope: &Scope,
    half_year: HalfYear,
    as_of: &AsOf,
) -> Result<StarBoard, EligibilityError> {
    let as_of = as_of.pinned(model);
    let candidates = board_candidates(model, policy, scope, half_year, &as_of);
    let mut board =
        rank_board(policy, half_year, board_part(model, policy, &candidates, half_year, &as_of, Detail::Explained)?);
    fill_previous(model, policy, &mut board.entries, half_year, &as_of)?;
    Ok(board)
}

/// Compares two entries' weighted scores exactly; an unknown score is below any.
fn by_score(a: &BoardEntry, b: &BoardEntry) -> Ordering {
    match (a.eligibility.score, b.eligibility.score) {
        (Some((an, ad)), Some((bn, bd))) => (an * bd).cmp(&(bn * ad)),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}
