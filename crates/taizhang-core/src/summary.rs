//! Weekly summaries (一周一小结): each unit's clerk writes, for an ISO week, what was
//! done, what was learnt and what comes next; submitting again revises it; a reviewer
//! may comment. One stream per unit and week, whose id both name ([`SummaryId::of`]).

use serde::{Deserialize, Serialize};

use crate::command::Decision;
use crate::decide::{Deciding, PendingEvent};
use crate::event::Fact;
use crate::*;

impl SummaryId {
    /// The summary of `unit` for `week`: one per unit and week, however often submitted.
    pub fn of(unit: UnitId, week: IsoWeek) -> Self {
        Self::of_code(&format!("{unit}/{week}"))
    }
}

/// What a weekly summary says.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SummaryText {
    /// What was done (本周工作).
    pub done: Text,
    /// What was learnt (体会与问题).
    pub learnt: Option<Text>,
    /// What comes next (下周打算).
    pub next: Option<Text>,
}

/// A unit's summary of a week, or a revision of it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SubmitSummary {
    pub summary: SummaryId,
    pub unit: UnitId,
    pub week: IsoWeek,
    pub text: SummaryText,
}

impl SubmitSummary {
    pub fn new(unit: UnitId, week: IsoWeek, text: SummaryText) -> Self {
        Self { summary: SummaryId::of(unit, week), unit, week, text }
    }
}

/// A reviewer's comment on a summary.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CommentOnSummary {
    pub summary: SummaryId,
    pub comment: Text,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SummarySubmitted {
    pub summary: SummaryId,
    pub unit: UnitId,
    pub week: IsoWeek,
    pub text: SummaryText,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SummaryCommented {
    pub summary: SummaryId,
    pub comment: Text,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SummaryState {
    pub unit: UnitId,
}

impl Decision for SubmitSummary {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::SummarySubmitted(e) if (self.unit, self.week, &self.text) == (e.unit, e.week, &e.text))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        needs.push(StreamId::unit(self.unit));
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        vec![Some(self.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        if self.summary != SummaryId::of(self.unit, self.week) {
            return Err(DomainError::InvalidValue {
                field: "summary".to_owned(),
                reason: format!("the summary of unit {} for {} has another id", self.unit, self.week),
            });
        }
        let monday = self.week.period().first;
        if monday > cx.today {
            return Err(DomainError::InvalidValue {
                field: "week".to_owned(),
                reason: format!("{} begins on {monday}, after today ({})", self.week, cx.today),
            });
        }
        unit(cx.loaded, self.unit)?;
        Ok(vec![PendingEvent::now(SummarySubmitted {
            summary: self.summary,
            unit: self.unit,
            week: self.week,
            text: self.text.clone(),
        })])
    }
}

impl Decision for CommentOnSummary {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::SummaryCommented(e) if (self.summary, &self.comment) == (e.summary, &e.comment))
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![loaded.summaries.get(&self.summary).map(|s| s.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        if !cx.loaded.summaries.contains_key(&self.summary) {
            return Err(DomainError::SummaryNotFound(self.summary));
        }
        Ok(vec![PendingEvent::now(SummaryCommented { summary: self.summary, comment: self.comment.clone() })])
    }
}

impl Fact for SummarySubmitted {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        state.summaries.insert(self.summary, SummaryState { unit: self.unit });
    }
}

impl Fact for SummaryCommented {
    /// A comment changes nothing the rules read.
    fn fold(&self, _: u64, _: &mut Aggregates) {}
}
