//! Half-year evaluations as read: each evaluation's ballots and leaders' reviews by
//! whom they rate, and the tally of the public's ballots as of any log position.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use taizhang_core::*;
use taizhang_store::Position;

/// An evaluation: what it rates, when it was opened and closed, and what it took.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EvaluationHistory {
    pub name: Text,
    pub half_year: HalfYear,
    pub subject: EvaluationSubject,
    pub scope: RoundScope,
    pub opened_at: Position,
    pub opened_by: Actor,
    pub closed_at: Option<Position>,
    /// The ballots rating each member or unit, in the order cast: what a tally counts,
    /// kept beside each one's id so that counting reads no other map.
    pub ballots: BTreeMap<Rated, Vec<BallotMark>>,
    /// The leaders' reviews of each member or unit, in the order recorded: the latest
    /// one known at a position is the review then.
    pub reviews: BTreeMap<Rated, Vec<LeaderReview>>,
}

/// A ballot as a tally counts it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BallotMark {
    pub position: Position,
    pub rating: Option<Rating>,
    pub ballot: BallotId,
}

/// One ballot as cast.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BallotRecord {
    pub position: Position,
    pub evaluation: EvaluationId,
    pub rated: Rated,
    /// The unit rated, or the member's unit when the ballot was cast.
    pub unit: UnitId,
    pub voter: Voter,
    pub rating: Option<Rating>,
    pub scores: Vec<CriterionScore>,
    pub comment: Option<Text>,
    /// Who entered it.
    pub by: Actor,
}

/// The leaders' review of one member or unit.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LeaderReview {
    pub position: Position,
    pub score: Score,
    pub comment: Option<Text>,
    pub by: Actor,
}

/// How the ballots cast by a position rate one member or unit.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Tally {
    /// 满意
    pub satisfied: u32,
    /// 基本满意
    pub fairly_satisfied: u32,
    /// 不满意
    pub dissatisfied: u32,
    /// 不了解: cast, but left out of satisfaction.
    pub dont_know: u32,
}

impl Tally {
    pub fn add(&mut self, rating: Option<Rating>) {
        let count = match rating {
            Some(Rating::Satisfied) => &mut self.satisfied,
            Some(Rating::FairlySatisfied) => &mut self.fairly_satisfied,
            Some(Rating::Dissatisfied) => &mut self.dissatisfied,
            None => &mut self.dont_know,
        };
        *count += 1;
    }

    /// Every ballot cast.
    pub fn cast(&self) -> u32 {
        self.rated() + self.dont_know
    }

    /// The ballots that rate (all but "don't know").
    pub fn rated(&self) -> u32 {
        self.satisfied + self.fairly_satisfied + self.dissatisfied
    }

    /// Adds the ballots of `other`.
    pub fn merge(&mut self, other: Tally) {
        self.satisfied += other.satisfied;
        self.fairly_satisfied += other.fairly_satisfied;
        self.dissatisfied += other.dissatisfied;
        self.dont_know += other.dont_know;
    }

    /// Satisfaction as an exact fraction (the sum of the rating ballots' points under
    /// `points`, over their number: "don't know" left out); `None` with no rating
    /// ballot.
    pub fn points(&self, points: &SatisfactionPoints) -> Option<(i128, i128)> {
        let rated = i128::from(self.rated());
        let sum = i128::from(self.satisfied) * i128::from(points.satisfied)
            + i128::from(self.fairly_satisfied) * i128::from(points.fairly_satisfied)
            + i128::from(self.dissatisfied) * i128::from(points.dissatisfied);
        (rated > 0).then_some((sum, rated))
    }

    /// Satisfaction as people read it, to two decimals: `66.67`.
    pub fn satisfaction(&self, points: &SatisfactionPoints) -> Option<String> {
        self.points(points).map(|(sum, rated)| show_fraction(sum, rated))
    }
}

/// `numerator / denominator` (a positive denominator) to two decimals, rounded half
/// away from zero: how every measured value is shown.
pub fn show_fraction(numerator: i128, denominator: i128) -> String {
    let denominator = denominator.max(1);
    let hundredths = (numerator * 200 + numerator.signum() * denominator) / (denominator * 2);
    let sign = if hundredths < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", (hundredths / 100).abs(), (hundredths % 100).abs())
}

/// The points each rating is worth in the satisfaction formula (满意 100, 基本满意 70,
/// 不满意 30 by common practice; "don't know" is left out).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SatisfactionPoints {
    pub satisfied: u8,
    pub fairly_satisfied: u8,
    pub dissatisfied: u8,
}

impl Default for SatisfactionPoints {
    fn default() -> Self {
        Self { satisfied: 100, fairly_satisfied: 70, dissatisfied: 30 }
    }
}

impl EvaluationHistory {
    pub(crate) fn opened(e: &EvaluationOpened, position: Position, by: Actor) -> Self {
        Self {
            name: e.name.clone(),
            half_year: e.half_year,
            subject: e.subject,
            scope: e.scope.clone(),
            opened_at: position,
            opened_by: by,
            closed_at: None,
            ballots: BTreeMap::new(),
            reviews: BTreeMap::new(),
        }
    }

    /// Whether the evaluation was closed by `as_of`.
    pub fn closed_by(&self, as_of: Position) -> bool {
        self.closed_at.is_some_and(|p| p <= as_of)
    }

    /// The leaders' review of `rated` as of `as_of`, if there was one by then.
    pub fn review_at(&self, rated: Rated, as_of: Position) -> Option<&LeaderReview> {
        self.reviews.get(&rated)?.iter().rev().find(|r| r.position <= as_of)
    }

    /// The ballots rating `rated` cast by `as_of`, in the order cast.
    pub fn cast_by(&self, rated: Rated, as_of: Position) -> &[BallotMark] {
        let marks = self.ballots.get(&rated).map(Vec::as_slice).unwrap_or_default();
        &marks[..marks.partition_point(|m| m.position <= as_of)]
    }

    /// How the ballots cast by `as_of` rate `rated`.
    pub fn tally(&self, rated: Rated, as_of: Position) -> Tally {
        let mut tally = Tally::default();
        for mark in self.cast_by(rated, as_of) {
            tally.add(mark.rating);
        }
        tally
    }

    /// Everyone rated by a ballot or a review as of `as_of`.
    pub fn rated_at(&self, as_of: Position) -> Vec<Rated> {
        let balloted = self.ballots.iter().filter(|(_, marks)| marks.first().is_some_and(|m| m.position <= as_of));
        let reviewed = self.reviews.iter().filter(|(_, reviews)| reviews.first().is_some_and(|r| r.position <= as_of));
        let mut rated: Vec<Rated> = balloted.map(|(r, _)| *r).chain(reviewed.map(|(r, _)| *r)).collect();
        rated.sort_unstable();
        rated.dedup();
        rated
    }
}
