//! Mutations: one per command of the domain, grouped by area. Each takes an optional
//! `commandId` (send the same id again to retry safely: the first outcome is returned
//! and nothing is written twice) and answers with a [`Receipt`] and the record as it now
//! stands, already reflected in every later read.

use async_graphql::{Context, InputObject, MergedObject, Object, SimpleObject, ID};
use taizhang_app::CommandContext;
use taizhang_core::*;
use taizhang_store::{AppendOutcome, EventStore};
use time::Date;

use crate::access::{self, Need, Permission};
use crate::error::{self, invalid};
use crate::tokens::TokenMutations;
use crate::types::*;
use crate::{state, READ_YOUR_WRITES_WAIT};

#[derive(MergedObject, Default)]
pub struct Mutation(UnitMutations, MemberMutations, OutingMutations, ReviewMutations, TokenMutations);

/// Validates and applies `command`, then waits until the read model reflects it.
async fn execute(
    ctx: &Context<'_>,
    command_id: Option<uuid::Uuid>,
    command: Command,
) -> async_graphql::Result<AppendOutcome> {
    let state = state(ctx);
    let principal = access::principal(ctx)?;
    let mut context = CommandContext { scope: principal.scope(), ..CommandContext::new(principal.actor()) };
    if let Some(id) = command_id {
        context.command_id = id;
    }
    let outcome = state.ledger.execute(context, command).await.map_err(error::app)?;
    state.metrics.command_applied(&outcome);
    state.projector.wait_for(outcome.last_position, READ_YOUR_WRITES_WAIT).await.map_err(error::read)?;
    Ok(outcome)
}

/// A new record's id and code: the code's id when the client gives a code (one code,
/// one record: a retry registers nothing twice), else the id the client chose (so that
/// it can refer to the record before the answer arrives), else a fresh one. An id and a
/// code that disagree are refused by the domain.
fn new_record<T: std::str::FromStr>(
    id: Option<ID>,
    code: Option<String>,
    of_code: fn(&str) -> T,
    fresh: fn() -> T,
) -> async_graphql::Result<(T, Option<Text>)> {
    let code = optional_text("input.code", code.as_deref())?;
    let id = match (id, &code) {
        (Some(id), _) => parse_id("input.id", &id)?,
        (None, Some(code)) => of_code(code.as_str()),
        (None, None) => fresh(),
    };
    Ok((id, code))
}

#[derive(SimpleObject)]
pub struct UnitPayload {
    pub receipt: Receipt,
    pub unit: Option<Unit>,
}

#[derive(SimpleObject)]
pub struct MemberPayload {
    pub receipt: Receipt,
    pub member: Option<Member>,
}

#[derive(SimpleObject)]
pub struct OutingPayload {
    pub receipt: Receipt,
    pub outing: Option<Outing>,
}

/// The record a command wrote, as the model now has it: `id`, or else the stream of
/// `kind` the command wrote (so a retried creation names what the first attempt made).
async fn record<T: Send>(
    ctx: &Context<'_>,
    outcome: &AppendOutcome,
    id: Option<uuid::Uuid>,
    kind: StreamKind,
    at: impl FnOnce(&taizhang_read::ReadModel, uuid::Uuid, taizhang_store::Position) -> Option<T>,
) -> async_graphql::Result<Option<T>> {
    match id.or_else(|| Receipt::stream_of(outcome, kind)) {
        Some(id) => state(ctx).read(None, |m| at(m, id, m.position)).await,
        None => Ok(None),
    }
}

async fn unit_payload(
    ctx: &Context<'_>,
    outcome: AppendOutcome,
    unit: Option<UnitId>,
) -> async_graphql::Result<UnitPayload> {
    let unit =
        record(ctx, &outcome, unit.map(|u| u.0), StreamKind::Unit, |m, id, p| Unit::at(m, UnitId(id), p)).await?;
    Ok(UnitPayload { receipt: Receipt::new(&outcome), unit })
}

async fn member_payload(
    ctx: &Context<'_>,
    outcome: AppendOutcome,
    member: Option<MemberId>,
) -> async_graphql::Result<MemberPayload> {
    let at = |m: &taizhang_read::ReadModel, id, p| Member::at(m, MemberId(id), p);
    let member = record(ctx, &outcome, member.map(|m| m.0), StreamKind::Member, at).await?;
    Ok(MemberPayload { receipt: Receipt::new(&outcome), member })
}

async fn outing_payload(
    ctx: &Context<'_>,
    outcome: AppendOutcome,
    outing: Option<OutingId>,
) -> async_graphql::Result<OutingPayload> {
    let at = |m: &taizhang_read::ReadModel, id, p| Outing::at(m, OutingId(id), p);
    let outing = record(ctx, &outcome, outing.map(|o| o.0), StreamKind::Outing, at).await?;
    Ok(OutingPayload { receipt: Receipt::new(&outcome), outing })
}

#[derive(InputObject)]
pub struct RegisterUnitInput {
    /// Leave empty to have one assigned (the code's, when a code is given).
    pub id: Option<ID>,
    /// The unit's code in your own records (`SY-0001`): shown with it, accepted
    /// wherever its id is.
    pub code: Option<String>,
    pub name: String,
    pub industry: String,
    pub region: String,
    pub parent: Option<ID>,
}

#[derive(InputObject)]
pub struct ReclassifyUnitInput {
    pub unit: ID,
    pub industry: String,
    /// Why (kept in the log with the change).
    pub reason: String,
}

#[derive(InputObject)]
pub struct RenameUnitInput {
    pub unit: ID,
    pub name: String,
}

#[derive(InputObject)]
pub struct MoveUnitInput {
    pub unit: ID,
    pub region: String,
    pub parent: Option<ID>,
}

#[derive(Default)]
pub struct UnitMutations;

#[Object]
impl UnitMutations {
    #[graphql(guard = "Need(Permission::ManageUnits)")]
    async fn register_unit(
        &self,
        ctx: &Context<'_>,
        input: RegisterUnitInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<UnitPayload> {
        let (unit, code) = new_record(input.id, input.code, UnitId::of_code, UnitId::new)?;
        let command = RegisterUnit {
            unit,
            name: text("input.name", &input.name)?,
            industry: text("input.industry", &input.industry)?,
            region: text("input.region", &input.region)?,
            parent: input.parent.map(|p| parse_id("input.parent", &p)).transpose()?,
            code,
        };
        let outcome = execute(ctx, command_id, Command::RegisterUnit(command)).await?;
        unit_payload(ctx, outcome, None).await
    }

    #[graphql(guard = "Need(Permission::ManageUnits)")]
    async fn rename_unit(
        &self,
        ctx: &Context<'_>,
        input: RenameUnitInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<UnitPayload> {
        let unit = parse_id("input.unit", &input.unit)?;
        let command = RenameUnit { unit, name: text("input.name", &input.name)? };
        let outcome = execute(ctx, command_id, Command::RenameUnit(command)).await?;
        unit_payload(ctx, outcome, Some(unit)).await
    }

    /// Changes the industry a unit is counted under (reports by industry follow from
    /// this point of the log; as-of reads before it still see the old one).
    #[graphql(guard = "Need(Permission::ManageUnits)")]
    async fn reclassify_unit(
        &self,
        ctx: &Context<'_>,
        input: ReclassifyUnitInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<UnitPayload> {
        let unit = parse_id("input.unit", &input.unit)?;
        let command = ReclassifyUnit {
            unit,
            industry: text("input.industry", &input.industry)?,
            reason: text("input.reason", &input.reason)?,
        };
        let outcome = execute(ctx, command_id, Command::ReclassifyUnit(command)).await?;
        unit_payload(ctx, outcome, Some(unit)).await
    }

    /// Moves a unit to another region or parent unit.
    #[graphql(guard = "Need(Permission::ManageUnits)")]
    async fn move_unit(
        &self,
        ctx: &Context<'_>,
        input: MoveUnitInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<UnitPayload> {
        let unit = parse_id("input.unit", &input.unit)?;
        let command = MoveUnit {
            unit,
            region: text("input.region", &input.region)?,
            parent: input.parent.map(|p| parse_id("input.parent", &p)).transpose()?,
        };
        let outcome = execute(ctx, command_id, Command::MoveUnit(command)).await?;
        unit_payload(ctx, outcome, Some(unit)).await
    }
}

#[derive(InputObject)]
pub struct PersonalInput {
    pub name: String,
    /// Resident identity number (18 characters, checksum verified).
    pub national_id: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<Date>,
}

impl PersonalInput {
    /// The personal data, checked; errors name their field under `field` (e.g.
    /// `input.personal.`).
    fn parse(self, field: &str) -> async_graphql::Result<PersonalData> {
        let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty()).map(|s| s.trim().to_owned());
        let personal = PersonalData {
            name: text(&format!("{field}name"), &self.name)?,
            national_id: blank(self.national_id),
            phone: blank(self.phone),
            birth_date: self.birth_date,
        };
        personal.validate().map_err(|e| prefixed(&e, field))?;
        Ok(personal)
    }
}

#[derive(InputObject)]
pub struct CorrectPersonalDataInput {
    pub member: ID,
    /// The personal data as it should read, whole: what is left out is cleared.
    pub personal: PersonalInput,
    /// Why (kept in the log with the correction).
    pub reason: String,
}

#[derive(InputObject)]
pub struct RegisterMemberInput {
    pub id: Option<ID>,
    /// The member's code in your own records: shown with them, accepted wherever their
    /// id is.
    pub code: Option<String>,
    pub unit: ID,
    pub joined_on: Date,
    pub personal: PersonalInput,
}

#[derive(InputObject)]
pub struct TransferMemberInput {
    pub member: ID,
    pub to: ID,
    pub effective: Date,
}

#[derive(InputObject)]
pub struct EraseMemberInput {
    pub member: ID,
}

#[derive(Default)]
pub struct MemberMutations;

#[Object]
impl MemberMutations {
    /// Registers a member; personal data is sealed under a key of their own.
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn register_member(
        &self,
        ctx: &Context<'_>,
        input: RegisterMemberInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<MemberPayload> {
        let (member, code) = new_record(input.id, input.code, MemberId::of_code, MemberId::new)?;
        let command = RegisterMember {
            member,
            unit: parse_id("input.unit", &input.unit)?,
            joined_on: input.joined_on,
            personal: input.personal.parse("input.personal.")?,
            code,
        };
        let outcome = execute(ctx, command_id, Command::RegisterMember(command)).await?;
        member_payload(ctx, outcome, None).await
    }

    /// Corrects a member's personal data (a misspelt name, a new phone): sealed under
    /// the member's key like the registration's, which stays in the log beside it.
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn correct_personal_data(
        &self,
        ctx: &Context<'_>,
        input: CorrectPersonalDataInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<MemberPayload> {
        let member = parse_id("input.member", &input.member)?;
        let command = CorrectPersonalData {
            member,
            personal: input.personal.parse("input.personal.")?,
            reason: text("input.reason", &input.reason)?,
        };
        let outcome = execute(ctx, command_id, Command::CorrectPersonalData(command)).await?;
        member_payload(ctx, outcome, Some(member)).await
    }

    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn transfer_member(
        &self,
        ctx: &Context<'_>,
        input: TransferMemberInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<MemberPayload> {
        let member = parse_id("input.member", &input.member)?;
        let command = TransferMember { member, to: parse_id("input.to", &input.to)?, effective: input.effective };
        let outcome = execute(ctx, command_id, Command::TransferMember(command)).await?;
        member_payload(ctx, outcome, Some(member)).await
    }

    /// Destroys the member's key: personal data becomes unreadable everywhere, hours
    /// still count.
    #[graphql(guard = "Need(Permission::EraseMembers)")]
    async fn erase_member(
        &self,
        ctx: &Context<'_>,
        input: EraseMemberInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<MemberPayload> {
        let member = parse_id("input.member", &input.member)?;
        let outcome = execute(ctx, command_id, Command::EraseMember(EraseMember { member })).await?;
        member_payload(ctx, outcome, Some(member)).await
    }
}

/// Names the input path of a domain error about a field.
fn prefixed(e: &DomainError, prefix: &str) -> async_graphql::Error {
    let mut e = e.clone();
    if let DomainError::Empty { field }
    | DomainError::TooLong { field, .. }
    | DomainError::InvalidValue { field, .. }
    | DomainError::InvalidHours { field, .. } = &mut e
    {
        *field = format!("{prefix}{field}");
    }
    error::domain(&e)
}

#[derive(InputObject)]
pub struct OutingDetailsInput {
    pub date: Date,
    /// Start time, HH:MM (China Standard Time).
    pub start: String,
    pub end: String,
    pub place: String,
    pub category: String,
    pub description: Option<String>,
    /// How many people the outing served.
    #[graphql(default)]
    pub beneficiaries: NonNegative,
}

impl OutingDetailsInput {
    fn parse(self, at: &str) -> async_graphql::Result<OutingDetails> {
        let field = |name: &str| format!("{at}.{name}");
        Ok(OutingDetails {
            date: self.date,
            span: span(&field("start"), &self.start, &field("end"), &self.end)?,
            place: text(&field("place"), &self.place)?,
            category: text(&field("category"), &self.category)?,
            description: optional_text(&field("description"), self.description.as_deref())?,
            beneficiaries: self.beneficiaries.into(),
        })
    }
}

fn span(start_field: &str, start: &str, end_field: &str, end: &str) -> async_graphql::Result<TimeRange> {
    let domain = |e: DomainError| error::domain(&e);
    let start = ClockTime::parse(start_field, start).map_err(domain)?;
    let end = ClockTime::parse(end_field, end).map_err(domain)?;
    TimeRange::new(end_field, start, end).map_err(domain)
}

/// One participant; the span defaults to the outing's, the hours to the span's length.
#[derive(InputObject)]
pub struct ParticipantInput {
    pub member: ID,
    pub start: Option<String>,
    pub end: Option<String>,
    /// Hours served, travel excluded: `2`, `2.5` or `2:30`.
    pub hours: Option<String>,
}

fn participants(list: Vec<ParticipantInput>) -> async_graphql::Result<Vec<ParticipationInput>> {
    list.into_iter().enumerate().map(|(i, p)| p.parse(&format!("input.participants[{i}]"))).collect()
}

impl ParticipantInput {
    /// The participant, checked; errors name their field under `field`.
    fn parse(self, field: &str) -> async_graphql::Result<ParticipationInput> {
        let at = |name: &str| format!("{field}.{name}");
        let span = match (&self.start, &self.end) {
            (None, None) => None,
            (Some(s), Some(e)) => Some(span(&at("start"), s, &at("end"), e)?),
            _ => return Err(invalid(&at("end"), "give both start and end, or neither")),
        };
        Ok(ParticipationInput {
            member: parse_id(&at("member"), &self.member)?,
            span,
            minutes: self
                .hours
                .map(|h| Minutes::parse_hours(&at("hours"), &h))
                .transpose()
                .map_err(|e| error::domain(&e))?,
        })
    }
}

#[derive(InputObject)]
pub struct RegisterOutingInput {
    pub id: Option<ID>,
    /// The outing's code in your own records: shown with it, accepted wherever its id is.
    pub code: Option<String>,
    pub unit: ID,
    pub details: OutingDetailsInput,
    pub participants: Vec<ParticipantInput>,
}

#[derive(InputObject)]
pub struct AmendOutingInput {
    pub outing: ID,
    /// The outing as it should have been recorded.
    pub details: OutingDetailsInput,
    pub participants: Vec<ParticipantInput>,
    pub reason: String,
    /// The version you corrected (`Outing.version`); a newer stored version is a conflict.
    pub expected_version: Option<NonNegative>,
}

/// One participant of an outing corrected, the rest of it as it stands.
#[derive(InputObject)]
pub struct AmendParticipationInput {
    pub outing: ID,
    /// The participant as they should be listed: added when not listed yet; their
    /// span and hours replaced when listed (left out: the outing's span and its length).
    pub participant: ParticipantInput,
    /// Take the member off the outing instead.
    #[graphql(default)]
    pub remove: bool,
    pub reason: String,
    /// The version you corrected (`Outing.version`); without it, the version as it
    /// stands when the correction is made.
    pub expected_version: Option<NonNegative>,
}

#[derive(InputObject)]
pub struct VoidOutingInput {
    pub outing: ID,
    pub reason: String,
    pub expected_version: Option<NonNegative>,
}

#[derive(Default)]
pub struct OutingMutations;

#[Object]
impl OutingMutations {
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn register_outing(
        &self,
        ctx: &Context<'_>,
        input: RegisterOutingInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<OutingPayload> {
        let (outing, code) = new_record(input.id, input.code, OutingId::of_code, OutingId::new)?;
        let command = RegisterOuting {
            outing,
            unit: parse_id("input.unit", &input.unit)?,
            details: input.details.parse("input.details")?,
            participants: participants(input.participants)?,
            code,
        };
        let outcome = execute(ctx, command_id, Command::RegisterOuting(command)).await?;
        outing_payload(ctx, outcome, None).await
    }

    /// Corrects an outing; the earlier record stays in its history.
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn amend_outing(
        &self,
        ctx: &Context<'_>,
        input: AmendOutingInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<OutingPayload> {
        let outing = parse_id("input.outing", &input.outing)?;
        let command = AmendOuting {
            outing,
            details: input.details.parse("input.details")?,
            participants: participants(input.participants)?,
            reason: text("input.reason", &input.reason)?,
            expected_version: input.expected_version.map(Into::into),
        };
        let outcome = execute(ctx, command_id, Command::AmendOuting(command)).await?;
        outing_payload(ctx, outcome, Some(outing)).await
    }

    /// Corrects one participant of an outing (their hours or span, added, or removed):
    /// an amendment of the outing that restates the rest as it stands, so it is
    /// checked, kept in the history and re-verified like any amendment.
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn amend_participation(
        &self,
        ctx: &Context<'_>,
        input: AmendParticipationInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<OutingPayload> {
        let outing: OutingId = parse_id("input.outing", &input.outing)?;
        let changed = input.participant.parse("input.participant")?;
        let reason = text("input.reason", &input.reason)?;
        let state = state(ctx);
        // The outing as it stands: the read model once it has every committed event.
        let head = state.ledger.store().head();
        let current = state
            .read(Some(head), |m| {
                m.outing(outing, m.position)
                    .map(|view| (view.details(), view.participants().collect::<Vec<_>>(), view.version()))
            })
            .await?;
        let Some((details, listed, version)) = current else {
            return Err(error::domain(&DomainError::OutingNotFound(outing)));
        };
        let mut participants: Vec<ParticipationInput> = listed
            .iter()
            .filter(|p| p.member != changed.member)
            .map(|p| ParticipationInput { member: p.member, span: Some(p.span), minutes: Some(p.minutes) })
            .collect();
        let was_listed = participants.len() < listed.len();
        if input.remove {
            if !was_listed {
                return Err(invalid(
                    "input.participant.member",
                    format!("member {} is not listed on the outing", changed.member),
                ));
            }
        } else {
            participants.push(changed);
        }
        let expected_version = Some(input.expected_version.map_or(version, |v| u64::from(u32::from(v))));
        let command = AmendOuting { outing, details, participants, reason, expected_version };
        let outcome = execute(ctx, command_id, Command::AmendOuting(command)).await?;
        outing_payload(ctx, outcome, Some(outing)).await
    }

    /// Voids an outing registered by mistake; it stays in the ledger, struck out.
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn void_outing(
        &self,
        ctx: &Context<'_>,
        input: VoidOutingInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<OutingPayload> {
        let outing = parse_id("input.outing", &input.outing)?;
        let command = VoidOuting {
            outing,
            reason: text("input.reason", &input.reason)?,
            expected_version: input.expected_version.map(Into::into),
        };
        let outcome = execute(ctx, command_id, Command::VoidOuting(command)).await?;
        outing_payload(ctx, outcome, Some(outing)).await
    }
}

#[derive(InputObject)]
pub struct VerifyOutingInput {
    pub outing: ID,
    pub note: Option<String>,
    /// The version you checked: a verification covers exactly that record.
    pub expected_version: Option<NonNegative>,
}

#[derive(InputObject)]
pub struct VerifyOutingsInput {
    /// At most 1,000 outings, each once.
    pub outings: Vec<VerifyOutingInput>,
    /// The note of every verification that gives none of its own.
    pub note: Option<String>,
}

/// The most outings one `verifyOutings` verifies.
pub const MAX_BULK_VERIFICATIONS: usize = 1_000;

/// Why one command of a bulk mutation did not take effect: the `extensions.code` and
/// message the single mutation would have answered with.
#[derive(SimpleObject, Clone)]
pub struct Refusal {
    pub code: String,
    pub message: String,
}

impl From<async_graphql::Error> for Refusal {
    fn from(e: async_graphql::Error) -> Self {
        let code = e.extensions.as_ref().and_then(|x| x.get("code")).map_or_else(String::new, |c| match c {
            async_graphql::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        Self { code, message: e.message }
    }
}

/// One outing of a bulk verification: its receipt, or why it was refused.
#[derive(SimpleObject, Clone)]
pub struct VerificationResult {
    pub outing: ID,
    pub receipt: Option<Receipt>,
    pub refused: Option<Refusal>,
}

#[derive(SimpleObject, Clone)]
pub struct VerifyOutingsPayload {
    /// Outings verified by this request or, on a retry, by its first sending.
    pub verified: usize,
    pub refused: usize,
    /// One per outing asked, in the order asked.
    pub results: Vec<VerificationResult>,
}

#[derive(InputObject)]
pub struct RecordEvaluationInput {
    pub member: ID,
    /// `2011H1` or `2011H2`.
    pub half_year: String,
    /// 群众评议, 0–100.
    pub public_score: i64,
    /// 领导点评, 0–100.
    pub leader_score: i64,
    pub note: Option<String>,
}

#[derive(Default)]
pub struct ReviewMutations;

#[Object]
impl ReviewMutations {
    #[graphql(guard = "Need(Permission::Review)")]
    async fn verify_outing(
        &self,
        ctx: &Context<'_>,
        input: VerifyOutingInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<OutingPayload> {
        let outing = parse_id("input.outing", &input.outing)?;
        let command = VerifyOuting {
            outing,
            note: optional_text("input.note", input.note.as_deref())?,
            expected_version: input.expected_version.map(Into::into),
        };
        let outcome = execute(ctx, command_id, Command::VerifyOuting(command)).await?;
        outing_payload(ctx, outcome, Some(outing)).await
    }

    /// Verifies many outings, each as `verifyOuting` would: each on its own, so an
    /// outing changed since it was checked (or not found) is refused with its reason
    /// and the others are verified. Each verification's command id derives from
    /// `commandId` and the outing: send the same request again to retry safely.
    #[graphql(guard = "Need(Permission::Review)")]
    async fn verify_outings(
        &self,
        ctx: &Context<'_>,
        input: VerifyOutingsInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<VerifyOutingsPayload> {
        if input.outings.len() > MAX_BULK_VERIFICATIONS {
            let asked = Some(input.outings.len() as u64);
            return Err(error::over_limit("outings per verifyOutings", MAX_BULK_VERIFICATIONS as u64, asked));
        }
        let shared_note = optional_text("input.note", input.note.as_deref())?;
        let mut commands = Vec::with_capacity(input.outings.len());
        let mut seen = std::collections::HashSet::new();
        for (i, entry) in input.outings.iter().enumerate() {
            let field = format!("input.outings[{i}]");
            let outing: OutingId = parse_id(&format!("{field}.outing"), &entry.outing)?;
            if !seen.insert(outing) {
                return Err(invalid(&format!("{field}.outing"), format!("outing {outing} is asked twice")));
            }
            let note = optional_text(&format!("{field}.note"), entry.note.as_deref())?;
            let expected_version = entry.expected_version.map(Into::into);
            commands.push(VerifyOuting { outing, note: note.or_else(|| shared_note.clone()), expected_version });
        }
        let state = state(ctx);
        let principal = access::principal(ctx)?;
        let bulk = command_id.unwrap_or_else(uuid::Uuid::now_v7);
        let batch = commands
            .iter()
            .map(|c| {
                let context = CommandContext {
                    command_id: uuid::Uuid::new_v5(&bulk, c.outing.0.as_bytes()),
                    scope: principal.scope(),
                    ..CommandContext::new(principal.actor())
                };
                (context, Command::VerifyOuting(c.clone()))
            })
            .collect();
        let answers = state.ledger.execute_batch(batch).await.map_err(error::app)?;
        let mut payload = VerifyOutingsPayload { verified: 0, refused: 0, results: Vec::with_capacity(answers.len()) };
        let mut last = None;
        for (command, answer) in commands.iter().zip(answers) {
            let outing = ID(command.outing.to_string());
            match answer {
                Ok(outcome) => {
                    state.metrics.command_applied(&outcome);
                    last = last.max(Some(outcome.last_position));
                    payload.verified += 1;
                    payload.results.push(VerificationResult {
                        outing,
                        receipt: Some(Receipt::new(&outcome)),
                        refused: None,
                    });
                }
                Err(e) => {
                    payload.refused += 1;
                    payload.results.push(VerificationResult {
                        outing,
                        receipt: None,
                        refused: Some(error::app(e).into()),
                    });
                }
            }
        }
        if let Some(position) = last {
            state.projector.wait_for(position, READ_YOUR_WRITES_WAIT).await.map_err(error::read)?;
        }
        Ok(payload)
    }

    #[graphql(guard = "Need(Permission::Review)")]
    async fn record_evaluation(
        &self,
        ctx: &Context<'_>,
        input: RecordEvaluationInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<MemberPayload> {
        let member = parse_id("input.member", &input.member)?;
        let domain = |e: DomainError| error::domain(&e);
        let command = RecordEvaluation {
            member,
            half_year: HalfYear::parse("input.halfYear", &input.half_year).map_err(domain)?,
            public_score: Score::new("input.publicScore", input.public_score).map_err(domain)?,
            leader_score: Score::new("input.leaderScore", input.leader_score).map_err(domain)?,
            note: optional_text("input.note", input.note.as_deref())?,
        };
        let outcome = execute(ctx, command_id, Command::RecordEvaluation(command)).await?;
        member_payload(ctx, outcome, Some(member)).await
    }
}
