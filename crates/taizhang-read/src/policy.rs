//! Policies: declarative TOML rule sets that turn ledgers into award levels.
//!
//! ```toml
//! name = "star-volunteer"        # how queries select it
//! version = 1
//! title = "Star volunteer (星级志愿者)"
//! source = "where the thresholds come from"
//! subject = "member"              # or "unit"
//!
//! [evaluation]                    # only for evaluation_score
//! public_weight = 60              # percent; the two weights add up to 100
//! leader_weight = 40
//!
//! [[levels]]                      # lowest first; the outcome is the last level met
//! name = "1"
//! label = "一星"
//! criteria = [
//!   { metric = "verified_hours", window = "all", at_least = 100 },
//! ]
//! ```
//!
//! Metrics: `verified_hours`, `credit_hours` (verified hours from check-in and
//! check-out, not entered by a clerk), `recorded_hours`, `verified_outings` (counts),
//! `age` (whole years on the period's last day), `evaluation_score`, `public_score`,
//! `leader_score` (the half-year that holds the period's last day), and, for units,
//! `participation_rate` (percent of members who served in the period). From the
//! half-year's evaluations of members or units by ballot: `public_satisfaction` (the
//! mean points of the rating ballots, `[satisfaction]` setting the points: 100, 70 and
//! 30 by default), `ballots`, `dissatisfied_ballots`, `leader_review`; and
//! `weighted_score`, the `[[weighted]]` metrics times their weights.
//!
//! `scheme = "count"` makes each level a named star and the outcome the number lit;
//! `[[caps]]` (`at_most`: a level, or a number of stars) limit the outcome while their
//! criteria hold; `[[vetoes]]` award nothing while theirs hold. `[[awards]]` declare the
//! award kinds decided on the policy's boards: `name`, `label`, `at_least` (a level, or
//! a number of stars) and `listing_days` (working days listed for objections, 5 when not
//! given). Windows:
//! `"all"` (everything up to the period's end, the default), `"period"`, or
//! `"N months"` (the N months ending on the period's last day). Bounds: `at_least`,
//! `at_most`, `below`; numbers may have up to two decimals.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use crate::evaluations::SatisfactionPoints;

/// A policy as loaded: parsed, checked, and named by the file it came from.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    pub version: u32,
    pub title: String,
    #[serde(default)]
    pub source: Option<String>,
    pub subject: Subject,
    #[serde(default)]
    pub evaluation: Option<EvaluationWeights>,
    /// How the levels make the outcome.
    #[serde(default)]
    pub scheme: Scheme,
    /// The points of each rating in `public_satisfaction` (100, 70 and 30 when not
    /// given).
    #[serde(default)]
    pub satisfaction: Option<SatisfactionPoints>,
    /// The parts of `weighted_score`, their weights adding up to 100.
    #[serde(default)]
    pub weighted: Vec<Weight>,
    pub levels: Vec<Level>,
    /// Limits on the outcome when their criteria all hold (public satisfaction below
    /// 60 % caps the result at 2 stars).
    #[serde(default)]
    pub caps: Vec<Cap>,
    /// One-vote vetoes (一票否决): when all of one's criteria hold, no level is awarded.
    #[serde(default)]
    pub vetoes: Vec<Level>,
    /// On a star board, at most this share (percent) of those on it keep the top rank
    /// (at most 10 % of organisations rated ten stars); the rest, by their score, rank
    /// one below.
    #[serde(default)]
    pub top_share_percent: Option<u8>,
    /// The awards (表彰) decided on this policy's boards: award kinds are data.
    #[serde(default)]
    pub awards: Vec<Award>,
}

/// An award kind: what a recognition of it needs on a board of its policy.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Award {
    /// How nominations name it (`post-pioneer`); unique among the loaded policies.
    pub name: String,
    /// 岗位先锋 …
    #[serde(default)]
    pub label: Option<String>,
    /// The least outcome on the board: a level's name, or with `scheme = "count"` a
    /// number of stars.
    pub at_least: String,
    /// Working days a nomination is listed for objections (公示) before it is decided.
    #[serde(default = "five_working_days")]
    pub listing_days: u8,
}

fn five_working_days() -> u8 {
    5
}

/// How a policy's levels make its outcome.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// The outcome is the last level met, in the policy's order (bands of a score).
    #[default]
    Highest,
    /// Each level is a named star lit by its own criteria; the outcome is how many are
    /// lit (服务星, 奉献星, 承诺星 …).
    Count,
}

/// One part of `weighted_score`: a metric over the whole record and its weight in
/// percent.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weight {
    pub metric: Metric,
    pub weight: u8,
}

/// A cap on the outcome: when every criterion holds, the outcome is at most `at_most`
/// (a level's name, or with `scheme = "count"` a number of stars).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cap {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    pub at_most: String,
    pub criteria: Vec<Criterion>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    Member,
    Unit,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationWeights {
    pub public_weight: u8,
    pub leader_weight: u8,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    pub criteria: Vec<Criterion>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub metric: Metric,
    #[serde(default)]
    pub window: Window,
    #[serde(default, deserialize_with = "hundredths_opt", serialize_with = "as_written")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_least: Option<i64>,
    #[serde(default, deserialize_with = "hundredths_opt", serialize_with = "as_written")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_most: Option<i64>,
    #[serde(default, deserialize_with = "hundredths_opt", serialize_with = "as_written")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub below: Option<i64>,
}

/// A bound kept in hundredths, written with two decimals: `100.00`, `2.50`.
pub fn show_hundredths(h: i64) -> String {
    format!("{}.{:02}", h / 100, (h % 100).abs())
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Window::All => f.write_str("every date up to the period's end"),
            Window::Period => f.write_str("the period"),
            Window::Months(n) => write!(f, "the {n} months to the period's end"),
        }
    }
}

impl std::fmt::Display for Criterion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.metric {
            Metric::WeightedScore => write!(f, "{}", self.metric.name())?,
            m if m.of_the_half_year() => {
                write!(f, "{} in the evaluations of the half-year holding the period's end", m.name())?
            }
            m => write!(f, "{} over {}", m.name(), self.window)?,
        }
        for (word, bound) in [("at least", self.at_least), ("at most", self.at_most), ("below", self.below)] {
            if let Some(bound) = bound {
                write!(f, ", {word} {}", show_hundredths(bound))?;
            }
        }
        Ok(())
    }
}

/// The policy as a reviewer reads it: every level with its criteria, windows and
/// thresholds, one line each.
impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let subject = match self.subject {
            Subject::Member => "members",
            Subject::Unit => "units",
        };
        writeln!(f, "{} v{}: {} (of {subject})", self.name, self.version, self.title)?;
        if let Some(source) = &self.source {
            writeln!(f, "  source: {source}")?;
        }
        if let Some(w) = &self.evaluation {
            writeln!(f, "  evaluation score: public {} %, leader {} %", w.public_weight, w.leader_weight)?;
        }
        if self.scheme == Scheme::Count {
            writeln!(f, "  outcome: how many of the levels (stars) are met")?;
        }
        if let Some(p) = &self.satisfaction {
            let (s, fs, d) = (p.satisfied, p.fairly_satisfied, p.dissatisfied);
            writeln!(f, "  satisfaction points: satisfied {s}, fairly satisfied {fs}, dissatisfied {d}")?;
        }
        for w in &self.weighted {
            writeln!(f, "  weighted score: {} × {} %", w.metric.name(), w.weight)?;
        }
        let rule = |f: &mut std::fmt::Formatter<'_>, head: String, label: &Option<String>, criteria: &[Criterion]| {
            let label = label.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
            writeln!(f, "  {head}{label}:")?;
            criteria.iter().try_for_each(|c| writeln!(f, "    {c}"))
        };
        for level in &self.levels {
            rule(f, format!("level {}", level.name), &level.label, &level.criteria)?;
        }
        for cap in &self.caps {
            rule(f, format!("cap {} (at most {})", cap.name, cap.at_most), &cap.label, &cap.criteria)?;
        }
        for veto in &self.vetoes {
            rule(f, format!("veto {}", veto.name), &veto.label, &veto.criteria)?;
        }
        if let Some(share) = self.top_share_percent {
            writeln!(f, "  on a board, at most {share} % keep the top rank")?;
        }
        for a in &self.awards {
            let label = a.label.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
            let days = a.listing_days;
            writeln!(f, "  award {}{label}: at least {}, listed {days} working days", a.name, a.at_least)?;
        }
        Ok(())
    }
}

impl Policy {
    /// The rank of an outcome: 0 for none, the place of the level (counting from 1),
    /// or with `scheme = "count"` the stars lit.
    pub fn rank_of(&self, outcome: Option<&str>) -> usize {
        match (self.scheme, outcome) {
            (_, None) => 0,
            (Scheme::Highest, Some(name)) => self.levels.iter().position(|l| l.name == name).map_or(0, |i| i + 1),
            (Scheme::Count, Some(stars)) => stars.parse().unwrap_or(0),
        }
    }

    /// The outcome of a rank: none for 0, else the level at that place, or the number.
    pub fn outcome_of(&self, rank: usize) -> Option<String> {
        match self.scheme {
            _ if rank == 0 => None,
            Scheme::Highest => self.levels.get(rank - 1).map(|l| l.name.clone()),
            Scheme::Count => Some(rank.to_string()),
        }
    }

    /// The highest rank: the last level, or every star lit.
    pub fn top_rank(&self) -> usize {
        self.levels.len()
    }

    /// True when some criterion reads a member's age, which derives from their sealed
    /// birth date: such an answer is personal data.
    pub fn uses_personal_data(&self) -> bool {
        self.levels.iter().flat_map(|l| &l.criteria).any(|c| c.metric == Metric::Age)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    VerifiedHours,
    /// Verified hours members recorded themselves by checking in and out at the site
    /// (credit hours); hours a clerk entered are left out.
    CreditHours,
    RecordedHours,
    VerifiedOutings,
    Age,
    EvaluationScore,
    PublicScore,
    LeaderScore,
    /// The satisfaction of the public's ballots rating the member or unit in the
    /// evaluations of the half-year that holds the period's last day: the mean of the
    /// rating ballots' points ("don't know" left out); unknown without one.
    PublicSatisfaction,
    /// The latest leaders' review in those evaluations; unknown without one.
    LeaderReview,
    /// The ballots cast rating the member or unit in those evaluations.
    Ballots,
    /// Those of them that said 不满意.
    DissatisfiedBallots,
    /// The sum of the `[[weighted]]` metrics times their weights, over 100; unknown when
    /// one of them is.
    WeightedScore,
    ParticipationRate,
    /// Of the commitments whose term meets the window and that a look-back assessed,
    /// the share found kept, in percent (partly kept is not kept); unknown when none
    /// was assessed. A member's own commitments, or all of a unit's.
    CommitmentsKeptPercent,
    /// The ISO weeks of the window with the unit's weekly summary submitted.
    WeeklySummaries,
}

impl Metric {
    /// Measured in the evaluations of the half-year that holds the period's last day,
    /// whatever the window.
    pub fn of_the_half_year(self) -> bool {
        matches!(
            self,
            Metric::EvaluationScore
                | Metric::PublicScore
                | Metric::LeaderScore
                | Metric::PublicSatisfaction
                | Metric::LeaderReview
                | Metric::Ballots
                | Metric::DissatisfiedBallots
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::VerifiedHours => "verified_hours",
            Metric::CreditHours => "credit_hours",
            Metric::RecordedHours => "recorded_hours",
            Metric::VerifiedOutings => "verified_outings",
            Metric::Age => "age",
            Metric::EvaluationScore => "evaluation_score",
            Metric::PublicScore => "public_score",
            Metric::LeaderScore => "leader_score",
            Metric::PublicSatisfaction => "public_satisfaction",
            Metric::LeaderReview => "leader_review",
            Metric::Ballots => "ballots",
            Metric::DissatisfiedBallots => "dissatisfied_ballots",
            Metric::WeightedScore => "weighted_score",
            Metric::ParticipationRate => "participation_rate",
            Metric::CommitmentsKeptPercent => "commitments_kept_percent",
            Metric::WeeklySummaries => "weekly_summaries",
        }
    }
}

/// Which service dates a criterion counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Window {
    /// Everything up to the end of the period.
    #[default]
    All,
    /// The period itself.
    Period,
    /// The given number of months ending on the period's last day.
    Months(u32),
}

/// Written as a policy writes it: `"all"`, `"period"`, `"6 months"`.
impl Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Window::All => s.serialize_str("all"),
            Window::Period => s.serialize_str("period"),
            Window::Months(n) => s.serialize_str(&format!("{n} months")),
        }
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.trim() {
            "all" => Ok(Window::All),
            "period" => Ok(Window::Period),
            other => other
                .strip_suffix("months")
                .or_else(|| other.strip_suffix("month"))
                .and_then(|n| n.trim().parse().ok())
                .filter(|n| *n > 0)
                .map(Window::Months)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("window {other:?}: expected \"all\", \"period\" or \"N months\""))
                }),
        }
    }
}

/// A bound written as a number with at most two decimals, kept exactly in hundredths.
fn hundredths_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Int(i64),
        Float(f64),
    }
    match Number::deserialize(d)? {
        Number::Int(i) => i.checked_mul(100).map(Some).ok_or_else(|| serde::de::Error::custom("number too large")),
        Number::Float(f) => {
            let scaled = f * 100.0;
            if !scaled.is_finite() || (scaled - scaled.round()).abs() > 1e-6 || scaled.abs() > 1e15 {
                return Err(serde::de::Error::custom(format!("{f} is not a number with at most two decimals")));
            }
            Ok(Some(scaled.round() as i64))
        }
    }
}

/// A bound kept in hundredths written back as the policy wrote it (`50`, `2.5`), so
/// that a policy's text (a published board keeps it) reads back to the same policy.
fn as_written<S: serde::Serializer>(bound: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match bound {
        Some(h) if h % 100 == 0 => s.serialize_i64(h / 100),
        Some(h) => s.serialize_f64(*h as f64 / 100.0),
        None => s.serialize_none(),
    }
}

/// Why a policy was refused at load: the file, the line, the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

impl Policy {
    /// Parses and checks a policy; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, PolicyError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let policy: Policy = toml::from_str(text).map_err(|e| PolicyError {
            file: file.to_owned(),
            line: e.span().map_or(1, |s| line_of(s.start)),
            reason: e.message().trim().to_owned(),
        })?;
        let fail = |needle: &str, reason: String| PolicyError {
            file: file.to_owned(),
            line: text.find(needle).map_or(1, line_of),
            reason,
        };
        if policy.levels.is_empty() {
            return Err(fail("name", "a policy needs at least one [[levels]] entry".into()));
        }
        // Every rule with its kind and name: the levels, the vetoes and the caps.
        let rules: Vec<(&str, &str, &[Criterion])> = (policy.levels.iter().map(|l| ("level", l, &l.criteria)))
            .chain(policy.vetoes.iter().map(|l| ("veto", l, &l.criteria)))
            .map(|(kind, l, criteria)| (kind, l.name.as_str(), criteria.as_slice()))
            .chain(policy.caps.iter().map(|c| ("cap", c.name.as_str(), c.criteria.as_slice())))
            .collect();
        let criteria = || rules.iter().flat_map(|(_, _, criteria)| criteria.iter());
        let uses = |metric: Metric| criteria().any(|c| c.metric == metric);
        match policy.evaluation {
            Some(w) if u16::from(w.public_weight) + u16::from(w.leader_weight) != 100 => {
                return Err(fail("[evaluation]", "public_weight and leader_weight must add up to 100".into()));
            }
            None if uses(Metric::EvaluationScore) => {
                return Err(fail(
                    "evaluation_score",
                    "evaluation_score needs an [evaluation] table with the weights".into(),
                ));
            }
            _ => {}
        }
        if !policy.weighted.is_empty() {
            if policy.weighted.iter().map(|w| u16::from(w.weight)).sum::<u16>() != 100 {
                return Err(fail("[[weighted]]", "the weights of [[weighted]] must add up to 100".into()));
            }
            if let Some(w) = policy.weighted.iter().find(|w| w.metric == Metric::WeightedScore) {
                return Err(fail("[[weighted]]", format!("{} cannot be a part of itself", w.metric.name())));
            }
        } else if uses(Metric::WeightedScore) {
            return Err(fail("weighted_score", "weighted_score needs [[weighted]] parts".into()));
        }
        if policy.top_share_percent.is_some_and(|p| p == 0 || p > 100) {
            return Err(fail("top_share_percent", "top_share_percent must be from 1 to 100".into()));
        }
        let outcomes = (policy.caps.iter().map(|c| ("cap", &c.name, "at_most", &c.at_most)))
            .chain(policy.awards.iter().map(|a| ("award", &a.name, "at_least", &a.at_least)));
        for (kind, name, field, outcome) in outcomes {
            let expected = match policy.scheme {
                Scheme::Highest if !policy.levels.iter().any(|l| &l.name == outcome) => "the name of one of the levels",
                Scheme::Count if outcome.parse::<usize>().map_or(true, |n| n > policy.levels.len()) => {
                    "a number of stars the levels can light"
                }
                _ => continue,
            };
            return Err(fail(name, format!("{kind} {name:?}: {field} must be {expected}")));
        }
        for (i, a) in policy.awards.iter().enumerate() {
            if policy.awards[..i].iter().any(|b| b.name == a.name) {
                return Err(fail(&a.name, format!("award {:?} is declared twice", a.name)));
            }
        }
        for (kind, name, criteria) in &rules {
            if criteria.is_empty() {
                return Err(fail(name, format!("{kind} {name:?} has no criteria")));
            }
        }
        for c in criteria() {
            if c.at_least.is_none() && c.at_most.is_none() && c.below.is_none() {
                return Err(fail(
                    c.metric.name(),
                    format!("criterion {} has no bound (at_least, at_most or below)", c.metric.name()),
                ));
            }
        }
        let measured = criteria().map(|c| c.metric).chain(policy.weighted.iter().map(|w| w.metric));
        for metric in measured.collect::<Vec<_>>() {
            let member_only =
                matches!(metric, Metric::Age | Metric::EvaluationScore | Metric::PublicScore | Metric::LeaderScore);
            if policy.subject == Subject::Unit && member_only {
                return Err(fail(metric.name(), format!("{} applies to members, not units", metric.name())));
            }
            let unit_only = matches!(metric, Metric::ParticipationRate | Metric::WeeklySummaries);
            if policy.subject == Subject::Member && unit_only {
                return Err(fail(metric.name(), format!("{} applies to units, not members", metric.name())));
            }
        }
        Ok(policy)
    }
}

/// The built-in policies, shipped with the binary.
pub const BUILT_IN: [(&str, &str); 5] = [
    ("star-volunteer.toml", include_str!("../policies/star-volunteer.toml")),
    ("service-month-default.toml", include_str!("../policies/service-month-default.toml")),
    ("ten-star-default.toml", include_str!("../policies/ten-star-default.toml")),
    ("ten-star-unit-default.toml", include_str!("../policies/ten-star-unit-default.toml")),
    ("ten-star-named-default.toml", include_str!("../policies/ten-star-named-default.toml")),
];

/// Policies by name: the built-ins, then every `*.toml` of the policy directory (a
/// file may replace a built-in of the same name).
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    policies: BTreeMap<String, Policy>,
}

impl PolicySet {
    pub fn built_in() -> Self {
        let mut set = Self::default();
        for (file, text) in BUILT_IN {
            let policy = Policy::parse(file, text).expect("built-in policies parse");
            set.policies.insert(policy.name.clone(), policy);
        }
        set
    }

    /// The built-ins plus the directory's policies; the first bad file is an error.
    pub fn load(dir: Option<&Path>) -> Result<Self, PolicyError> {
        let mut set = Self::built_in();
        let Some(dir) = dir else { return Ok(set) };
        let io = |reason: String| PolicyError { file: dir.display().to_string(), line: 0, reason };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| io(e.to_string()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for path in files {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| io(format!("{name}: {e}")))?;
            let policy = Policy::parse(&name, &text)?;
            set.policies.insert(policy.name.clone(), policy);
        }
        let mut declared: BTreeMap<&str, &str> = BTreeMap::new();
        for policy in set.policies.values() {
            for award in &policy.awards {
                if let Some(other) = declared.insert(&award.name, &policy.name) {
                    return Err(io(format!(
                        "award {:?} is declared by both {other} and {}: an award belongs to one policy",
                        award.name, policy.name
                    )));
                }
            }
        }
        Ok(set)
    }

    /// The award named `name` and the policy that declares it.
    pub fn award(&self, name: &str) -> Result<(&Policy, &Award), UnknownAward> {
        let found = self.policies.values().find_map(|p| Some((p, p.awards.iter().find(|a| a.name == name)?)));
        found.ok_or_else(|| UnknownAward {
            name: name.to_owned(),
            known: self.policies.values().flat_map(|p| p.awards.iter().map(|a| a.name.clone())).collect(),
        })
    }

    pub fn get(&self, name: &str) -> Result<&Policy, UnknownPolicy> {
        self.policies
            .get(name)
            .ok_or_else(|| UnknownPolicy { name: name.to_owned(), known: self.policies.keys().cloned().collect() })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Policy> {
        self.policies.values()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no award named {name:?}; known awards: {}", known.join(", "))]
pub struct UnknownAward {
    pub name: String,
    pub known: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no policy named {name:?}; known policies: {}", known.join(", "))]
pub struct UnknownPolicy {
    pub name: String,
    pub known: Vec<String>,
}
