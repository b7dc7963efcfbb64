//! Members' correction requests: made by the member on the public page (with their
//! check-in PIN) or by a clerk for them, answered by the unit's clerk, and listed when
//! overdue for reviewers.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use taizhang_core::*;
use taizhang_read::{CorrectionRecord, ReadModel};
use taizhang_store::Position;
use time::{Date, OffsetDateTime};

use crate::access::{Need, Permission};
use crate::error;
use crate::mutation::execute;
use crate::state;
use crate::types::*;

/// The most requests one list returns.
const MAX_REQUESTS: usize = 500;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum CorrectionState {
    /// Not answered yet.
    Open,
    /// The record was corrected.
    Accepted,
    Refused,
}

/// A member's request to correct their record, as known at `asOfPosition`.
#[derive(SimpleObject, Clone)]
pub struct CorrectionRequest {
    pub id: ID,
    pub member: ID,
    /// The unit that answers it.
    pub unit: ID,
    pub outing: Option<ID>,
    pub text: String,
    pub requested_at: OffsetDateTime,
    /// `VOLUNTEER` when the member sent it themselves.
    pub requested_by: ActorView,
    /// The last day to answer.
    pub due: Date,
    pub state: CorrectionState,
    /// Open past its due date.
    pub overdue: bool,
    pub answer_reason: Option<String>,
    pub answered_by: Option<ActorView>,
    pub answered_at: Option<Position>,
    pub as_of_position: Position,
}

impl CorrectionRequest {
    fn of(record: &CorrectionRecord, as_of: Position, today: Date) -> Option<Self> {
        if record.position > as_of {
            return None;
        }
        let r = &record.requested;
        let answer = record.answer_at(as_of);
        let state = match answer {
            None => CorrectionState::Open,
            Some(a) if a.accepted => CorrectionState::Accepted,
            Some(_) => CorrectionState::Refused,
        };
        Some(Self {
            id: ID(r.correction.to_string()),
            member: ID(r.member.to_string()),
            unit: ID(r.unit.to_string()),
            outing: r.outing.map(|o| ID(o.to_string())),
            text: r.text.to_string(),
            requested_at: record.recorded_at.to_datetime(),
            requested_by: record.by.into(),
            due: r.due,
            state,
            overdue: answer.is_none() && r.due < today,
            answer_reason: answer.map(|a| a.reason.to_string()),
            answered_by: answer.map(|a| a.by.into()),
            answered_at: answer.map(|a| a.position),
            as_of_position: as_of,
        })
    }

    fn at(model: &ReadModel, id: CorrectionId, as_of: Position) -> Option<Self> {
        Self::of(model.corrections.get(&id)?, as_of, Timestamp::now().service_date())
    }
}

#[derive(Default)]
pub struct CorrectionQueries;

#[Object]
impl CorrectionQueries {
    /// A unit's correction requests (open ones only with `openOnly`), or, without a
    /// unit, every unit's overdue ones (`overdueOnly`), oldest first.
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    async fn correction_requests(
        &self,
        ctx: &Context<'_>,
        unit: Option<ID>,
        #[graphql(default)] open_only: bool,
        #[graphql(default)] overdue_only: bool,
        #[graphql(default = 100)] first: i32,
        min_position: Option<Position>,
    ) -> async_graphql::Result<Vec<CorrectionRequest>> {
        let first = usize::try_from(first).unwrap_or(0);
        if first > MAX_REQUESTS {
            return Err(error::over_limit("page size (first)", MAX_REQUESTS as u64, Some(first as u64)));
        }
        let unit: Option<UnitId> = unit.map(|u| parse_id("unit", &u)).transpose()?;
        if unit.is_none() && !overdue_only {
            return Err(error::invalid("unit", "give a unit, or ask for every unit's overdue requests"));
        }
        let today = Timestamp::now().service_date();
        state(ctx)
            .read(min_position, move |m| {
                let records: Box<dyn Iterator<Item = &CorrectionRecord>> = match unit {
                    Some(unit) => Box::new(m.unit_corrections(unit)),
                    None => Box::new(m.corrections.values()),
                };
                let mut found: Vec<CorrectionRequest> = records
                    .filter_map(|r| CorrectionRequest::of(r, m.position, today))
                    .filter(|r| !open_only || r.state == CorrectionState::Open)
                    .filter(|r| !overdue_only || r.overdue)
                    .collect();
                found.sort_by_key(|r| r.requested_at);
                found.truncate(first);
                found
            })
            .await
    }
}

#[derive(InputObject)]
pub struct RequestCorrectionInput {
    pub member: ID,
    /// The outing it is about, if any.
    pub outing: Option<ID>,
    /// What is wrong, in the member's words.
    pub text: String,
}

#[derive(InputObject)]
pub struct AnswerCorrectionInput {
    pub request: ID,
    /// True once the record has been corrected (amend the outing first).
    pub accepted: bool,
    pub reason: String,
}

#[derive(SimpleObject)]
pub struct CorrectionPayload {
    pub receipt: Receipt,
    pub request: Option<CorrectionRequest>,
}

async fn payload(
    ctx: &Context<'_>,
    outcome: &taizhang_store::AppendOutcome,
    id: CorrectionId,
) -> async_graphql::Result<CorrectionPayload> {
    let request = state(ctx).read(None, move |m| CorrectionRequest::at(m, id, m.position)).await?;
    Ok(CorrectionPayload { receipt: Receipt::new(outcome), request })
}

#[derive(Default)]
pub struct CorrectionMutations;

#[Object]
impl CorrectionMutations {
    /// Records a member's request to correct their record, made to the clerk (a member
    /// makes their own on the public page, `/correction`).
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn request_correction(
        &self,
        ctx: &Context<'_>,
        input: RequestCorrectionInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<CorrectionPayload> {
        let correction = CorrectionId::new();
        let command = RequestCorrection {
            correction,
            member: parse_id("input.member", &input.member)?,
            outing: input.outing.map(|o| parse_id("input.outing", &o)).transpose()?,
            text: text("input.text", &input.text)?,
            pin: None,
        };
        let outcome = execute(ctx, command_id, command.into()).await?;
        let id = Receipt::stream_of(&outcome, StreamKind::Correction).map_or(correction, CorrectionId);
        payload(ctx, &outcome, id).await
    }

    /// Answers a correction request: accepted once the outing has been amended since
    /// the request, or refused, with the reason either way.
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn answer_correction_request(
        &self,
        ctx: &Context<'_>,
        input: AnswerCorrectionInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<CorrectionPayload> {
        let correction: CorrectionId = parse_id("input.request", &input.request)?;
        let command =
            AnswerCorrection { correction, accepted: input.accepted, reason: text("input.reason", &input.reason)? };
        let outcome = execute(ctx, command_id, command.into()).await?;
        payload(ctx, &outcome, correction).await
    }
}

#[cfg(test)]
mod tests {
    use taizhang_read::CorrectionAnswer;
    use time::macros::date;

    use super::*;

    #[test]
    fn a_request_is_overdue_once_its_day_has_passed_unanswered() {
        let text = |s: &str| Text::parse("t", s).unwrap();
        let record = |answer: Option<CorrectionAnswer>| CorrectionRecord {
            position: 5,
            requested: CorrectionRequested {
                correction: CorrectionId::new(),
                member: MemberId::new(),
                unit: UnitId::new(),
                outing: None,
                outing_version: None,
                text: text("时长有误"),
                due: date!(2011 - 06 - 30),
            },
            by: Actor::VOLUNTEER,
            recorded_at: Timestamp(0),
            answer,
        };
        let open = record(None);
        let overdue = |r: &CorrectionRecord, as_of, today| CorrectionRequest::of(r, as_of, today).map(|c| c.overdue);
        assert_eq!(overdue(&open, 9, date!(2011 - 06 - 30)), Some(false), "due that day, not yet past");
        assert_eq!(overdue(&open, 9, date!(2011 - 07 - 01)), Some(true));
        assert_eq!(overdue(&open, 4, date!(2011 - 07 - 01)), None, "not made yet at position 4");
        let answered =
            record(Some(CorrectionAnswer {
                position: 7, accepted: false, reason: text("无误"), by: Actor::OPERATOR
            }));
        assert_eq!(overdue(&answered, 9, date!(2011 - 07 - 01)), Some(false));
        assert_eq!(overdue(&answered, 6, date!(2011 - 07 - 01)), Some(true), "as of before its answer");
    }
}
