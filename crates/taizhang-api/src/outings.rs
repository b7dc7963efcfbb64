//! Outings: `outing`, the unit's and the member's ledgers, the `Outing` type with its
//! participants and history, and registering, amending, voiding and verifying outings
//! (one by one, or up to 1,000 at once).

use std::borrow::Cow;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use taizhang_app::CommandContext;
use taizhang_core::*;
use taizhang_read::ledger::{self, LedgerEntry, PageRequest};
use taizhang_read::model::{Change, HistoryItem, OutingView};
use taizhang_read::ReadModel;
use taizhang_store::{AppendOutcome, EventStore, Position};
use time::{Date, OffsetDateTime};

use crate::access::{self, Need, Permission};
use crate::error::{self, invalid, not_found};
use crate::members::{load_member, Member};
use crate::mutation::{execute, new_record, record};
use crate::state;
use crate::types::*;
use crate::units::{load_unit, Unit};
use crate::READ_YOUR_WRITES_WAIT;

/// One member's part in an outing.
#[derive(Clone)]
pub struct Participant {
    part: Participation,
    as_of_position: Position,
}

#[Object]
impl Participant {
    async fn member_id(&self) -> ID {
        ID(self.part.member.to_string())
    }

    async fn start(&self) -> String {
        self.part.span.start.to_string()
    }

    async fn end(&self) -> String {
        self.part.span.end.to_string()
    }

    async fn minutes(&self) -> u32 {
        self.part.minutes.get()
    }

    /// Hours with two decimals ("1.50").
    async fn hours(&self) -> String {
        self.part.minutes.to_string()
    }

    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        load_member(ctx, self.part.member, self.as_of_position).await
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Registered,
    Amended,
    Voided,
    Verified,
    /// A clerk opened check-in (again, with a new site code).
    CheckInOpened,
    /// A member checked in at the site (`member`).
    CheckedIn,
    /// A member checked out (`member`); `credited` when it recorded their hours.
    CheckedOut,
}

/// One change of an outing: who made it, when, and why.
#[derive(SimpleObject, Clone)]
pub struct OutingChange {
    pub position: Position,
    pub recorded_at: OffsetDateTime,
    pub actor: ActorView,
    pub kind: ChangeKind,
    /// Why an amendment or a void was made.
    pub reason: Option<String>,
    /// A reviewer's note on a verification.
    pub note: Option<String>,
    /// The member who checked in or out.
    pub member: Option<ID>,
    /// Whether a check-out recorded the member's hours (none when they were there for
    /// less than a minute of the outing's span).
    pub credited: Option<bool>,
}

impl From<&HistoryItem> for OutingChange {
    fn from(h: &HistoryItem) -> Self {
        let (mut member, mut credited) = (None, None);
        let (kind, reason, note) = match &h.change {
            Change::Registered => (ChangeKind::Registered, None, None),
            Change::Amended { reason } => (ChangeKind::Amended, Some(reason.to_string()), None),
            Change::Voided { reason } => (ChangeKind::Voided, Some(reason.to_string()), None),
            Change::Verified { note } => (ChangeKind::Verified, None, note.as_ref().map(|n| n.to_string())),
            Change::CheckInOpened => (ChangeKind::CheckInOpened, None, None),
            Change::CheckedIn { member: m } => {
                member = Some(ID(m.to_string()));
                (ChangeKind::CheckedIn, None, None)
            }
            Change::CheckedOut { member: m, credited: c } => {
                (member, credited) = (Some(ID(m.to_string())), Some(*c));
                (ChangeKind::CheckedOut, None, None)
            }
        };
        Self {
            position: h.position,
            recorded_at: h.recorded_at.to_datetime(),
            actor: h.actor.into(),
            kind,
            reason,
            note,
            member,
            credited,
        }
    }
}

/// A volunteer outing as known at `asOfPosition`: its current content, whether it is
/// verified or voided, and every change in log order. Fields are computed only when a
/// client asks for them: a ledger page of 50 is mostly what clients leave out.
#[derive(Clone)]
pub struct Outing {
    id: OutingId,
    code: Option<Text>,
    unit: UnitId,
    details: OutingDetails,
    participants: Vec<Participation>,
    verified: bool,
    voided: bool,
    history: Vec<HistoryItem>,
    as_of_position: Position,
}

impl Outing {
    pub fn from_view(view: &OutingView<'_>, position: Position) -> Self {
        Self {
            id: view.id,
            code: view.code().cloned(),
            unit: view.unit,
            details: view.details(),
            participants: view.participants().collect(),
            verified: view.verified,
            voided: view.voided,
            history: view.history().collect(),
            as_of_position: position,
        }
    }

    pub fn from_entry(entry: LedgerEntry, position: Position) -> Self {
        Self {
            id: entry.outing,
            code: entry.code,
            unit: entry.unit,
            details: entry.details,
            participants: entry.participants,
            verified: entry.verified,
            voided: entry.voided,
            history: entry.history,
            as_of_position: position,
        }
    }

    pub fn at(model: &ReadModel, outing: OutingId, position: Position) -> Option<Self> {
        model.outing(outing, position).map(|view| Self::from_view(&view, position))
    }

    fn total_minutes(&self) -> u64 {
        self.participants.iter().map(|p| p.minutes.get() as u64).sum()
    }
}

#[Object]
impl Outing {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The outing's code in the unit's records, accepted wherever its id is.
    async fn code(&self) -> Option<&str> {
        self.code.as_ref().map(Text::as_str)
    }

    async fn date(&self) -> Date {
        self.details.date
    }

    /// Start time, HH:MM (China Standard Time).
    async fn start(&self) -> String {
        self.details.span.start.to_string()
    }

    async fn end(&self) -> String {
        self.details.span.end.to_string()
    }

    async fn place(&self) -> &str {
        self.details.place.as_str()
    }

    async fn category(&self) -> &str {
        self.details.category.as_str()
    }

    async fn description(&self) -> Option<&str> {
        self.details.description.as_ref().map(Text::as_str)
    }

    /// How many people the outing served.
    async fn beneficiaries(&self) -> u32 {
        self.details.beneficiaries
    }

    async fn participants(&self) -> Vec<Participant> {
        self.participants.iter().map(|p| Participant { part: *p, as_of_position: self.as_of_position }).collect()
    }

    /// Everyone's minutes together.
    async fn minutes(&self) -> u64 {
        self.total_minutes()
    }

    /// Everyone's hours together, with two decimals.
    async fn hours(&self) -> String {
        hours_text(self.total_minutes())
    }

    async fn verified(&self) -> bool {
        self.verified
    }

    async fn voided(&self) -> bool {
        self.voided
    }

    /// The outing stream's version: pass it as `expectedVersion` when correcting.
    async fn version(&self) -> u64 {
        self.history.len().saturating_sub(1) as u64
    }

    /// Registration first, then every correction and verification, in log order.
    async fn history(&self) -> Vec<OutingChange> {
        self.history.iter().map(OutingChange::from).collect()
    }

    async fn as_of_position(&self) -> Position {
        self.as_of_position
    }

    async fn unit(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Unit>> {
        load_unit(ctx, self.unit, self.as_of_position).await
    }
}

/// A line of a ledger: the outing and the totals up to it.
pub struct LedgerLine {
    outing: Outing,
    minutes: u64,
    credit_minutes: u64,
    running_recorded_minutes: u64,
    running_verified_minutes: u64,
}

impl LedgerLine {
    pub fn new(entry: LedgerEntry, position: Position) -> Self {
        Self {
            minutes: entry.minutes,
            credit_minutes: entry.credit_minutes,
            running_recorded_minutes: entry.running_recorded_minutes,
            running_verified_minutes: entry.running_verified_minutes,
            outing: Outing::from_entry(entry, position),
        }
    }
}

#[Object]
impl LedgerLine {
    async fn outing(&self) -> &Outing {
        &self.outing
    }

    /// The line's minutes: every participant's on a unit ledger, the member's own on a
    /// member ledger.
    async fn minutes(&self) -> u64 {
        self.minutes
    }

    /// The line's hours, with two decimals.
    async fn hours(&self) -> String {
        hours_text(self.minutes)
    }

    /// Of the line's hours, those recorded by checking in and out at the site (credit
    /// hours); the rest a clerk entered (honour hours).
    async fn credit_hours(&self) -> String {
        hours_text(self.credit_minutes)
    }

    async fn honour_hours(&self) -> String {
        hours_text(self.minutes - self.credit_minutes)
    }

    /// Recorded hours up to and including this line (voided lines add nothing).
    async fn running_recorded_hours(&self) -> String {
        hours_text(self.running_recorded_minutes)
    }

    /// Verified hours up to and including this line.
    async fn running_verified_hours(&self) -> String {
        hours_text(self.running_verified_minutes)
    }
}

/// The whole ledger's totals, beside the page.
#[derive(SimpleObject, Clone)]
pub struct LedgerTotals {
    pub total_count: usize,
    pub as_of_position: Position,
    pub total_recorded_hours: String,
    pub total_verified_hours: String,
    /// Of the recorded hours, the credit hours (from check-in and check-out).
    pub total_credit_hours: String,
}

#[derive(SimpleObject)]
pub struct OutingPayload {
    pub receipt: Receipt,
    pub outing: Option<Outing>,
}

async fn outing_payload(
    ctx: &Context<'_>,
    outcome: AppendOutcome,
    outing: Option<OutingId>,
) -> async_graphql::Result<OutingPayload> {
    let at = |m: &taizhang_read::ReadModel, id, p| Outing::at(m, OutingId(id), p);
    let outing = record(ctx, &outcome, outing.map(|o| o.0), StreamKind::Outing, "outing", at).await?;
    Ok(OutingPayload { receipt: Receipt::new(&outcome), outing })
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
    pub(crate) fn parse(self, at: &str) -> async_graphql::Result<OutingDetails> {
        under(&at, |field| {
            Ok(OutingDetails {
                date: self.date,
                span: span(&field("start"), &self.start, &field("end"), &self.end)?,
                place: text(&field("place"), &self.place)?,
                category: text(&field("category"), &self.category)?,
                description: optional_text(&field("description"), self.description.as_deref())?,
                beneficiaries: self.beneficiaries.into(),
            })
        })
    }
}

/// `check`, whose errors name fields under `at` (`{at}.{name}`), given how to name a
/// field. Names are made only for a check that failed, run again to name them: the
/// checks depend on their input alone, so it fails the same way. A valid input, the
/// common case, formats none (a mutation's input formatted seven or eight names, each
/// an allocation, for errors that did not happen).
fn under<T>(
    at: &dyn std::fmt::Display,
    check: impl Fn(&dyn Fn(&str) -> Cow<'_, str>) -> async_graphql::Result<T>,
) -> async_graphql::Result<T> {
    check(&|name| Cow::Borrowed(name)).or_else(|_| check(&|name| Cow::Owned(format!("{at}.{name}"))))
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
    list.into_iter().enumerate().map(|(i, p)| p.parse(&format_args!("input.participants[{i}]"))).collect()
}

impl ParticipantInput {
    /// The participant, checked; errors name their field under `field`.
    fn parse(self, field: &dyn std::fmt::Display) -> async_graphql::Result<ParticipationInput> {
        under(field, |at| {
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
                    .as_deref()
                    .map(|h| Minutes::parse_hours(&at("hours"), h))
                    .transpose()
                    .map_err(|e| error::domain(&e))?,
            })
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
        let changed = input.participant.parse(&"input.participant")?;
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
        // Boxed: see the crate's note on root fields.
        let answers = Box::pin(state.ledger.execute_batch(batch)).await.map_err(error::app)?;
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
}

#[derive(Default)]
pub struct OutingQueries;

#[Object]
impl OutingQueries {
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    async fn outing(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<Outing>> {
        let outing: OutingId = parse_id("id", &id)?;
        let as_of = crate::as_of(as_of);
        state(ctx).read(min_position.map(Into::into), |m| Outing::at(m, outing, as_of.position(m))).await
    }

    /// A unit's ledger (台账): its outings in registration order, corrections beside
    /// what they correct, running totals.
    #[graphql(
        guard = "Need(Permission::ReadRecords)",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity"
    )]
    async fn unit_ledger(
        &self,
        ctx: &Context<'_>,
        unit: ID,
        first: Option<i32>,
        after: Option<String>,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Connection<String, LedgerLine, LedgerTotals, EmptyFields>> {
        let id: UnitId = parse_id("unit", &unit)?;
        ledger_page(ctx, first, after, as_of, min_position, |m, a, p| ledger::unit_ledger(m, id, a, p))
            .await?
            .ok_or_else(|| not_found("unit", id))
    }

    /// A member's ledger: the outings they served in, with their own hours.
    #[graphql(
        guard = "Need(Permission::ReadRecords)",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity"
    )]
    async fn member_ledger(
        &self,
        ctx: &Context<'_>,
        member: ID,
        first: Option<i32>,
        after: Option<String>,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Connection<String, LedgerLine, LedgerTotals, EmptyFields>> {
        let id: MemberId = parse_id("member", &member)?;
        ledger_page(ctx, first, after, as_of, min_position, |m, a, p| ledger::member_ledger(m, id, a, p))
            .await?
            .ok_or_else(|| not_found("member", id))
    }
}

async fn ledger_page(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    as_of: Option<AsOfInput>,
    min_position: Option<NonNegative>,
    build: impl FnOnce(&taizhang_read::ReadModel, &taizhang_read::AsOf, PageRequest) -> Option<ledger::LedgerPage>,
) -> async_graphql::Result<Option<Connection<String, LedgerLine, LedgerTotals, EmptyFields>>> {
    let page = Page::new(first, after)?;
    let as_of = crate::as_of(as_of);
    let built = state(ctx)
        .read(min_position.map(Into::into), |m| {
            build(m, &as_of, PageRequest { offset: page.offset, limit: page.limit })
        })
        .await?;
    Ok(built.map(|l| {
        let totals = LedgerTotals {
            total_count: l.total_entries,
            as_of_position: l.as_of_position,
            total_recorded_hours: hours_text(l.total_recorded_minutes),
            total_verified_hours: hours_text(l.total_verified_minutes),
            total_credit_hours: hours_text(l.total_credit_minutes),
        };
        let position = l.as_of_position;
        let lines = l.entries.into_iter().map(|e| LedgerLine::new(e, position)).collect();
        page.connection(lines, l.has_next, totals)
    }))
}
