//! Eligibility: a policy applied to a member or a unit for a period, as of a moment,
//! with the evidence for every criterion: required, actual, the events that counted and
//! those excluded, with why.

use std::rc::Rc;

use serde::Serialize;
use taizhang_core::*;
use taizhang_store::Position;
use time::Date;

use crate::evaluations::{show_fraction, EvaluationHistory, Tally};
use crate::policy::{show_hundredths, Cap, Criterion, Level, Metric, Policy, Scheme, Subject, Window};
use crate::{AsOf, ReadModel};

/// Who is being assessed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub enum Candidate {
    Member(MemberId),
    Unit(UnitId),
}

/// An outing that counted toward a criterion.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Counted {
    pub outing: OutingId,
    pub date: Date,
    pub minutes: u64,
    /// The log position of the outing's version that was used.
    pub position: Position,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Excluded {
    pub outing: OutingId,
    pub date: Date,
    pub reason: String,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct CriterionResult {
    pub metric: &'static str,
    /// The bounds, as written in the policy (e.g. "≥ 100.00").
    pub required: String,
    /// The value found, with two decimals, or "unknown".
    pub actual: String,
    pub met: bool,
    pub counted: Vec<Counted>,
    pub excluded: Vec<Excluded>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct LevelResult {
    pub name: String,
    pub label: Option<String>,
    pub met: bool,
    pub criteria: Vec<CriterionResult>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Eligibility {
    pub policy: String,
    pub policy_version: u32,
    pub candidate: Candidate,
    pub period: Period,
    /// The log position the decision was computed at: quote it to reproduce it.
    pub as_of_position: Position,
    /// The highest level met (the last in the policy's order), or with `scheme =
    /// "count"` the number of levels met; after the caps that hold, and none when a veto
    /// holds or nothing is met.
    pub outcome: Option<String>,
    /// The weighted score as an exact fraction, when the policy has `[[weighted]]`
    /// parts and all are known.
    pub score: Option<(i128, i128)>,
    /// Each level with its criteria; empty, with `caps` and `vetoes`, when assessed for
    /// the outcome only ([`standing`]).
    pub levels: Vec<LevelResult>,
    /// Each cap of the policy; `met`: it holds, and limits the outcome.
    pub caps: Vec<LevelResult>,
    /// Each veto of the policy; `met`: it holds, and no level is awarded.
    pub vetoes: Vec<LevelResult>,
}

/// Why eligibility could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EligibilityError {
    #[error("policy {policy} assesses {expected}s")]
    WrongSubject { policy: String, expected: &'static str },
    #[error("{0:?} did not exist at the as-of position")]
    NotFound(Candidate),
    /// A policy recorded in the log that no longer reads (a published board's).
    #[error("{0}")]
    Policy(String),
}

/// What the read model cannot know, supplied by the caller: a member's birth date is
/// sealed personal data, opened (or found erased) by whoever holds the keys.
pub trait PersonalFacts {
    fn birth_date(&self, member: MemberId) -> Option<Date>;
}

impl<F: Fn(MemberId) -> Option<Date>> PersonalFacts for F {
    fn birth_date(&self, member: MemberId) -> Option<Date> {
        self(member)
    }
}

/// A value compared exactly: `numerator / denominator`.
#[derive(Clone, Copy, Debug)]
struct Value {
    numerator: i128,
    denominator: i128,
}

impl Value {
    fn new(numerator: i128, denominator: i128) -> Self {
        Self { numerator, denominator: denominator.max(1) }
    }

    /// Compares with a bound written in hundredths.
    fn cmp_hundredths(self, hundredths: i64) -> std::cmp::Ordering {
        (self.numerator * 100).cmp(&(hundredths as i128 * self.denominator))
    }

    fn show(self) -> String {
        show_fraction(self.numerator, self.denominator)
    }

    fn plus(self, other: Value) -> Value {
        Value::new(
            self.numerator * other.denominator + other.numerator * self.denominator,
            self.denominator * other.denominator,
        )
    }

    /// This value times `numerator / denominator`.
    fn times(self, numerator: i128, denominator: i128) -> Value {
        Value::new(self.numerator * numerator, self.denominator * denominator)
    }
}

/// Applies `policy` to `candidate` over `period`, as of `as_of`.
pub fn eligibility(
    model: &ReadModel,
    policy: &Policy,
    candidate: Candidate,
    period: Period,
    as_of: &AsOf,
    personal: &dyn PersonalFacts,
) -> Result<Eligibility, EligibilityError> {
    assess(model, policy, candidate, period, as_of, personal, true)
}

/// [`eligibility`]'s outcome and score alone, without the explanation (`levels`, `caps`
/// and `vetoes` left empty, no outing listed, no text written): what a board needs of
/// every candidate but those it shows. The same measures and the same rules decide it.
pub fn standing(
    model: &ReadModel,
    policy: &Policy,
    candidate: Candidate,
    period: Period,
    as_of: &AsOf,
    personal: &dyn PersonalFacts,
) -> Result<Eligibility, EligibilityError> {
    assess(model, policy, candidate, period, as_of, personal, false)
}

fn assess(
    model: &ReadModel,
    policy: &Policy,
    candidate: Candidate,
    period: Period,
    as_of: &AsOf,
    personal: &dyn PersonalFacts,
    explain: bool,
) -> Result<Eligibility, EligibilityError> {
    let position = as_of.position(model);
    let exists = match candidate {
        Candidate::Member(m) => {
            if policy.subject != Subject::Member {
                return Err(EligibilityError::WrongSubject { policy: policy.name.clone(), expected: "unit" });
            }
            model.members.get(&m).is_some_and(|h| h.registered_by(position))
        }
        Candidate::Unit(u) => {
            if policy.subject != Subject::Unit {
                return Err(EligibilityError::WrongSubject { policy: policy.name.clone(), expected: "member" });
            }
            model.unit(u, position).is_some()
        }
    };
    if !exists {
        return Err(EligibilityError::NotFound(candidate));
    }
    let assessor = Assessor {
        model,
        policy,
        candidate,
        period,
        as_of,
        position,
        personal,
        explain,
        measured: Default::default(),
        tally: Default::default(),
    };
    let (levels, caps, vetoes, rank) = if explain {
        let rule = |name: &str, label: &Option<String>, criteria: &[Criterion]| {
            let criteria: Vec<CriterionResult> = criteria.iter().map(|c| assessor.criterion(c)).collect();
            LevelResult { name: name.to_owned(), label: label.clone(), met: criteria.iter().all(|c| c.met), criteria }
        };
        let of_level = |l: &Level| rule(&l.name, &l.label, &l.criteria);
        let levels: Vec<LevelResult> = policy.levels.iter().map(of_level).collect();
        let vetoes: Vec<LevelResult> = policy.vetoes.iter().map(of_level).collect();
        let caps: Vec<LevelResult> = policy.caps.iter().map(|c: &Cap| rule(&c.name, &c.label, &c.criteria)).collect();
        let met = |rules: &[LevelResult]| rules.iter().map(|r| r.met).collect::<Vec<_>>();
        let rank = outcome_rank(policy, &met(&levels), &met(&caps), vetoes.iter().any(|v| v.met));
        (levels, caps, vetoes, rank)
    } else {
        let holds = |criteria: &[Criterion]| criteria.iter().all(|c| assessor.holds(c));
        let levels: Vec<bool> = policy.levels.iter().map(|l| holds(&l.criteria)).collect();
        let caps: Vec<bool> = policy.caps.iter().map(|c| holds(&c.criteria)).collect();
        let vetoed = policy.vetoes.iter().any(|v| holds(&v.criteria));
        (vec![], vec![], vec![], outcome_rank(policy, &levels, &caps, vetoed))
    };
    let score = (!policy.weighted.is_empty()).then(|| assessor.value(Metric::WeightedScore)).flatten();
    Ok(Eligibility {
        policy: policy.name.clone(),
        policy_version: policy.version,
        candidate,
        period,
        as_of_position: position,
        outcome: policy.outcome_of(rank),
        score: score.map(|v| (v.numerator, v.denominator)),
        levels,
        caps,
        vetoes,
    })
}

/// The outcome as a rank, from which levels and caps are met and whether a veto holds:
/// the place of the highest level met (counting from 1) or the stars lit, then the
/// lowest of the caps that hold, then nothing when vetoed.
fn outcome_rank(policy: &Policy, levels: &[bool], caps: &[bool], vetoed: bool) -> usize {
    let mut rank = match policy.scheme {
        Scheme::Highest => levels.iter().rposition(|met| *met).map_or(0, |i| i + 1),
        Scheme::Count => levels.iter().filter(|met| **met).count(),
    };
    for (cap, met) in policy.caps.iter().zip(caps) {
        if *met {
            rank = rank.min(policy.rank_of(Some(&cap.at_most)));
        }
    }
    if vetoed {
        0
    } else {
        rank
    }
}

/// The award list: every member of `scope`'s units on the period's last day, as known
/// at the as-of position, with their eligibility under `policy`, in unit then member
/// order.
pub fn award_list(
    model: &ReadModel,
    policy: &Policy,
    scope: &crate::report::Scope,
    period: Period,
    as_of: &AsOf,
    personal: &dyn PersonalFacts,
) -> Result<Vec<Eligibility>, EligibilityError> {
    award_list_of(model, policy, &award_members(model, scope, period, as_of), period, as_of, personal)
}

/// [`award_list`] for the given members (a part of [`award_members`], so that parts can
/// be computed side by side).
pub fn award_list_of(
    model: &ReadModel,
    policy: &Policy,
    members: &[MemberId],
    period: Period,
    as_of: &AsOf,
    personal: &dyn PersonalFacts,
) -> Result<Vec<Eligibility>, EligibilityError> {
    members
        .iter()
        .map(|&member| eligibility(model, policy, Candidate::Member(member), period, as_of, personal))
        .collect()
}

/// Which entries of an award list to keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwardFilter {
    /// Keep only those who met some level (`Some(true)`) or none (`Some(false)`).
    pub met: Option<bool>,
    /// Keep only those whose highest level met is this one.
    pub level: Option<String>,
}

impl AwardFilter {
    pub fn is_empty(&self) -> bool {
        self.met.is_none() && self.level.is_none()
    }

    pub fn admits(&self, e: &Eligibility) -> bool {
        self.met.is_none_or(|met| e.outcome.is_some() == met)
            && self.level.as_ref().is_none_or(|level| e.outcome.as_ref() == Some(level))
    }
}

/// Members assessed per hold of the model's lock, some milliseconds of work: the
/// projector's writes, and the reads queued behind them, wait at most that long for an
/// award list.
pub const AWARD_MEMBERS_PER_SLICE: usize = 200;

/// [`award_list_of`] computed [`AWARD_MEMBERS_PER_SLICE`] members at a time, each slice
/// under the model's lock, keeping the entries `filter` admits. `as_of` must name its
/// position ([`AsOf::pinned`]) so that every slice answers for the same moment. Stops
/// early, with what it has, once `abandoned` says nobody waits for the answer.
#[allow(clippy::too_many_arguments)]
pub fn award_list_in_slices<S: taizhang_store::EventStore>(
    projector: &crate::Projector<S>,
    policy: &Policy,
    members: &[MemberId],
    period: Period,
    as_of: &AsOf,
    personal: &dyn PersonalFacts,
    filter: &AwardFilter,
    abandoned: &dyn Fn() -> bool,
) -> Result<Vec<Eligibility>, EligibilityError> {
    debug_assert!(as_of.position.is_some(), "an award list answers for one position");
    let mut list = Vec::new();
    for slice in members.chunks(AWARD_MEMBERS_PER_SLICE) {
        if abandoned() {
            break;
        }
        let assessed = projector.read(|m| award_list_of(m, policy, slice, period, as_of, personal))?;
        list.extend(assessed.into_iter().filter(|e| filter.admits(e)));
    }
    Ok(list)
}

/// The members an award list covers: those of `scope`'s units on the period's last day,
/// as known at the as-of position, in unit then member order.
pub fn award_members(model: &ReadModel, scope: &crate::report::Scope, period: Period, as_of: &AsOf) -> Vec<MemberId> {
    let position = as_of.position(model);
    crate::report::units_in_scope(model, scope, position)
        .into_iter()
        .flat_map(|unit| model.members_of(unit, period.last, position).collect::<Vec<_>>())
        .collect()
}

/// Why an outing did not count toward a criterion.
enum Exclusion {
    Voided,
    NoLongerParticipant,
    OutsideWindow,
    OutsideBounds,
    Unverified,
    HonourOnly,
}

impl Exclusion {
    /// The reason as an explanation gives it; `window` describes the criterion's window.
    fn text(&self, window: impl FnOnce() -> String) -> String {
        match self {
            Exclusion::Voided => "voided".to_owned(),
            Exclusion::NoLongerParticipant => "no longer a participant after a correction".to_owned(),
            Exclusion::OutsideWindow => format!("outside the window ({})", window()),
            Exclusion::OutsideBounds => "outside the occurred-at bounds of the query".to_owned(),
            Exclusion::Unverified => "unverified".to_owned(),
            Exclusion::HonourOnly => "honour hours only (entered by a clerk, not from check-in)".to_owned(),
        }
    }
}

struct Assessor<'a> {
    model: &'a ReadModel,
    policy: &'a Policy,
    candidate: Candidate,
    period: Period,
    as_of: &'a AsOf,
    position: Position,
    personal: &'a dyn PersonalFacts,
    /// Whether the outings left out are listed with their reasons (else only what
    /// counted is kept: the measures need nothing else).
    explain: bool,
    /// What each metric over each window measured: levels often ask the same (five
    /// star levels, one metric), and it is measured once.
    measured: std::cell::RefCell<Vec<(MeasureKey, Rc<Measured>)>>,
    /// The candidate's ballots, counted once for the metrics that read them.
    tally: std::cell::OnceCell<Tally>,
}

/// A measure, with the outings counted and left out.
type Measured = (Option<Value>, Vec<Counted>, Vec<Excluded>);

/// What is measured once per candidate: a metric over a window.
type MeasureKey = (Metric, Window);

impl<'a> Assessor<'a> {
    /// What `c`'s metric over its window measures, measured once per candidate.
    fn measured(&self, c: &Criterion) -> Rc<Measured> {
        let key = (c.metric, c.window);
        let cached = self.measured.borrow().iter().find(|(k, _)| *k == key).map(|(_, m)| m.clone());
        cached.unwrap_or_else(|| {
            let measured = Rc::new(self.measure(c));
            self.measured.borrow_mut().push((key, measured.clone()));
            measured
        })
    }

    /// The value of `metric` over the whole record (the window all).
    fn value(&self, metric: Metric) -> Option<Value> {
        let whole = Criterion { metric, window: Window::All, at_least: None, at_most: None, below: None };
        self.measured(&whole).0
    }

    /// Whether `c` holds: its value is known and within every bound.
    fn holds(&self, c: &Criterion) -> bool {
        let Some(v) = self.measured(c).0 else { return false };
        use std::cmp::Ordering::*;
        c.at_least.is_none_or(|b| v.cmp_hundredths(b) != Less)
            && c.at_most.is_none_or(|b| v.cmp_hundredths(b) != Greater)
            && c.below.is_none_or(|b| v.cmp_hundredths(b) == Less)
    }

    fn criterion(&self, c: &Criterion) -> CriterionResult {
        let measured = self.measured(c);
        let (value, counted, excluded) = (measured.0, measured.1.clone(), measured.2.clone());
        let met = self.holds(c);
        let mut required = Vec::new();
        if let Some(b) = c.at_least {
            required.push(format!("≥ {}", show_hundredths(b)));
        }
        if let Some(b) = c.at_most {
            required.push(format!("≤ {}", show_hundredths(b)));
        }
        if let Some(b) = c.below {
            required.push(format!("< {}", show_hundredths(b)));
        }
        CriterionResult {
            metric: c.metric.name(),
            required: required.join(" and "),
            actual: value.map_or_else(|| "unknown".to_owned(), Value::show),
            met,
            counted,
            excluded,
        }
    }

    /// The first date the window counts (the last is the period's last day).
    fn window_start(&self, window: Window) -> Option<Date> {
        match window {
            Window::All => None,
            Window::Period => Some(self.period.first),
            Window::Months(n) => {
                let last = self.period.last;
                let months = last.year() * 12 + last.month() as i32 - 1 - n as i32;
                let (year, month) = (months.div_euclid(12), months.rem_euclid(12) as u8 + 1);
                let month = time::Month::try_from(month).expect("1..=12");
                let day = last.day().min(month.length(year));
                Date::from_calendar_date(year, month, day).ok().and_then(|d| d.next_day())
            }
        }
    }

    fn measure(&self, c: &Criterion) -> Measured {
        match c.metric {
            Metric::VerifiedHours | Metric::CreditHours | Metric::RecordedHours | Metric::VerifiedOutings => {
                let (counted, excluded) = self.outings(c);
                let value = if c.metric == Metric::VerifiedOutings {
                    Value::new(counted.len() as i128, 1)
                } else {
                    Value::new(counted.iter().map(|o| o.minutes as i128).sum(), 60)
                };
                (Some(value), counted, excluded)
            }
            Metric::Age => {
                let Candidate::Member(member) = self.candidate else { return (None, vec![], vec![]) };
                let age = self.personal.birth_date(member).map(|born| {
                    let on = self.period.last;
                    let mut years = on.year() - born.year();
                    if (on.month() as u8, on.day()) < (born.month() as u8, born.day()) {
                        years -= 1;
                    }
                    Value::new(years as i128, 1)
                });
                (age, vec![], vec![])
            }
            Metric::EvaluationScore | Metric::PublicScore | Metric::LeaderScore => {
                let Candidate::Member(member) = self.candidate else { return (None, vec![], vec![]) };
                let half = HalfYear::containing(self.period.last);
                let evaluation = self.model.members.get(&member).and_then(|h| h.evaluation(half, self.position));
                let value = evaluation.map(|e| {
                    let (p, l) = (e.public_score.get() as i128, e.leader_score.get() as i128);
                    match c.metric {
                        Metric::PublicScore => Value::new(p, 1),
                        Metric::LeaderScore => Value::new(l, 1),
                        _ => {
                            let w = self.policy.evaluation.expect("checked at load");
                            Value::new(p * w.public_weight as i128 + l * w.leader_weight as i128, 100)
                        }
                    }
                });
                (value, vec![], vec![])
            }
            Metric::PublicSatisfaction | Metric::Ballots | Metric::DissatisfiedBallots => {
                let tally = self.tally();
                let value = match c.metric {
                    Metric::Ballots => Some(Value::new(tally.cast().into(), 1)),
                    Metric::DissatisfiedBallots => Some(Value::new(tally.dissatisfied.into(), 1)),
                    _ => {
                        let points = self.policy.satisfaction.unwrap_or_default();
                        tally.points(&points).map(|(sum, rated)| Value::new(sum, rated))
                    }
                };
                (value, vec![], vec![])
            }
            Metric::LeaderReview => {
                let rated = self.rated();
                let latest = self
                    .evaluations()
                    .filter_map(|e| e.review_at(rated, self.position))
                    .max_by_key(|r| r.position)
                    .map(|r| Value::new(r.score.get().into(), 1));
                (latest, vec![], vec![])
            }
            Metric::WeightedScore => {
                // Each part over the whole record, added as exact fractions.
                let mut sum = Some(Value::new(0, 1));
                for part in &self.policy.weighted {
                    let value = self.value(part.metric);
                    sum = sum.zip(value).map(|(s, v)| s.plus(v.times(part.weight.into(), 100)));
                }
                (sum, vec![], vec![])
            }
            Metric::ParticipationRate => {
                let Candidate::Unit(unit) = self.candidate else { return (None, vec![], vec![]) };
                let (counted, excluded) = self.outings(c);
                let mut volunteers = std::collections::BTreeSet::new();
                for o in &counted {
                    if let Some(view) = self.model.outing(o.outing, self.position) {
                        volunteers.extend(view.participants().map(|p| p.member));
                    }
                }
                let members = self.model.members_of(unit, self.period.last, self.position).count() as i128;
                let value = (members > 0).then(|| Value::new(volunteers.len() as i128 * 100, members));
                (value, counted, excluded)
            }
            Metric::CommitmentsKeptPercent => {
                let start = self.window_start(c.window);
                let (mut assessed, mut kept) = (0i128, 0i128);
                for commitment in self.commitments() {
                    let Some(version) = commitment.at(self.position) else { continue };
                    let term = &version.content;
                    let in_window = term.from <= self.period.last && start.is_none_or(|s| term.until >= s);
                    let Some(finding) = version.assessment.as_ref().filter(|_| in_window) else { continue };
                    if version.withdrawn.is_none() {
                        assessed += 1;
                        kept += i128::from(finding.fulfilment == Fulfilment::Kept);
                    }
                }
                ((assessed > 0).then(|| Value::new(kept * 100, assessed)), vec![], vec![])
            }
            Metric::WeeklySummaries => {
                let Candidate::Unit(unit) = self.candidate else { return (None, vec![], vec![]) };
                let last = IsoWeek::containing(self.period.last);
                let first = self.window_start(c.window).map(IsoWeek::containing);
                let submitted = self
                    .model
                    .unit_summaries(unit)
                    .filter(|s| s.week <= last && first.is_none_or(|f| s.week >= f))
                    .filter(|s| s.at(self.position).is_some())
                    .count();
                (Some(Value::new(submitted as i128, 1)), vec![], vec![])
            }
        }
    }

    /// The candidate as evaluations rate them.
    fn rated(&self) -> Rated {
        match self.candidate {
            Candidate::Member(m) => Rated::Member(m),
            Candidate::Unit(u) => Rated::Unit(u),
        }
    }

    /// The evaluations of the candidate's kind for the half-year that holds the
    /// period's last day, opened by the as-of position.
    fn evaluations(&self) -> impl Iterator<Item = &'a EvaluationHistory> + '_ {
        let (half, subject) = (HalfYear::containing(self.period.last), self.rated().subject());
        let position = self.position;
        self.model
            .evaluations
            .values()
            .filter(move |e| e.half_year == half && e.subject == subject && e.opened_at <= position)
    }

    /// The ballots rating the candidate in those evaluations, cast by the as-of
    /// position.
    fn tally(&self) -> Tally {
        *self.tally.get_or_init(|| {
            let rated = self.rated();
            let mut tally = Tally::default();
            for evaluation in self.evaluations() {
                tally.merge(evaluation.tally(rated, self.position));
            }
            tally
        })
    }

    /// The candidate's commitments: a member's own, or every item of a unit (its
    /// members' included).
    fn commitments(&self) -> impl Iterator<Item = &crate::CommitmentHistory> + '_ {
        let (units, member): (Vec<UnitId>, Option<MemberId>) = match self.candidate {
            Candidate::Unit(u) => (vec![u], None),
            Candidate::Member(m) => {
                let mut units: Vec<UnitId> = self
                    .model
                    .members
                    .get(&m)
                    .map(|h| h.memberships.iter().map(|s| s.unit).collect())
                    .unwrap_or_default();
                units.sort();
                units.dedup();
                (units, Some(m))
            }
        };
        units
            .into_iter()
            .flat_map(move |u| self.model.unit_commitments(u).iter())
            .filter_map(move |id| self.model.commitments.get(id))
            .filter(move |c| member.is_none_or(|m| c.member == Some(m)))
    }

    /// The candidate's outings, sorted into counted and excluded for criterion `c`.
    fn outings(&self, c: &Criterion) -> (Vec<Counted>, Vec<Excluded>) {
        let (numbers, member) = match self.candidate {
            Candidate::Member(m) => (self.model.member_outings(m), Some(m)),
            Candidate::Unit(u) => (self.model.unit_outings(u), None),
        };
        let verified_only = matches!(c.metric, Metric::VerifiedHours | Metric::CreditHours | Metric::VerifiedOutings);
        let credit_only = c.metric == Metric::CreditHours;
        let start = self.window_start(c.window);
        let mut counted = Vec::new();
        let mut excluded = Vec::new();
        for number in numbers {
            // An outing recorded after the as-of position did not exist then; naming it
            // would leak what was not yet known.
            let Some(view) = self.model.outing_by_number(*number, self.position) else { continue };
            let id = view.id;
            let date = view.date();
            let exclude = |reason: String| Excluded { outing: id, date, reason };
            let minutes = match (member, credit_only) {
                (Some(m), false) => view.minutes_of(m).map(|x| x.get() as u64),
                (Some(m), true) => view.minutes_of(m).map(|x| if view.credited(m) { x.get() as u64 } else { 0 }),
                (None, false) => Some(view.total_minutes()),
                (None, true) => Some(view.credited_minutes()),
            };
            // Listed only by a later amendment: at the as-of position the member had
            // nothing to do with this outing.
            if !member.is_none_or(|m| view.ever_listed(m)) {
                continue;
            }
            let reason = if view.voided {
                Some(Exclusion::Voided)
            } else if minutes.is_none() {
                Some(Exclusion::NoLongerParticipant)
            } else if date > self.period.last || start.is_some_and(|s| date < s) {
                Some(Exclusion::OutsideWindow)
            } else if !self.as_of.admits_date(date) {
                Some(Exclusion::OutsideBounds)
            } else if verified_only && !view.verified {
                Some(Exclusion::Unverified)
            } else if credit_only && minutes == Some(0) {
                Some(Exclusion::HonourOnly)
            } else {
                None
            };
            match reason {
                Some(r) if self.explain => excluded.push(exclude(r.text(|| self.window_text(c.window)))),
                Some(_) => {}
                None => counted.push(Counted {
                    outing: id,
                    date,
                    minutes: minutes.unwrap_or(0),
                    position: view.last_position(),
                }),
            }
        }
        (counted, excluded)
    }

    fn window_text(&self, window: Window) -> String {
        match (window, self.window_start(window)) {
            (_, Some(start)) => format!("{start} to {}", self.period.last),
            _ => format!("up to {}", self.period.last),
        }
    }
}
