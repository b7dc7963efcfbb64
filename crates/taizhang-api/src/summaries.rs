//! Weekly summaries (一周一小结): submitted by a unit's clerk, shown beside the week's
//! figures from the ledger, commented by reviewers; and the units still missing one.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use taizhang_core::*;
use taizhang_read::report::{report, Bucket, GroupBy, ReportQuery, Scope};
use taizhang_read::{AsOf, ReadModel, SummaryHistory};
use taizhang_store::{AppendOutcome, Position};

use crate::access::{Need, Permission};
use crate::mutation::{execute, record};
use crate::state;
use crate::types::*;
use crate::units::Unit;

/// The week's figures from the unit's ledger.
#[derive(SimpleObject, Clone)]
pub struct WeekFigures {
    /// Outings not voided, dated in the week.
    pub outings: u64,
    /// Members who served in them.
    pub volunteers: u64,
    pub recorded_hours: String,
    pub verified_hours: String,
    /// The unit's commitments a reviewer assessed during the week (by the day the
    /// finding was recorded, China Standard Time).
    pub commitments_assessed: u64,
}

#[derive(SimpleObject, Clone)]
pub struct SummaryCommentView {
    pub comment: String,
    pub position: Position,
    pub actor: ActorView,
}

/// A unit's summary of a week as it stands at the position read.
#[derive(SimpleObject, Clone)]
pub struct WeeklySummary {
    pub id: ID,
    pub unit_id: ID,
    /// `2011-W23`.
    pub week: String,
    pub done: String,
    pub learnt: Option<String>,
    pub next: Option<String>,
    /// Where the standing text was submitted.
    pub position: Position,
    /// How many times it was revised after the first submission.
    pub revisions: u32,
    pub comments: Vec<SummaryCommentView>,
    pub figures: WeekFigures,
}

impl WeeklySummary {
    fn of(model: &ReadModel, id: SummaryId, history: &SummaryHistory, as_of: Position) -> Option<Self> {
        let (position, text) = history.at(as_of)?;
        let submitted = history.versions.iter().take_while(|(p, _)| *p <= as_of).count();
        Some(Self {
            id: ID(id.to_string()),
            unit_id: ID(history.unit.to_string()),
            week: history.week.to_string(),
            done: text.done.to_string(),
            learnt: text.learnt.as_ref().map(ToString::to_string),
            next: text.next.as_ref().map(ToString::to_string),
            position: *position,
            revisions: u32::try_from(submitted.saturating_sub(1)).unwrap_or(u32::MAX),
            comments: history
                .comments
                .iter()
                .filter(|c| c.position <= as_of)
                .map(|c| SummaryCommentView {
                    comment: c.comment.to_string(),
                    position: c.position,
                    actor: c.by.into(),
                })
                .collect(),
            figures: figures(model, history.unit, history.week, as_of),
        })
    }

    pub fn at(model: &ReadModel, id: SummaryId, as_of: Position) -> Option<Self> {
        Self::of(model, id, model.summaries.get(&id)?, as_of)
    }
}

/// The unit's outings, volunteers and hours in `week`, from its ledger as of `as_of`.
fn figures(model: &ReadModel, unit: UnitId, week: IsoWeek, as_of: Position) -> WeekFigures {
    let query = ReportQuery {
        period: week.period(),
        scope: Scope::Unit(unit),
        group_by: GroupBy::Total,
        bucket: Bucket::Period,
        as_of: AsOf::at_position(as_of),
    };
    let rows = report(model, &query).rows;
    let (outings, volunteers, recorded, verified) = rows.iter().fold((0, 0, 0, 0), |(o, v, r, w), row| {
        (o + row.outings, v + row.volunteers, r + row.recorded_minutes, w + row.verified_minutes)
    });
    let days = week.period();
    let assessed_in_week =
        |position: Position| model.recorded_at(position).is_some_and(|at| days.contains(at.service_date()));
    let commitments_assessed = model
        .unit_commitments(unit)
        .iter()
        .filter_map(|id| model.commitments.get(id))
        .filter(|c| {
            c.versions
                .iter()
                .take_while(|v| v.position <= as_of)
                .filter_map(|v| v.assessment.as_ref())
                .any(|a| assessed_in_week(a.position))
        })
        .count() as u64;
    WeekFigures {
        outings,
        volunteers,
        recorded_hours: hours_text(recorded),
        verified_hours: hours_text(verified),
        commitments_assessed,
    }
}

fn parse_week(field: &str, week: &str) -> async_graphql::Result<IsoWeek> {
    IsoWeek::parse(field, week).map_err(|e| crate::error::domain(&e))
}

/// The most units one page of `missingWeeklySummaries` lists.
const MAX_MISSING_PAGE: usize = 1_000;

/// Units without a summary of the week, at most `first` of them, and how many there are.
#[derive(SimpleObject)]
pub struct MissingSummaries {
    pub total_count: u64,
    pub units: Vec<Unit>,
}

#[derive(Default)]
pub struct SummaryQueries;

#[Object]
impl SummaryQueries {
    /// A unit's summary of `week` (`2011-W23`), with the week's figures beside it.
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn weekly_summary(
        &self,
        ctx: &Context<'_>,
        unit: ID,
        week: String,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<WeeklySummary>> {
        let id = SummaryId::of(parse_id("unit", &unit)?, parse_week("week", &week)?);
        let as_of = crate::as_of(as_of);
        state(ctx).read(min_position.map(Into::into), |m| WeeklySummary::at(m, id, as_of.position(m))).await
    }

    /// The units (of `region`, if given) registered by then that have no summary of
    /// `week`, in the order of their ids.
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    async fn missing_weekly_summaries(
        &self,
        ctx: &Context<'_>,
        week: String,
        region: Option<String>,
        #[graphql(default = 100)] first: usize,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<MissingSummaries> {
        let week = parse_week("week", &week)?;
        if first > MAX_MISSING_PAGE {
            return Err(crate::error::invalid("first", format!("at most {MAX_MISSING_PAGE} units a page")));
        }
        let as_of = crate::as_of(as_of);
        state(ctx)
            .read(min_position.map(Into::into), |m| {
                let position = as_of.position(m);
                let missing: Vec<UnitId> = m
                    .units
                    .keys()
                    .filter(|u| {
                        m.unit(**u, position).is_some_and(|v| region.as_ref().is_none_or(|r| v.region.as_str() == r))
                    })
                    .filter(|u| m.summaries.get(&SummaryId::of(**u, week)).is_none_or(|s| s.at(position).is_none()))
                    .copied()
                    .collect();
                let units = missing.iter().take(first).filter_map(|u| Unit::at(m, *u, position)).collect();
                MissingSummaries { total_count: missing.len() as u64, units }
            })
            .await
    }
}

#[derive(InputObject)]
pub struct SubmitWeeklySummaryInput {
    pub unit: ID,
    /// `2011-W23`; submitting a week again revises its summary.
    pub week: String,
    /// What was done.
    pub done: String,
    /// What was learnt.
    pub learnt: Option<String>,
    /// What comes next.
    pub next: Option<String>,
}

#[derive(InputObject)]
pub struct CommentOnWeeklySummaryInput {
    pub unit: ID,
    pub week: String,
    pub comment: String,
}

#[derive(SimpleObject)]
pub struct WeeklySummaryPayload {
    pub receipt: Receipt,
    pub summary: Option<WeeklySummary>,
}

async fn summary_payload(
    ctx: &Context<'_>,
    outcome: AppendOutcome,
    summary: SummaryId,
) -> async_graphql::Result<WeeklySummaryPayload> {
    let at = |m: &ReadModel, id, p| WeeklySummary::at(m, SummaryId(id), p);
    let summary = record(ctx, &outcome, Some(summary.0), StreamKind::Summary, "summary", at).await?;
    Ok(WeeklySummaryPayload { receipt: Receipt::new(&outcome), summary })
}

#[derive(Default)]
pub struct SummaryMutations;

#[Object]
impl SummaryMutations {
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn submit_weekly_summary(
        &self,
        ctx: &Context<'_>,
        input: SubmitWeeklySummaryInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<WeeklySummaryPayload> {
        let text = SummaryText {
            done: text("input.done", &input.done)?,
            learnt: optional_text("input.learnt", input.learnt.as_deref())?,
            next: optional_text("input.next", input.next.as_deref())?,
        };
        let command =
            SubmitSummary::new(parse_id("input.unit", &input.unit)?, parse_week("input.week", &input.week)?, text);
        let summary = command.summary;
        let outcome = execute(ctx, command_id, command.into()).await?;
        summary_payload(ctx, outcome, summary).await
    }

    #[graphql(guard = "Need(Permission::Review)")]
    async fn comment_on_weekly_summary(
        &self,
        ctx: &Context<'_>,
        input: CommentOnWeeklySummaryInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<WeeklySummaryPayload> {
        let summary = SummaryId::of(parse_id("input.unit", &input.unit)?, parse_week("input.week", &input.week)?);
        let command = CommentOnSummary { summary, comment: text("input.comment", &input.comment)? };
        let outcome = execute(ctx, command_id, command.into()).await?;
        summary_payload(ctx, outcome, summary).await
    }
}
