//! Commitments (公开承诺): what units and their members promise, amended, withdrawn,
//! assessed at a look-back and renewed.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use taizhang_core::*;
use taizhang_read::{CommitmentHistory, ReadModel};
use taizhang_store::{AppendOutcome, Position};
use time::Date;

use crate::access::{Need, Permission};
use crate::mutation::{execute, new_record, record};
use crate::state;
use crate::types::*;

/// How a look-back found a commitment kept.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Fulfilment")]
pub enum FulfilmentValue {
    /// 已兑现
    Kept,
    /// 部分兑现
    PartlyKept,
    /// 未兑现
    NotKept,
}

impl From<FulfilmentValue> for Fulfilment {
    fn from(value: FulfilmentValue) -> Self {
        match value {
            FulfilmentValue::Kept => Fulfilment::Kept,
            FulfilmentValue::PartlyKept => Fulfilment::PartlyKept,
            FulfilmentValue::NotKept => Fulfilment::NotKept,
        }
    }
}

impl From<Fulfilment> for FulfilmentValue {
    fn from(value: Fulfilment) -> Self {
        match value {
            Fulfilment::Kept => FulfilmentValue::Kept,
            Fulfilment::PartlyKept => FulfilmentValue::PartlyKept,
            Fulfilment::NotKept => FulfilmentValue::NotKept,
        }
    }
}

/// A look-back's latest finding on a commitment.
#[derive(SimpleObject, Clone)]
pub struct CommitmentAssessment {
    pub fulfilment: FulfilmentValue,
    pub evidence: String,
    /// Where in the log it was recorded.
    pub position: Position,
}

/// A commitment as known at the position read: what it says now, what became of it,
/// and the renewals either side of it.
#[derive(SimpleObject, Clone)]
pub struct Commitment {
    pub id: ID,
    /// The item's code in the unit's own list, accepted wherever its id is.
    pub code: Option<String>,
    pub unit_id: ID,
    /// The member who made it, for a member's own commitment.
    pub member_id: Option<ID>,
    pub category: String,
    pub text: String,
    pub target: Option<String>,
    pub from: Date,
    pub until: Date,
    pub public: bool,
    /// Why it was last amended, if it was.
    pub amendment_reason: Option<String>,
    /// Why it was withdrawn; null while it stands.
    pub withdrawal_reason: Option<String>,
    pub assessment: Option<CommitmentAssessment>,
    /// The items it carries on (再承诺).
    pub renews: Vec<ID>,
    /// The renewals that carry it on.
    pub renewed_by: Vec<ID>,
    /// Its version: 0 as made, one more for each change.
    pub version: u32,
}

impl Commitment {
    pub fn at(model: &ReadModel, id: CommitmentId, as_of: Position) -> Option<Self> {
        let history = model.commitments.get(&id)?;
        Self::of(model, id, history, as_of)
    }

    fn of(model: &ReadModel, id: CommitmentId, history: &CommitmentHistory, as_of: Position) -> Option<Self> {
        let version = history.at(as_of)?;
        let index = history.versions.iter().take_while(|v| v.position <= as_of).count() - 1;
        let content = &version.content;
        let ids = |ids: &mut dyn Iterator<Item = CommitmentId>| ids.map(|c| ID(c.to_string())).collect();
        Some(Self {
            id: ID(id.to_string()),
            code: model.code(id.0, as_of).map(ToString::to_string),
            unit_id: ID(history.unit.to_string()),
            member_id: history.member.map(|m| ID(m.to_string())),
            category: content.category.to_string(),
            text: content.text.to_string(),
            target: content.target.as_ref().map(ToString::to_string),
            from: content.from,
            until: content.until,
            public: content.public,
            amendment_reason: version.reason.as_ref().map(ToString::to_string),
            withdrawal_reason: version.withdrawn.as_ref().map(ToString::to_string),
            assessment: version.assessment.as_ref().map(|a| CommitmentAssessment {
                fulfilment: a.fulfilment.into(),
                evidence: a.evidence.to_string(),
                position: a.position,
            }),
            renews: ids(&mut history.renews.iter().copied()),
            renewed_by: ids(&mut history.renewed_by(as_of)),
            version: u32::try_from(index).unwrap_or(u32::MAX),
        })
    }
}

/// The most commitments one unit's list returns.
const MAX_UNIT_COMMITMENTS: usize = 1_000;

#[derive(Default)]
pub struct CommitmentQueries;

#[Object]
impl CommitmentQueries {
    /// A commitment; one kept within its unit only for those who read every record
    /// (for others it is null, as on the notice board).
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn commitment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<Commitment>> {
        let commitment: CommitmentId = parse_id("id", &id)?;
        let as_of = crate::as_of(as_of);
        let all = crate::access::reads_every_record(ctx)?;
        let found =
            state(ctx).read(min_position.map(Into::into), |m| Commitment::at(m, commitment, as_of.position(m))).await?;
        Ok(found.filter(|c| all || c.public))
    }

    /// A unit's commitments (its members' included) in the order they were made, at
    /// most 1,000; withdrawn ones only when asked for; those kept within the unit only
    /// for those who read every record.
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn commitments(
        &self,
        ctx: &Context<'_>,
        unit: ID,
        #[graphql(default = false)] include_withdrawn: bool,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Vec<Commitment>> {
        let unit: UnitId = parse_id("unit", &unit)?;
        let as_of = crate::as_of(as_of);
        let all = crate::access::reads_every_record(ctx)?;
        state(ctx)
            .read(min_position.map(Into::into), |m| {
                let position = as_of.position(m);
                m.unit_commitments(unit)
                    .iter()
                    .filter_map(|id| Commitment::of(m, *id, m.commitments.get(id)?, position))
                    .filter(|c| include_withdrawn || c.withdrawal_reason.is_none())
                    .filter(|c| all || c.public)
                    .take(MAX_UNIT_COMMITMENTS)
                    .collect()
            })
            .await
    }

    /// The categories units commonly use; others are accepted too.
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn commitment_categories(&self) -> Vec<&'static str> {
        COMMITMENT_CATEGORIES.to_vec()
    }
}

#[derive(InputObject)]
pub struct CommitmentContentInput {
    /// One of `commitmentCategories`, or the unit's own.
    pub category: String,
    pub text: String,
    pub target: Option<String>,
    pub from: Date,
    pub until: Date,
    #[graphql(default = true)]
    pub public: bool,
}

impl CommitmentContentInput {
    fn parse(self) -> async_graphql::Result<CommitmentContent> {
        Ok(CommitmentContent {
            category: text("input.content.category", &self.category)?,
            text: text("input.content.text", &self.text)?,
            target: optional_text("input.content.target", self.target.as_deref())?,
            from: self.from,
            until: self.until,
            public: self.public,
        })
    }
}

#[derive(InputObject)]
pub struct MakeCommitmentInput {
    /// Leave empty to have one assigned (the code's, when a code is given).
    pub id: Option<ID>,
    pub code: Option<String>,
    pub unit: ID,
    /// For a member's own commitment: the member, who belongs to `unit`.
    pub member: Option<ID>,
    pub content: CommitmentContentInput,
}

#[derive(InputObject)]
pub struct RenewCommitmentInput {
    pub id: Option<ID>,
    pub code: Option<String>,
    pub unit: ID,
    pub member: Option<ID>,
    /// The items the new one carries on or replaces, each of the same unit.
    pub renews: Vec<ID>,
    pub content: CommitmentContentInput,
}

#[derive(InputObject)]
pub struct AmendCommitmentInput {
    pub commitment: ID,
    pub content: CommitmentContentInput,
    pub reason: String,
}

#[derive(InputObject)]
pub struct WithdrawCommitmentInput {
    pub commitment: ID,
    pub reason: String,
}

#[derive(InputObject)]
pub struct AssessCommitmentInput {
    pub commitment: ID,
    pub fulfilment: FulfilmentValue,
    /// What the finding rests on: the public's opinions, the records checked.
    pub evidence: String,
}

#[derive(SimpleObject)]
pub struct CommitmentPayload {
    pub receipt: Receipt,
    pub commitment: Option<Commitment>,
}

async fn commitment_payload(
    ctx: &Context<'_>,
    outcome: AppendOutcome,
    commitment: CommitmentId,
) -> async_graphql::Result<CommitmentPayload> {
    let at = |m: &ReadModel, id, p| Commitment::at(m, CommitmentId(id), p);
    let commitment = record(ctx, &outcome, Some(commitment.0), StreamKind::Commitment, "commitment", at).await?;
    Ok(CommitmentPayload { receipt: Receipt::new(&outcome), commitment })
}

#[derive(Default)]
pub struct CommitmentMutations;

impl CommitmentMutations {
    /// Makes a commitment that carries on `renews` (none for a first one).
    async fn make(
        ctx: &Context<'_>,
        command_id: Option<uuid::Uuid>,
        (id, code, unit, member): (Option<ID>, Option<String>, ID, Option<ID>),
        renews: Vec<ID>,
        content: CommitmentContentInput,
    ) -> async_graphql::Result<CommitmentPayload> {
        let (commitment, code) = new_record(id, code, CommitmentId::of_code, CommitmentId::new)?;
        let renews = renews.iter().map(|r| parse_id("input.renews", r)).collect::<Result<_, _>>()?;
        let command = MakeCommitment {
            commitment,
            unit: parse_id("input.unit", &unit)?,
            member: member.map(|m| parse_id("input.member", &m)).transpose()?,
            content: content.parse()?,
            renews,
            code,
        };
        let outcome = execute(ctx, command_id, command.into()).await?;
        commitment_payload(ctx, outcome, commitment).await
    }
}

#[Object]
impl CommitmentMutations {
    /// A unit's (or one of its members') public commitment.
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn make_commitment(
        &self,
        ctx: &Context<'_>,
        input: MakeCommitmentInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<CommitmentPayload> {
        let MakeCommitmentInput { id, code, unit, member, content } = input;
        Self::make(ctx, command_id, (id, code, unit, member), vec![], content).await
    }

    /// A new commitment made at a look-back (再承诺) that carries on or replaces earlier
    /// items of the same unit, so the chain of promises can be followed back.
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn renew_commitment(
        &self,
        ctx: &Context<'_>,
        input: RenewCommitmentInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<CommitmentPayload> {
        let RenewCommitmentInput { id, code, unit, member, renews, content } = input;
        if renews.is_empty() {
            return Err(crate::error::invalid("input.renews", "a renewal names at least one earlier item"));
        }
        Self::make(ctx, command_id, (id, code, unit, member), renews, content).await
    }

    /// Rewrites a commitment not yet assessed; the earlier wording stays in the log.
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn amend_commitment(
        &self,
        ctx: &Context<'_>,
        input: AmendCommitmentInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<CommitmentPayload> {
        let commitment = parse_id("input.commitment", &input.commitment)?;
        let command = AmendCommitment {
            commitment,
            content: input.content.parse()?,
            reason: text("input.reason", &input.reason)?,
        };
        let outcome = execute(ctx, command_id, command.into()).await?;
        commitment_payload(ctx, outcome, commitment).await
    }

    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn withdraw_commitment(
        &self,
        ctx: &Context<'_>,
        input: WithdrawCommitmentInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<CommitmentPayload> {
        let commitment = parse_id("input.commitment", &input.commitment)?;
        let command = WithdrawCommitment { commitment, reason: text("input.reason", &input.reason)? };
        let outcome = execute(ctx, command_id, command.into()).await?;
        commitment_payload(ctx, outcome, commitment).await
    }

    /// A reviewer's finding at a look-back (回头看); a later one corrects it.
    #[graphql(guard = "Need(Permission::Review)")]
    async fn assess_commitment(
        &self,
        ctx: &Context<'_>,
        input: AssessCommitmentInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<CommitmentPayload> {
        let commitment = parse_id("input.commitment", &input.commitment)?;
        let command = AssessCommitment {
            commitment,
            fulfilment: input.fulfilment.into(),
            evidence: text("input.evidence", &input.evidence)?,
        };
        let outcome = execute(ctx, command_id, command.into()).await?;
        commitment_payload(ctx, outcome, commitment).await
    }
}
