//! Published boards and recognitions as readers need them: a published board computed
//! again from its own record, what changed since, and each recognition with the
//! evidence it was decided on and whether that evidence still holds.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use taizhang_core::*;
use taizhang_store::Position;

use crate::board::{star_board, StarBoard};
use crate::eligibility::{Candidate, EligibilityError, LevelResult};
use crate::policy::{Award, Policy, Scheme};
use crate::report::Scope;
use crate::{AsOf, ReadModel};

/// A board as published.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PublishedBoard {
    pub position: Position,
    pub published: BoardPublished,
    /// Who published it.
    pub by: Actor,
}

/// One objection to a nomination and its answer.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ObjectionRecord {
    pub position: Position,
    pub from: ObjectionSource,
    pub text: Text,
    /// Where, whether upheld, and the answer.
    pub answer: Option<(Position, bool, Text)>,
}

/// A recognition's decision.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub position: Position,
    pub evidence: Evidence,
    pub exception: Option<Text>,
    pub by: Actor,
}

/// A nomination and everything that followed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RecognitionRecord {
    pub position: Position,
    pub nominated: RecognitionNominated,
    pub by: Actor,
    pub objections: Vec<ObjectionRecord>,
    pub decision: Option<DecisionRecord>,
    pub revoked: Option<(Position, Text)>,
}

impl RecognitionRecord {
    /// The record as it stood at `as_of`; `None` before its nomination.
    pub fn at(&self, as_of: Position) -> Option<RecognitionRecord> {
        if self.position > as_of {
            return None;
        }
        let mut then = self.clone();
        then.objections.retain(|o| o.position <= as_of);
        for o in &mut then.objections {
            o.answer = o.answer.take().filter(|(p, ..)| *p <= as_of);
        }
        then.decision = then.decision.filter(|d| d.position <= as_of);
        then.revoked = then.revoked.filter(|(p, _)| *p <= as_of);
        Some(then)
    }
}

/// The canonical text of a policy (JSON, keys sorted) and its SHA-256: what a published
/// board records of the policy it applied.
pub fn policy_document(policy: &Policy) -> (String, String) {
    let json = serde_json::to_value(policy).expect("a policy serialises");
    let text = taizhang_credential::jcs::canonical(&json);
    let digest = hex::encode(Sha256::digest(text.as_bytes()));
    (text, digest)
}

/// The policy a published board applied, read back from its record.
pub fn published_policy(published: &BoardPublished) -> Result<Policy, String> {
    serde_json::from_str(&published.policy_document).map_err(|e| format!("board {}: its policy: {e}", published.board))
}

/// The scope of a board as the log records it: one unit, a region, an industry, all.
pub fn round_scope(scope: &Scope) -> Result<RoundScope, DomainError> {
    Ok(match scope {
        Scope::All => RoundScope::All,
        Scope::Unit(u) => RoundScope::Units(vec![*u]),
        Scope::Region(r) => RoundScope::Region(Text::parse("scope.region", r)?),
        Scope::Industry(i) => RoundScope::Industry(Text::parse("scope.industry", i)?),
    })
}

/// The scope of a board read back from the log.
pub fn board_scope(scope: &RoundScope) -> Scope {
    match scope {
        RoundScope::All => Scope::All,
        RoundScope::Region(r) => Scope::Region(r.to_string()),
        RoundScope::Industry(i) => Scope::Industry(i.to_string()),
        // A published board names one unit (a list is a round's scope, never a board's).
        RoundScope::Units(units) => units.first().map_or(Scope::All, |u| Scope::Unit(*u)),
    }
}

/// SHA-256 (hex) of a board's entries: each one's id, rank, stars, whether the quota
/// held it, and its score, in the board's order.
pub fn board_digest(board: &StarBoard) -> String {
    let mut hasher = Sha256::new();
    for e in &board.entries {
        let id = match e.eligibility.candidate {
            Candidate::Member(id) => format!("member/{id}"),
            Candidate::Unit(id) => format!("unit/{id}"),
        };
        let score = e.eligibility.score.map(|(n, d)| format!("{n}/{d}")).unwrap_or_default();
        hasher.update(format!("{id}\t{}\t{}\t{}\t{score}\n", e.rank, e.stars, e.held_by_quota));
    }
    hex::encode(hasher.finalize())
}

/// A published board computed again as of its position under its own policy; and, with
/// `as_of` later, the same board as the log stands then.
pub fn board_at(
    model: &ReadModel,
    published: &BoardPublished,
    as_of: &AsOf,
) -> Result<(Policy, StarBoard), EligibilityError> {
    let policy = published_policy(published).map_err(EligibilityError::Policy)?;
    let board = star_board(model, &policy, &board_scope(&published.scope), published.half_year, as_of)?;
    Ok((policy, board))
}

/// Where one member or unit stands differently on a published board and on the same
/// board now.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct BoardDifference {
    pub candidate: Candidate,
    /// Rank and stars as published, `None` when not on it then.
    pub published: Option<(usize, usize)>,
    /// Rank and stars now, `None` when no longer on it.
    pub current: Option<(usize, usize)>,
}

/// The differences between `published` and `current`, in the published order, then
/// those new on the current board.
pub fn differences(published: &StarBoard, current: &StarBoard) -> Vec<BoardDifference> {
    let standing = |board: &StarBoard| -> std::collections::HashMap<Candidate, (usize, usize)> {
        board.entries.iter().map(|e| (e.eligibility.candidate, (e.rank, e.stars))).collect()
    };
    let (before, now) = (standing(published), standing(current));
    let changed = |c: &Candidate| before.get(c) != now.get(c);
    let candidates = published.entries.iter().chain(&current.entries).map(|e| e.eligibility.candidate);
    let mut seen = std::collections::HashSet::new();
    candidates
        .filter(|c| seen.insert(*c) && changed(c))
        .map(|c| BoardDifference { candidate: c, published: before.get(&c).copied(), current: now.get(&c).copied() })
        .collect()
}

fn text(value: &str) -> Text {
    Text::parse("evidence", value).unwrap_or_else(|_| {
        let short: String = value.chars().take(Text::MAX_CHARS).collect();
        Text::parse("evidence", &short).unwrap_or_else(|_| Text::parse("evidence", "-").expect("a dash is a text"))
    })
}

/// The evidence a board gives for `award` to `candidate`: its outcome and score on the
/// board, the criteria of the award's level (every star's with `scheme = "count"`) and
/// of each cap and veto that held; `None` when the candidate is not on the board.
fn evidence(
    board_id: BoardId,
    published: &BoardPublished,
    policy: &Policy,
    board: &StarBoard,
    award: &Award,
    candidate: Candidate,
) -> Option<Evidence> {
    let entry = board.entries.iter().find(|e| e.eligibility.candidate == candidate)?;
    let assessed = &entry.eligibility;
    let levels: Vec<&LevelResult> = match policy.scheme {
        Scheme::Count => assessed.levels.iter().collect(),
        Scheme::Highest => assessed.levels.iter().filter(|l| l.name == award.at_least).collect(),
    };
    let held = assessed.caps.iter().chain(&assessed.vetoes).filter(|l| l.met);
    let criteria = levels
        .into_iter()
        .chain(held)
        .flat_map(|l| {
            l.criteria.iter().map(|c| EvidenceCriterion {
                part: text(&l.name),
                metric: text(c.metric),
                required: text(&c.required),
                actual: (c.actual != "unknown").then(|| text(&c.actual)),
                met: c.met,
            })
        })
        .collect();
    Some(Evidence {
        board: board_id,
        as_of: published.as_of,
        policy_digest: published.policy_digest.clone(),
        required: text(&award.at_least),
        outcome: policy.outcome_of(entry.stars).map(|o| text(&o)),
        score: assessed.score.map(|(n, d)| text(&crate::evaluations::show_fraction(n, d))),
        criteria,
        holds: entry.stars >= policy.rank_of(Some(&award.at_least)),
    })
}

/// The record of publishing `board`, computed under `policy` over `scope`.
pub fn publication(
    board_id: BoardId,
    name: Text,
    scope: RoundScope,
    policy: &Policy,
    board: &StarBoard,
) -> BoardPublished {
    let (policy_document, policy_digest) = policy_document(policy);
    BoardPublished {
        board: board_id,
        name,
        half_year: board.half_year,
        scope,
        policy: text(&policy.name),
        policy_version: policy.version,
        policy_document,
        policy_digest: text(&policy_digest),
        as_of: board.as_of_position,
        entries: board.entries.len() as u32,
        digest: text(&board_digest(board)),
    }
}

/// A decided recognition checked again against the log.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct RecognitionCheck {
    pub recognition: RecognitionId,
    /// The board computed again at its position gives the same evidence.
    pub reproduced: bool,
    /// The same board as the log stands now still gives enough for the award.
    pub holds_now: bool,
    /// The evidence as the log stands now; `None` when the nominee is off the board.
    pub now: Option<Evidence>,
}

/// Every decided, unrevoked recognition as of `as_of`, its evidence computed again
/// from its board at the board's position and at `as_of`: those whose evidence no
/// longer holds were weakened by later corrections. Each board is computed twice, once
/// for all its recognitions.
pub fn check_recognitions(model: &ReadModel, as_of: &AsOf) -> Result<Vec<RecognitionCheck>, EligibilityError> {
    let as_of = as_of.pinned(model);
    let position = as_of.position(model);
    let mut boards: std::collections::HashMap<BoardId, (Policy, StarBoard, StarBoard)> = Default::default();
    let mut checks = Vec::new();
    for record in model.recognitions.values().filter_map(|r| r.at(position)) {
        let Some(decision) = record.decision.as_ref().filter(|_| record.revoked.is_none()) else { continue };
        let board_id = decision.evidence.board;
        let Some(published) = model.boards.get(&board_id) else { continue };
        let (policy, then, now) = match boards.entry(board_id) {
            std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::hash_map::Entry::Vacant(new) => {
                let (policy, then) =
                    board_at(model, &published.published, &AsOf::at_position(published.published.as_of))?;
                let (_, now) = board_at(model, &published.published, &as_of)?;
                new.insert((policy, then, now))
            }
        };
        let again = evidence_for(&published.published, policy, then, &record.nominated).ok();
        let current = evidence_for(&published.published, policy, now, &record.nominated).ok();
        checks.push(RecognitionCheck {
            recognition: record.nominated.recognition,
            reproduced: again.as_ref() == Some(&decision.evidence),
            holds_now: current.as_ref().is_some_and(|e| e.holds),
            now: current,
        });
    }
    Ok(checks)
}

/// The member or unit a nomination names, as boards list them.
pub fn candidate_of(nominee: Rated) -> Candidate {
    match nominee {
        Rated::Member(id) => Candidate::Member(id),
        Rated::Unit(id) => Candidate::Unit(id),
    }
}

/// The evidence `board` (published as `published`, computed again under `policy`) gives
/// for `nominated`; why there is none: the board's policy does not declare the award,
/// or the nominee is not on the board.
pub fn evidence_for(
    published: &BoardPublished,
    policy: &Policy,
    board: &StarBoard,
    nominated: &RecognitionNominated,
) -> Result<Evidence, String> {
    let award = policy.awards.iter().find(|a| a.name == nominated.award.as_str()).ok_or_else(|| {
        format!("board {} applies {}, which declares no award {}", published.board, policy.name, nominated.award)
    })?;
    evidence(published.board, published, policy, board, award, candidate_of(nominated.nominee))
        .ok_or_else(|| format!("{} is not on board {}", nominated.nominee, published.board))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicySet;

    #[test]
    fn every_built_in_policy_reads_back_from_its_recorded_text() {
        for policy in PolicySet::built_in().iter() {
            let (text, digest) = policy_document(policy);
            let published = BoardPublished {
                board: BoardId::new(),
                name: Text::parse("name", "榜").unwrap(),
                half_year: HalfYear { year: 2011, half: 1 },
                scope: RoundScope::All,
                policy: Text::parse("policy", &policy.name).unwrap(),
                policy_version: policy.version,
                policy_document: text,
                policy_digest: Text::parse("digest", &digest).unwrap(),
                as_of: 1,
                entries: 0,
                digest: Text::parse("digest", "0").unwrap(),
            };
            assert_eq!(&published_policy(&published).unwrap(), policy, "{}", policy.name);
        }
        // A bound with decimals too.
        let text = "name = \"p\"\nversion = 1\ntitle = \"t\"\nsubject = \"member\"\n\
                    [[levels]]\nname = \"1\"\ncriteria = [{ metric = \"verified_hours\", at_least = 2.5 }]\n";
        let policy = Policy::parse("p.toml", text).unwrap();
        let (again, _) = policy_document(&policy);
        assert_eq!(serde_json::from_str::<Policy>(&again).unwrap(), policy);
    }
}
