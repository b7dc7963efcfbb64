//! Members: `member`, `members` (found by code or name, a name only where the caller may
//! read it), the `Member` type with its sealed personal data (opened through a data
//! loader, where the caller may read it), and registering, correcting, transferring,
//! erasing and evaluating members.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};
use taizhang_app::Personal;
use taizhang_core::*;
use taizhang_read::ReadModel;
use taizhang_store::{AppendOutcome, Position};
use time::Date;

use crate::access::{self, Need, Permission};
use crate::error::{self, invalid};
use crate::mutation::{execute, new_record, record};
use crate::types::*;
use crate::units::{load_unit, Unit};
use crate::{state, ApiState};

/// A half-year evaluation (一诺双评).
#[derive(SimpleObject, Clone)]
pub struct Evaluation {
    pub half_year: String,
    pub public_score: u8,
    pub leader_score: u8,
    pub position: Position,
}

/// A Party member serving with a unit, as known at `asOfPosition`.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Member {
    /// The member's code in the unit's records, accepted wherever their id is.
    pub code: Option<String>,
    pub joined_on: Date,
    /// Erased members keep their hours; their personal data can no longer be read.
    pub erased: bool,
    pub evaluations: Vec<Evaluation>,
    pub as_of_position: Position,
    #[graphql(skip)]
    pub member_id: MemberId,
    #[graphql(skip)]
    pub unit_id: Option<UnitId>,
    /// The member's unit at the head of the log, whatever `asOfPosition` asks.
    #[graphql(skip)]
    pub unit_now: Option<UnitId>,
}

impl Member {
    pub fn at(model: &ReadModel, member: MemberId, position: Position) -> Option<Self> {
        let history = model.members.get(&member)?;
        if !history.registered_by(position) {
            return None;
        }
        let joined = history.memberships.first()?;
        Some(Self {
            code: model.code(member.0, position).map(ToString::to_string),
            joined_on: joined.since,
            erased: history.erased_at.is_some_and(|p| p <= position),
            evaluations: history
                .evaluations
                .iter()
                .filter(|e| e.position <= position)
                .map(|e| Evaluation {
                    half_year: e.half_year.to_string(),
                    public_score: e.public_score.get(),
                    leader_score: e.leader_score.get(),
                    position: e.position,
                })
                .collect(),
            as_of_position: position,
            member_id: member,
            unit_id: model.member_unit(member, position),
            unit_now: model.member_unit(member, model.position),
        })
    }
}

/// Refuses `FORBIDDEN` unless the caller may read the personal data (or data derived
/// from it, such as an age) of a member who belonged to `unit_then` at the position
/// asked and belongs to `unit_now` today: a clerk, only when both are their units, so
/// that neither an `asOf` before a transfer nor one after it opens another unit's member.
pub fn personal_reach(
    principal: &access::Principal,
    unit_then: Option<UnitId>,
    unit_now: Option<UnitId>,
) -> async_graphql::Result<()> {
    let reaches = |unit: Option<UnitId>| unit.is_some_and(|u| principal.reaches(Permission::ReadPersonal, u));
    if reaches(unit_then) && reaches(unit_now) {
        return Ok(());
    }
    let refused = access::forbidden(principal.role, Permission::ReadPersonal);
    Err(error::with(refused, "reason", "the member belongs to a unit outside this token's scope"))
}

#[ComplexObject]
impl Member {
    async fn id(&self) -> ID {
        ID(self.member_id.to_string())
    }

    async fn unit(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Unit>> {
        match self.unit_id {
            Some(u) => load_unit(ctx, u, self.as_of_position).await,
            None => Ok(None),
        }
    }

    /// Name and contact details, opened with the member's key; null once erased. A
    /// clerk sees those of their own units' members only (at the position asked and now).
    #[graphql(guard = "Need(Permission::ReadPersonal)")]
    async fn personal(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PersonalInfo>> {
        personal_reach(access::principal(ctx)?, self.unit_id, self.unit_now)?;
        let loader = ctx.data_unchecked::<DataLoader<PersonalLoader>>();
        Ok(loader.load_one(self.member_id).await?.flatten())
    }
}

#[derive(SimpleObject, Clone)]
pub struct PersonalInfo {
    pub name: String,
    pub national_id: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<Date>,
}

/// Opens members' personal data, many per batch.
pub struct PersonalLoader(pub Arc<ApiState>);

impl Loader<MemberId> for PersonalLoader {
    type Value = Option<PersonalInfo>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[MemberId]) -> Result<HashMap<MemberId, Self::Value>, Self::Error> {
        let mut out = HashMap::with_capacity(keys.len());
        for member in keys {
            let info = match self.0.ledger.personal(*member).await.map_err(error::app)? {
                Personal::Known(p) => Some(PersonalInfo {
                    name: p.name.to_string(),
                    national_id: p.national_id,
                    phone: p.phone,
                    birth_date: p.birth_date,
                }),
                Personal::Erased => None,
            };
            out.insert(*member, info);
        }
        Ok(out)
    }
}

#[derive(SimpleObject)]
pub struct MemberPayload {
    pub receipt: Receipt,
    pub member: Option<Member>,
}

pub(crate) async fn member_payload(
    ctx: &Context<'_>,
    outcome: AppendOutcome,
    member: Option<MemberId>,
) -> async_graphql::Result<MemberPayload> {
    let at = |m: &taizhang_read::ReadModel, id, p| Member::at(m, MemberId(id), p);
    let member = record(ctx, &outcome, member.map(|m| m.0), StreamKind::Member, "member", at).await?;
    Ok(MemberPayload { receipt: Receipt::new(&outcome), member })
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

    /// Shows the member on the notice board, as they consented (their name, post and
    /// commitments), or takes their card down (`shown: false`).
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn set_public_card(
        &self,
        ctx: &Context<'_>,
        member: ID,
        shown: bool,
        post: Option<String>,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<MemberPayload> {
        let member = parse_id("member", &member)?;
        let post = post.filter(|p| !p.trim().is_empty()).map(|p| text("post", &p)).transpose()?;
        let outcome = execute(ctx, command_id, Command::SetPublicCard(SetPublicCard { member, shown, post })).await?;
        member_payload(ctx, outcome, Some(member)).await
    }

    /// Destroys the member's key: personal data becomes unreadable everywhere, hours
    /// still count.
    #[graphql(guard = "Need(Permission::ErasePersonal)")]
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

/// The most members whose sealed names one search opens: a search by name of more
/// is asked to narrow itself by unit, region or industry.
const MAX_NAMES_SEARCHED: usize = 10_000;

#[derive(Default)]
pub struct MemberQueries;

#[Object]
impl MemberQueries {
    /// The members of a unit shown on the notice board, as they consented: name and
    /// post, nothing else (never an erased member), at most 200.
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn public_members(
        &self,
        ctx: &Context<'_>,
        unit: ID,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Vec<PublicMember>> {
        let unit: UnitId = parse_id("unit", &unit)?;
        let state = state(ctx);
        let as_of = crate::as_of(as_of);
        let position = state.read(min_position.map(Into::into), |m| as_of.position(m)).await?;
        public_members(state, unit, position).await.map_err(error::app)
    }

    /// The members, found by what a clerk knows of them: `search` matches a part of the
    /// code or of the name (any case), a name only where the caller may read the
    /// member's personal data (a clerk: their own units' members), and at most 10,000
    /// names per search; `unit` (code or id), `region` and `industry` are those of the
    /// member's unit at the as-of position. All given must hold. In order of code.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "Need(Permission::ReadRecords)",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity"
    )]
    async fn members(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        unit: Option<ID>,
        region: Option<String>,
        industry: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Connection<String, Member, TotalCount, EmptyFields>> {
        let page = Page::new(first, after)?;
        let as_of = crate::as_of(as_of);
        let search = search_text(search)?;
        let unit: Option<UnitId> = unit.map(|u| parse_id("unit", &u)).transpose()?;
        let caller = access::principal(ctx)?;
        let state = state(ctx);
        // The members of the units asked for, by code; those whose code does not match
        // and whose name the caller may read, to open.
        let (mut found, unnamed, position) = state
            .read(min_position.map(Into::into), |m| {
                let position = as_of.position(m);
                let mut found: Vec<(String, MemberId)> = Vec::new();
                let mut unnamed = Vec::new();
                // A unit's members are listed with it: a clerk's search of their own unit
                // looks at those alone, not at the city's.
                let candidates: Box<dyn Iterator<Item = &MemberId>> = match unit {
                    Some(u) => Box::new(m.unit_members.get(&u).into_iter().flatten()),
                    None => Box::new(m.members.keys()),
                };
                for member in candidates {
                    let Some(u) = m.member_unit(*member, position) else { continue };
                    let Some(v) = m.unit(u, position) else { continue };
                    let wanted = unit.is_none_or(|w| w == u)
                        && region.as_ref().is_none_or(|r| v.region.as_str() == r)
                        && industry.as_ref().is_none_or(|i| v.industry.as_str() == i);
                    if !wanted {
                        continue;
                    }
                    let code = m.code(member.0, position).map_or_else(|| member.to_string(), ToString::to_string);
                    match &search {
                        Some(s) if !code.to_lowercase().contains(s) => {
                            if caller.reaches(Permission::ReadPersonal, u) {
                                unnamed.push((code, *member));
                            }
                        }
                        _ => found.push((code, *member)),
                    }
                }
                let records = m.personal_records(unnamed.iter().map(|(_, member)| *member), position);
                (found, (unnamed, records), position)
            })
            .await?;
        let (unnamed, records) = unnamed;
        if let Some(s) = &search {
            if records.len() > MAX_NAMES_SEARCHED {
                return Err(error::with(
                    invalid(
                        "search",
                        format!(
                            "a search by name opens at most {MAX_NAMES_SEARCHED} members' sealed names, and this one \
                             would open {}: narrow it with unit, region or industry",
                            records.len()
                        ),
                    ),
                    "limit",
                    MAX_NAMES_SEARCHED.to_string(),
                ));
            }
            let names = state.ledger.personal_of(records).await.map_err(error::app)?;
            found.extend(
                unnamed.into_iter().filter(|(_, member)| {
                    names.get(member).is_some_and(|p| p.name.as_str().to_lowercase().contains(s))
                }),
            );
        }
        found.sort_unstable();
        let found: Vec<MemberId> = found.into_iter().map(|(_, member)| member).collect();
        state.read(None, |m| page.of(&found, |member| Member::at(m, member, position))).await
    }

    #[graphql(guard = "Need(Permission::ReadRecords)")]
    async fn member(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<Member>> {
        let member: MemberId = parse_id("id", &id)?;
        let as_of = crate::as_of(as_of);
        state(ctx).read(min_position.map(Into::into), |m| Member::at(m, member, as_of.position(m))).await
    }
}

impl Loader<(MemberId, Position)> for ModelLoader {
    type Value = Member;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[(MemberId, Position)]) -> Result<HashMap<(MemberId, Position), Member>, Self::Error> {
        self.0
            .read(None, |model| keys.iter().filter_map(|&(m, p)| Some(((m, p), Member::at(model, m, p)?))).collect())
            .await
    }
}

pub(crate) async fn load_member(
    ctx: &Context<'_>,
    member: MemberId,
    position: Position,
) -> async_graphql::Result<Option<Member>> {
    ctx.data_unchecked::<DataLoader<ModelLoader>>().load_one((member, position)).await
}

/// A member as the notice board shows them, with their consent.
#[derive(SimpleObject, Clone)]
pub struct PublicMember {
    pub id: ID,
    pub code: Option<String>,
    pub name: String,
    /// Their post (岗位).
    pub post: Option<String>,
}

/// The most cards one unit shows.
const MAX_CARDS: usize = 200;

/// The members of `unit` with a card on the notice board as of `as_of`, their names
/// opened with their keys (an erased member has no card).
pub(crate) async fn public_members(
    state: &ApiState,
    unit: UnitId,
    as_of: Position,
) -> Result<Vec<PublicMember>, taizhang_app::AppError> {
    let shown: Vec<(MemberId, Option<String>, Option<String>, u64)> = state.projector.read(|m| {
        m.unit_members
            .get(&unit)
            .into_iter()
            .flatten()
            .filter_map(|id| {
                let history = m.members.get(id)?;
                let card = history.card_at(as_of)?;
                // Shown by the unit they belong to now (as known then).
                let latest =
                    history.memberships.iter().filter(|s| s.position <= as_of).max_by_key(|s| (s.since, s.position));
                (latest?.unit == unit).then(|| {
                    let post = card.post.as_ref().map(ToString::to_string);
                    (*id, m.code(id.0, as_of).map(|c| c.to_string()), post, history.personal_version(as_of))
                })
            })
            .take(MAX_CARDS)
            .collect()
    });
    let mut cards = Vec::with_capacity(shown.len());
    for (member, code, post, version) in shown {
        if let Personal::Known(personal) = state.ledger.personal_at(member, version).await? {
            let name = personal.name.to_string();
            cards.push(PublicMember { id: ID(member.to_string()), code, name, post });
        }
    }
    Ok(cards)
}
