//! Reports and eligibility: `report` (by unit, region, industry or week, refused above
//! the size limits and computed a slice at a time), `eligibility` of one member or unit,
//! `awardList` of a scope, and `policies` with their criteria.

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use taizhang_core::*;
use taizhang_read::eligibility::{self, Candidate, EligibilityError};
use taizhang_read::policy::Scheme;
use taizhang_read::report::{self, Bucket, GroupBy, ReportQuery, Scope};
use taizhang_store::Position;

use crate::access::{self, Need, Permission};
use crate::error::{self, invalid, not_found};
use crate::members::{personal_reach, Member};
use crate::state;
use crate::types::*;

/// The policy of that name, or NOT_FOUND with the names of those loaded.
pub(crate) fn loaded_policy<'a>(
    state: &'a crate::ApiState,
    name: &str,
) -> async_graphql::Result<&'a taizhang_read::policy::Policy> {
    state.policies.get(name).map_err(|e| error::with(not_found("policy", name), "reason", e.to_string()))
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "GroupBy")]
pub enum GroupByInput {
    Unit,
    Region,
    Industry,
    Total,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Bucket")]
pub enum BucketInput {
    /// The whole period as one bucket.
    Period,
    /// Monday to Sunday (一周一小结).
    Week,
    Month,
    HalfYear,
}

impl From<GroupByInput> for GroupBy {
    fn from(value: GroupByInput) -> Self {
        match value {
            GroupByInput::Unit => GroupBy::Unit,
            GroupByInput::Region => GroupBy::Region,
            GroupByInput::Industry => GroupBy::Industry,
            GroupByInput::Total => GroupBy::Total,
        }
    }
}

/// At most one of these: the units a report covers (all when empty).
#[derive(InputObject, Clone, Default)]
pub struct ScopeInput {
    pub unit: Option<ID>,
    pub region: Option<String>,
    pub industry: Option<String>,
}

impl ScopeInput {
    pub(crate) fn parse(self) -> async_graphql::Result<Scope> {
        match (self.unit, self.region, self.industry) {
            (None, None, None) => Ok(Scope::All),
            (Some(u), None, None) => Ok(Scope::Unit(parse_id("scope.unit", &u)?)),
            (None, Some(r), None) => Ok(Scope::Region(r)),
            (None, None, Some(i)) => Ok(Scope::Industry(i)),
            _ => Err(invalid("scope", "give at most one of unit, region and industry")),
        }
    }
}

/// Which members an award list keeps; all when empty.
#[derive(InputObject, Clone, Default)]
pub struct AwardFilterInput {
    /// Only those who met some level (true), or none (false).
    pub met: Option<bool>,
    /// Only those whose highest level met is this one (a level's name in the policy).
    pub level: Option<String>,
}

impl AwardFilterInput {
    fn parse(self, policy: &taizhang_read::policy::Policy) -> async_graphql::Result<eligibility::AwardFilter> {
        if let Some(level) = &self.level {
            if !policy.levels.iter().any(|l| &l.name == level) {
                let levels: Vec<&str> = policy.levels.iter().map(|l| l.name.as_str()).collect();
                return Err(invalid(
                    "filter.level",
                    format!("policy {} has no level {level:?}; its levels: {}", policy.name, levels.join(", ")),
                ));
            }
            if self.met == Some(false) {
                return Err(invalid("filter", "a level met and met: false ask for nobody"));
            }
        }
        Ok(eligibility::AwardFilter { met: self.met, level: self.level })
    }
}

/// A line of an award list.
#[derive(SimpleObject, Clone)]
pub struct AwardListEntry {
    /// The member as known at the list's position; personal data guarded as anywhere.
    pub member: Member,
    pub eligibility: Eligibility,
}

#[derive(SimpleObject, Clone)]
pub struct ReportRow {
    /// The unit id, region or industry ("total" when grouped by total).
    pub group: String,
    pub label: String,
    pub first: time::Date,
    pub last: time::Date,
    pub outings: u64,
    /// Distinct members who served.
    pub volunteers: u64,
    pub recorded_hours: String,
    pub verified_hours: String,
    /// Of the recorded hours, those members recorded themselves by checking in and out
    /// at the site.
    pub credit_hours: String,
    /// Of the recorded hours, those a clerk entered.
    pub honour_hours: String,
    /// Members in scope on the bucket's last day.
    pub members: u64,
    pub participation_rate_percent: Option<f64>,
    pub hours_per_member: Option<f64>,
}

#[derive(SimpleObject, Clone)]
pub struct Report {
    pub as_of_position: Position,
    pub rows: Vec<ReportRow>,
}

#[derive(SimpleObject, Clone)]
pub struct CountedOuting {
    pub outing: ID,
    pub date: time::Date,
    pub hours: String,
    /// The log position of the version that counted.
    pub position: Position,
}

#[derive(SimpleObject, Clone)]
pub struct ExcludedOuting {
    pub outing: ID,
    pub date: time::Date,
    pub reason: String,
}

#[derive(SimpleObject, Clone)]
pub struct CriterionResult {
    pub metric: String,
    pub required: String,
    pub actual: String,
    pub met: bool,
    /// The outings that count toward the actual value.
    pub counted: Vec<CountedOuting>,
    /// The outings that were looked at and did not count, and why.
    pub excluded: Vec<ExcludedOuting>,
}

#[derive(SimpleObject, Clone)]
pub struct LevelResult {
    pub name: String,
    pub label: Option<String>,
    pub met: bool,
    pub criteria: Vec<CriterionResult>,
}

/// A decision with its reasons: quote `asOfPosition` with the same policy version to
/// reproduce it.
#[derive(SimpleObject, Clone)]
pub struct Eligibility {
    pub policy: String,
    pub policy_version: u32,
    pub as_of_position: Position,
    /// The highest level met, or the number of stars lit; after the caps that hold,
    /// null when a veto holds or nothing is met.
    pub outcome: Option<String>,
    pub levels: Vec<LevelResult>,
    /// Each cap of the policy; `met`: it holds and limits the outcome.
    pub caps: Vec<LevelResult>,
    /// Each veto of the policy; `met`: it holds and nothing is awarded.
    pub vetoes: Vec<LevelResult>,
}

impl From<eligibility::Eligibility> for Eligibility {
    fn from(e: eligibility::Eligibility) -> Self {
        let level = |l: eligibility::LevelResult| LevelResult {
            name: l.name,
            label: l.label,
            met: l.met,
            criteria: l
                .criteria
                .into_iter()
                .map(|c| CriterionResult {
                    metric: c.metric.to_owned(),
                    required: c.required,
                    actual: c.actual,
                    met: c.met,
                    counted: c
                        .counted
                        .into_iter()
                        .map(|o| CountedOuting {
                            outing: ID(o.outing.to_string()),
                            date: o.date,
                            hours: hours_text(o.minutes),
                            position: o.position,
                        })
                        .collect(),
                    excluded: c
                        .excluded
                        .into_iter()
                        .map(|o| ExcludedOuting { outing: ID(o.outing.to_string()), date: o.date, reason: o.reason })
                        .collect(),
                })
                .collect(),
        };
        Self {
            policy: e.policy,
            policy_version: e.policy_version,
            as_of_position: e.as_of_position,
            outcome: e.outcome,
            levels: e.levels.into_iter().map(level).collect(),
            caps: e.caps.into_iter().map(level).collect(),
            vetoes: e.vetoes.into_iter().map(level).collect(),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct PolicyLevel {
    pub name: String,
    pub label: Option<String>,
    /// What the level asks, each criterion with its metric, window and bounds
    /// ("verified_hours over the period, at least 100.00"): all must hold.
    pub criteria: Vec<String>,
}

#[derive(SimpleObject, Clone)]
pub struct PolicyInfo {
    pub name: String,
    pub version: u32,
    pub title: String,
    pub source: Option<String>,
    /// `member` or `unit`.
    pub subject: String,
    /// `highest`: the outcome is the last level met (bands of a score); `count`: each
    /// level is a named star and the outcome is how many are lit.
    pub scheme: String,
    /// The parts of `weighted_score` with their weights ("public_satisfaction × 60 %").
    pub weighted: Vec<String>,
    pub levels: Vec<PolicyLevel>,
    /// Limits on the outcome when all their criteria hold.
    pub caps: Vec<PolicyCap>,
    /// One-vote vetoes (一票否决): when all of one's criteria hold, nothing is awarded.
    pub vetoes: Vec<PolicyLevel>,
}

#[derive(SimpleObject, Clone)]
pub struct PolicyCap {
    pub name: String,
    pub label: Option<String>,
    /// The highest outcome while the cap holds: a level's name, or a number of stars.
    pub at_most: String,
    pub criteria: Vec<String>,
}

impl PolicyLevel {
    fn of(l: &taizhang_read::policy::Level) -> Self {
        Self {
            name: l.name.clone(),
            label: l.label.clone(),
            criteria: l.criteria.iter().map(ToString::to_string).collect(),
        }
    }
}

#[derive(Default)]
pub struct ReportQueries;

#[Object]
impl ReportQueries {
    /// Outings, volunteers, hours and participation, grouped and bucketed.
    #[allow(clippy::too_many_arguments)]
    #[graphql(guard = "Need(Permission::ReadReports)")]
    async fn report(
        &self,
        ctx: &Context<'_>,
        period: PeriodInput,
        #[graphql(default)] scope: ScopeInput,
        #[graphql(default_with = "GroupByInput::Unit")] group_by: GroupByInput,
        #[graphql(default_with = "BucketInput::Period")] bucket: BucketInput,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Report> {
        let query = ReportQuery {
            period: period.parse()?,
            scope: scope.parse()?,
            group_by: group_by.into(),
            bucket: match bucket {
                BucketInput::Period => Bucket::Period,
                BucketInput::Week => Bucket::Week,
                BucketInput::Month => Bucket::Month,
                BucketInput::HalfYear => Bucket::HalfYear,
            },
            as_of: crate::as_of(as_of),
        };
        // Refused above the size limits before any of its work, then computed a slice of
        // units at a time, each under the model's lock: the projector's writes (and the
        // reads queued behind them) wait for one slice, not for the whole report.
        let computed = state(ctx)
            .read_heavy(access::principal(ctx)?, min_position.map(Into::into), move |heavy| {
                let projector = heavy.projector;
                let mut builder = projector
                    .read(|m| report::check_size(m, &query).map(|()| report::ReportBuilder::new(m, &query)))?;
                while !heavy.abandoned() && projector.read(|m| builder.add(m, report::CELLS_PER_SLICE)) {}
                Ok(builder.finish())
            })
            .await?;
        let report = computed.map_err(error::report_too_large)?;
        Ok(Report {
            as_of_position: report.as_of_position,
            rows: report
                .rows
                .into_iter()
                .map(|r| ReportRow {
                    participation_rate_percent: r.participation_rate_percent(),
                    hours_per_member: r.hours_per_member(),
                    group: r.group,
                    label: r.label,
                    first: r.first,
                    last: r.last,
                    outings: r.outings,
                    volunteers: r.volunteers,
                    recorded_hours: hours_text(r.recorded_minutes),
                    verified_hours: hours_text(r.verified_minutes),
                    credit_hours: hours_text(r.credit_minutes),
                    honour_hours: hours_text(r.recorded_minutes - r.credit_minutes),
                    members: r.members,
                })
                .collect(),
        })
    }

    /// A member's or a unit's eligibility under a policy, with every criterion's
    /// required and actual value and the outings behind it.
    #[allow(clippy::too_many_arguments)]
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    async fn eligibility(
        &self,
        ctx: &Context<'_>,
        policy: String,
        member: Option<ID>,
        unit: Option<ID>,
        period: PeriodInput,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Eligibility> {
        let state = state(ctx);
        let policy = loaded_policy(state, &policy)?;
        let candidate = match (member, unit) {
            (Some(m), None) => Candidate::Member(parse_id("member", &m)?),
            (None, Some(u)) => Candidate::Unit(parse_id("unit", &u)?),
            _ => return Err(invalid("member", "give exactly one of member and unit")),
        };
        let period = period.parse()?;
        let as_of = crate::as_of(as_of);
        // An age is derived from the sealed birth date: guarded like the birth date.
        if let (Candidate::Member(m), true) = (candidate, policy.uses_personal_data()) {
            let principal = crate::access::principal(ctx)?;
            let (then, now) = state
                .read(min_position.map(Into::into), |model| {
                    let unit_at = |position| model.member_unit(m, position);
                    (unit_at(as_of.position(model)), unit_at(model.position))
                })
                .await?;
            // A member not registered then gets NOT_FOUND below, and no age.
            if then.is_some() {
                personal_reach(principal, then, now)?;
            }
        }
        // The birth date is sealed personal data; open it before taking the model lock.
        let birth_date = match candidate {
            // Boxed: see the crate's note on root fields.
            Candidate::Member(m) => match Box::pin(state.ledger.personal(m)).await {
                Ok(taizhang_app::Personal::Known(p)) => p.birth_date,
                Ok(taizhang_app::Personal::Erased) => None,
                Err(taizhang_app::AppError::Domain(DomainError::MemberNotFound(_))) => None,
                Err(e) => return Err(error::app(e)),
            },
            Candidate::Unit(_) => None,
        };
        let facts = move |_: MemberId| birth_date;
        let result = state
            .read(min_position.map(Into::into), |m| {
                eligibility::eligibility(m, policy, candidate, period, &as_of, &facts)
            })
            .await?
            .map_err(|e| match e {
                EligibilityError::WrongSubject { .. } | EligibilityError::Policy(_) => invalid("policy", e),
                EligibilityError::NotFound(_) => error::coded(error::Code::NotFound, e.to_string()),
            })?;
        Ok(result.into())
    }

    /// The award list: every member of the scope's units on the period's last day,
    /// assessed under a member policy, in unit then member order, paged, and filtered by
    /// outcome when asked. Each entry carries the member's eligibility with its reasons
    /// (the answer `eligibility` gives for that member); the whole list answers for one
    /// log position, its entries' `asOfPosition`: quote it with the same policy version
    /// to reproduce the list. Without a filter only the page's members are assessed;
    /// with one, everyone in scope is, a slice at a time.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "Need(Permission::ReadRecords)",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity"
    )]
    async fn award_list(
        &self,
        ctx: &Context<'_>,
        policy: String,
        period: PeriodInput,
        #[graphql(default)] scope: ScopeInput,
        filter: Option<AwardFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Connection<String, AwardListEntry, TotalCount, EmptyFields>> {
        let state = state(ctx);
        let principal = access::principal(ctx)?;
        let policy = loaded_policy(state, &policy)?.clone();
        if policy.subject != taizhang_read::policy::Subject::Member {
            return Err(invalid(
                "policy",
                format!("policy {} assesses units; an award list is of members", policy.name),
            ));
        }
        let filter = filter.unwrap_or_default().parse(&policy)?;
        let page = Page::new(first, after)?;
        let whole_list_assessed = !filter.is_empty();
        let (period, scope, as_of) = (period.parse()?, scope.parse()?, crate::as_of(as_of));
        let (as_of, members) = state
            .read(min_position.map(Into::into), |m| {
                let as_of = as_of.pinned(m);
                (as_of, eligibility::award_members(m, &scope, period, &as_of))
            })
            .await?;
        let to_assess: Vec<MemberId> = if !whole_list_assessed {
            members.iter().skip(page.offset).take(page.limit).copied().collect()
        } else {
            members.clone()
        };
        // An age is derived from the sealed birth date: guarded like the birth date, for
        // every member assessed, before any is opened.
        if policy.uses_personal_data() {
            let position = as_of.position.expect("pinned");
            let units: Vec<_> = state
                .read(None, |m| {
                    let unit_at = |member, position| m.member_unit(member, position);
                    to_assess.iter().map(|&member| (unit_at(member, position), unit_at(member, m.position))).collect()
                })
                .await?;
            units.into_iter().try_for_each(|(then, now)| personal_reach(principal, then, now))?;
        }
        let (ledger, runtime) = (state.ledger.clone(), tokio::runtime::Handle::current());
        let assessed = state
            .read_heavy(principal, None, move |heavy| -> async_graphql::Result<_> {
                let mut births = std::collections::HashMap::new();
                if policy.uses_personal_data() {
                    let position = as_of.position.expect("pinned");
                    let records = heavy.projector.read(|m| m.personal_records(to_assess.iter().copied(), position));
                    for slice in records.chunks(eligibility::AWARD_MEMBERS_PER_SLICE) {
                        if heavy.abandoned() {
                            break;
                        }
                        let opened = runtime.block_on(ledger.personal_of(slice.iter().copied())).map_err(error::app)?;
                        births.extend(opened.into_iter().map(|(member, p)| (member, p.birth_date)));
                    }
                }
                let facts = |m: MemberId| births.get(&m).copied().flatten();
                let abandoned = || heavy.abandoned();
                eligibility::award_list_in_slices(
                    heavy.projector,
                    &policy,
                    &to_assess,
                    period,
                    &as_of,
                    &facts,
                    &filter,
                    &abandoned,
                )
                .map_err(|e| invalid("policy", e))
            })
            .await??;
        let (total, has_next, entries) = if !whole_list_assessed {
            (members.len(), page.offset.saturating_add(page.limit) < members.len(), assessed)
        } else {
            let total = assessed.len();
            let entries: Vec<_> = assessed.into_iter().skip(page.offset).take(page.limit).collect();
            (total, page.offset.saturating_add(page.limit) < total, entries)
        };
        let nodes = state
            .read(None, |m| {
                entries
                    .into_iter()
                    .filter_map(|e| {
                        let Candidate::Member(member) = e.candidate else { return None };
                        let member = Member::at(m, member, e.as_of_position)?;
                        Some(AwardListEntry { member, eligibility: e.into() })
                    })
                    .collect()
            })
            .await?;
        Ok(page.connection(nodes, has_next, TotalCount { total_count: total }))
    }

    /// The award policies loaded (built-in and from the policy directory).
    #[graphql(guard = "Need(Permission::ReadDirectory)")]
    async fn policies(&self, ctx: &Context<'_>) -> Vec<PolicyInfo> {
        state(ctx)
            .policies
            .iter()
            .map(|p| PolicyInfo {
                name: p.name.clone(),
                version: p.version,
                title: p.title.clone(),
                source: p.source.clone(),
                subject: format!("{:?}", p.subject).to_lowercase(),
                scheme: match p.scheme {
                    Scheme::Highest => "highest",
                    Scheme::Count => "count",
                }
                .to_owned(),
                weighted: p.weighted.iter().map(|w| format!("{} × {} %", w.metric.name(), w.weight)).collect(),
                levels: p.levels.iter().map(PolicyLevel::of).collect(),
                caps: p
                    .caps
                    .iter()
                    .map(|c| PolicyCap {
                        name: c.name.clone(),
                        label: c.label.clone(),
                        at_most: c.at_most.clone(),
                        criteria: c.criteria.iter().map(ToString::to_string).collect(),
                    })
                    .collect(),
                vetoes: p.vetoes.iter().map(PolicyLevel::of).collect(),
            })
            .collect()
    }
}
