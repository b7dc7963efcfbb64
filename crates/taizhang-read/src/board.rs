//! Star boards (星级榜): a ten-star policy applied to every member or unit of a scope
//! for a half-year, as of one position: each one's stars, score, rank and change since
//! the previous half-year, with the policy's explanation of every star.

use std::cmp::Ordering;

use serde::Serialize;
use taizhang_core::*;

use crate::changes::Changes;
use crate::eligibility::{eligibility, standing, Candidate, Eligibility, EligibilityError};
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
    let position = as_of.position(model);
    let units = units_in_scope(model, scope, position).into_iter();
    units.flat_map(|unit| unit_candidates(model, policy, unit, half_year, position)).collect()
}

/// The candidates a unit brings to a board: itself on a unit board, its members on the
/// half-year's last day on a member board.
fn unit_candidates(
    model: &ReadModel,
    policy: &Policy,
    unit: UnitId,
    half_year: HalfYear,
    position: taizhang_store::Position,
) -> Vec<Candidate> {
    match policy.subject {
        Subject::Unit => vec![Candidate::Unit(unit)],
        Subject::Member => model.members_of(unit, half_year.period().last, position).map(Candidate::Member).collect(),
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
    let standings: Vec<Standing> = assessed.iter().map(|e| Standing::of(policy, e)).collect();
    let mut assessed: Vec<Option<Eligibility>> = assessed.into_iter().map(Some).collect();
    let entries = ranking(policy, &standings)
        .into_iter()
        .map(|placed| {
            let mut eligibility = assessed[placed.index].take().expect("each candidate is placed once");
            eligibility.outcome = policy.outcome_of(placed.stars);
            BoardEntry {
                rank: placed.rank,
                stars: placed.stars,
                previous_stars: 0,
                held_by_quota: placed.held_by_quota,
                eligibility,
            }
        })
        .collect();
    StarBoard { policy: policy.name.clone(), policy_version: policy.version, half_year, as_of_position, entries }
}

/// What ranks a candidate: the stars their assessment gave (before the quota) and the
/// weighted score.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Standing {
    stars: usize,
    score: Option<(i128, i128)>,
}

impl Standing {
    fn of(policy: &Policy, assessed: &Eligibility) -> Self {
        Self { stars: policy.rank_of(assessed.outcome.as_deref()), score: assessed.score }
    }
}

/// A candidate's place on a board: `index` in the candidates' order.
#[derive(Clone, Copy, Debug)]
struct Placed {
    index: usize,
    rank: usize,
    stars: usize,
    held_by_quota: bool,
    score: Option<(i128, i128)>,
}

/// The candidates of `standings` in board order: the quota applied, then ordered by
/// stars, then score, then the candidates' own order; ranked, equals sharing a rank.
fn ranking(policy: &Policy, standings: &[Standing]) -> Vec<Placed> {
    let mut placed: Vec<Placed> = standings
        .iter()
        .enumerate()
        .map(|(index, s)| Placed { index, rank: 0, stars: s.stars, held_by_quota: false, score: s.score })
        .collect();
    // A stable sort keeps the candidates' own order among equals.
    let order = |a: &Placed, b: &Placed| b.stars.cmp(&a.stars).then_with(|| by_score(b.score, a.score));
    placed.sort_by(order);
    if let Some(share) = policy.top_share_percent {
        let top = policy.top_rank();
        let allowed = placed.len() * usize::from(share) / 100;
        for p in placed.iter_mut().filter(|p| p.stars == top).skip(allowed) {
            p.stars = top - 1;
            p.held_by_quota = true;
        }
        placed.sort_by(order);
    }
    for i in 0..placed.len() {
        let tied =
            i > 0 && placed[i - 1].stars == placed[i].stars && by_score(placed[i - 1].score, placed[i].score).is_eq();
        placed[i].rank = if tied { placed[i - 1].rank } else { i + 1 };
    }
    placed
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

/// Compares two weighted scores exactly; an unknown score is below any.
fn by_score(a: Option<(i128, i128)>, b: Option<(i128, i128)>) -> Ordering {
    match (a, b) {
        (Some((an, ad)), Some((bn, bd))) => (an * bd).cmp(&(bn * ad)),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}

/// Boards kept at the head of the log, the few asked for last: each candidate's
/// standing as of a position, assessed again only when an event since touched them
/// ([`crate::changes`]). A page of a board at the head then costs the changes since it
/// was last asked, its ranking and its own explanations, not every candidate's
/// assessment (a member board at scale 1 is 58,000 of them).
#[derive(Default)]
pub struct KeptBoards {
    /// The least recently asked first. Each board is taken out while it is brought up
    /// to date, so that nobody waits on the lock for that work.
    kept: std::sync::Mutex<Vec<Kept>>,
}

/// How many boards are kept: a few megabytes each at scale 1 (a member board: 58,000
/// candidates of some 80 bytes). A caller asking for more boards in turn than this has
/// each assessed whole, as it would be without them.
const KEPT_BOARDS: usize = 4;

/// A board's candidates and their standings as of `position`, unit by unit in the
/// board's order of candidates.
struct Kept {
    policy: Policy,
    scope: Scope,
    half_year: HalfYear,
    position: taizhang_store::Position,
    units: Vec<KeptUnit>,
}

/// What a unit brings to a kept board.
struct KeptUnit {
    unit: UnitId,
    candidates: Vec<Candidate>,
    /// Each candidate's standing; `None` until assessed.
    standings: Vec<Option<Standing>>,
}

impl KeptUnit {
    /// The unit's candidates as of `position`, keeping the standings `known` has of
    /// them.
    fn of(
        model: &ReadModel,
        policy: &Policy,
        unit: UnitId,
        half_year: HalfYear,
        position: taizhang_store::Position,
        known: Option<KeptUnit>,
    ) -> Self {
        let candidates = unit_candidates(model, policy, unit, half_year, position);
        let known: Vec<(Candidate, Option<Standing>)> =
            known.map(|k| k.candidates.into_iter().zip(k.standings).collect()).unwrap_or_default();
        let standings =
            candidates.iter().map(|c| known.iter().find(|(k, _)| k == c).and_then(|(_, standing)| *standing)).collect();
        KeptUnit { unit, candidates, standings }
    }
}

impl Kept {
    fn is(&self, policy: &Policy, scope: &Scope, half_year: HalfYear) -> bool {
        self.half_year == half_year && self.scope == *scope && self.policy == *policy
    }

    /// The board as of `position` with every candidate yet to be assessed.
    fn unassessed(
        model: &ReadModel,
        policy: &Policy,
        scope: &Scope,
        half_year: HalfYear,
        position: taizhang_store::Position,
    ) -> Self {
        let units = units_in_scope(model, scope, position).into_iter();
        Kept {
            policy: policy.clone(),
            scope: scope.clone(),
            half_year,
            position,
            units: units.map(|u| KeptUnit::of(model, policy, u, half_year, position, None)).collect(),
        }
    }

    /// This board brought to `position` after `changes`: the units of the scope and
    /// their candidates listed again where those may have changed, the standings of
    /// the candidates an event touched forgotten.
    fn after(mut self, model: &ReadModel, changes: &Changes, position: taizhang_store::Position) -> Self {
        if changes.scope || !changes.memberships.is_empty() {
            let mut known: std::collections::HashMap<UnitId, KeptUnit> =
                self.units.drain(..).map(|k| (k.unit, k)).collect();
            let units = units_in_scope(model, &self.scope, position).into_iter();
            self.units = units
                .map(|unit| match known.remove(&unit) {
                    Some(kept) if !changes.memberships.contains(&unit) => kept,
                    known => KeptUnit::of(model, &self.policy, unit, self.half_year, position, known),
                })
                .collect();
        }
        for kept in &mut self.units {
            for (candidate, standing) in kept.candidates.iter().zip(&mut kept.standings) {
                let touched = match candidate {
                    Candidate::Member(m) => changes.members.contains(m),
                    Candidate::Unit(u) => changes.units.contains(u),
                };
                if touched {
                    *standing = None;
                }
            }
        }
        self.position = position;
        self
    }

    /// The candidates yet to be assessed: (unit, candidate) by their places.
    fn due(&self) -> Vec<(usize, usize)> {
        let places = self.units.iter().enumerate().flat_map(|(u, kept)| {
            kept.standings.iter().enumerate().filter(|(_, s)| s.is_none()).map(move |(c, _)| (u, c))
        });
        places.collect()
    }
}

impl KeptBoards {
    /// A page of the board of `policy` for `half_year` over `scope`: `first` entries
    /// after `offset`, each assessed for the stars only (see [`complete_page`]), with
    /// the number on the whole board, as of the position `as_of` pins. At the head, the
    /// board kept for the same policy, scope and half-year is brought up to date;
    /// otherwise (an earlier position, bounds on when service happened) the board is
    /// assessed whole. Candidates are assessed
    /// [`AWARD_MEMBERS_PER_SLICE`](crate::eligibility::AWARD_MEMBERS_PER_SLICE) per hold
    /// of the model's lock. Stops early, with what it has and keeping nothing, once
    /// `abandoned` says nobody waits.
    #[allow(clippy::too_many_arguments)]
    pub fn page<S: taizhang_store::EventStore>(
        &self,
        projector: &crate::Projector<S>,
        policy: &Policy,
        scope: &Scope,
        half_year: HalfYear,
        as_of: &AsOf,
        offset: usize,
        first: usize,
        abandoned: &dyn Fn() -> bool,
    ) -> Result<(AsOf, usize, StarBoard), EligibilityError> {
        let taken = self.take(policy, scope, half_year);
        let since = taken.as_ref().map_or(0, |k| k.position);
        let (as_of, at_head, mut kept) = projector.read_changes(since, |model, changes| {
            let pinned = as_of.pinned(model);
            let position = model.position;
            let at_head =
                pinned.position == Some(position) && as_of.occurred_from.is_none() && as_of.occurred_before.is_none();
            let kept = match (taken, changes) {
                (Some(kept), Some(changes)) if at_head && !changes.everything => kept.after(model, &changes, position),
                _ => Kept::unassessed(model, policy, scope, half_year, pinned.position.unwrap_or(position)),
            };
            (pinned, at_head, kept)
        });
        let no_personal = |_: MemberId| None;
        for slice in kept.due().chunks(crate::eligibility::AWARD_MEMBERS_PER_SLICE) {
            if abandoned() {
                break;
            }
            projector.read(|model| {
                for &(u, c) in slice {
                    let unit = &mut kept.units[u];
                    let assessed =
                        standing(model, policy, unit.candidates[c], half_year.period(), &as_of, &no_personal)?;
                    unit.standings[c] = Some(Standing::of(policy, &assessed));
                }
                Ok::<_, EligibilityError>(())
            })?;
        }
        let (candidates, standings): (Vec<Candidate>, Vec<Standing>) = kept
            .units
            .iter()
            .flat_map(|k| k.candidates.iter().zip(&k.standings))
            .map(|(c, s)| (*c, s.unwrap_or(Standing { stars: 0, score: None })))
            .unzip();
        let placed = ranking(policy, &standings);
        let entries = placed
            .iter()
            .skip(offset)
            .take(first)
            .map(|p| BoardEntry {
                rank: p.rank,
                stars: p.stars,
                previous_stars: 0,
                held_by_quota: p.held_by_quota,
                eligibility: Eligibility {
                    policy: policy.name.clone(),
                    policy_version: policy.version,
                    candidate: candidates[p.index],
                    period: half_year.period(),
                    as_of_position: kept.position,
                    outcome: policy.outcome_of(p.stars),
                    score: p.score,
                    levels: vec![],
                    caps: vec![],
                    vetoes: vec![],
                },
            })
            .collect();
        let board = StarBoard {
            policy: policy.name.clone(),
            policy_version: policy.version,
            half_year,
            as_of_position: kept.position,
            entries,
        };
        if at_head && !abandoned() {
            self.keep(kept);
        }
        Ok((as_of, placed.len(), board))
    }

    /// The board kept for `policy`, `scope` and `half_year`, taken out.
    fn take(&self, policy: &Policy, scope: &Scope, half_year: HalfYear) -> Option<Kept> {
        let mut kept = self.kept.lock().expect("kept boards lock");
        let found = kept.iter().position(|k| k.is(policy, scope, half_year))?;
        Some(kept.remove(found))
    }

    /// Keeps `board` as the one asked for last, forgetting the least recently asked
    /// beyond [`KEPT_BOARDS`].
    fn keep(&self, board: Kept) {
        let mut kept = self.kept.lock().expect("kept boards lock");
        kept.retain(|k| !k.is(&board.policy, &board.scope, board.half_year));
        if kept.len() == KEPT_BOARDS {
            kept.remove(0);
        }
        kept.push(board);
    }
}
