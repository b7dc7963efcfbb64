//! Check-in and check-out (签到 / 签退): clerks set members' PINs and open check-in for
//! an outing; members check in and out on the public page (`GET /check-in`, in
//! `http.rs`), guarded here.
//!
//! Guessing is bounded three ways, none of which slows a member with the right code and
//! PIN: an address that keeps being refused waits longer and longer for each refusal
//! ([`Limiter`]); so does an outing whose check-in keeps refusing (guesses spread over
//! many addresses); and a member number refused [`MAX_FAILURES_PER_MEMBER`] times at an
//! outing is locked there for [`LOCKOUT`], so a six-digit PIN cannot be found by trying,
//! however many addresses try. Every attempt's outcome is kept, per outing, for its
//! clerk (the last [`RECENT_ATTEMPTS`], and counts): the accepted ones are in the log
//! anyway; the refused ones are kept by the server that answered them, in memory.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use taizhang_core::*;
use taizhang_read::{CheckInRecord, ReadModel};
use taizhang_store::Position;
use time::OffsetDateTime;

use crate::access::{self, Need, Permission};
use crate::error::invalid;
use crate::limiter::Limiter;
use crate::mutation::execute;
use crate::outings::OutingDetailsInput;
use crate::state;
use crate::types::*;

/// Refusals of one member number at one outing before it is locked there.
pub(crate) const MAX_FAILURES_PER_MEMBER: u32 = 5;
/// How long a locked member number stays locked at the outing.
pub(crate) const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Attempts kept per outing for its clerk.
const RECENT_ATTEMPTS: usize = 50;
/// Outings whose attempts are kept; the least recently tried are forgotten first.
const MAX_OUTINGS: usize = 10_000;
/// Member numbers (at an outing, or on the correction form) whose refusals are counted.
/// Only numbers of members who exist are (a stranger's invented numbers would push the
/// real ones out), so filling it takes that many real members, each at an open
/// check-in; past it, the oldest count is dropped.
const MAX_COUNTED_NUMBERS: usize = 200_000;

/// What became of an attempt to check in or out (the public page's JSON names it in
/// the same upper case).
#[derive(Enum, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttemptOutcome {
    CheckedIn,
    CheckedOut,
    /// A wrong site code, member number or PIN (one answer for all three).
    Refused,
    /// The member number was locked at this outing after too many refusals.
    Locked,
    /// Before check-in opened or after check-out closed.
    OutsideWindow,
    /// Checked in twice, out twice, or out without checking in.
    Repeated,
    /// Any other rule (another outing at the same time, the 24-hour limit).
    Invalid,
}

/// One attempt, as its outing's clerk sees it.
#[derive(SimpleObject, Clone)]
pub struct CheckInAttempt {
    pub at: OffsetDateTime,
    /// `IN` or `OUT`.
    pub action: String,
    /// The member number as given, when it names a member.
    pub member: Option<ID>,
    pub outcome: AttemptOutcome,
}

#[derive(Default)]
struct OutingAttempts {
    counts: BTreeMap<AttemptOutcome, u64>,
    recent: VecDeque<CheckInAttempt>,
    last: Option<Instant>,
}

/// Refusals of a member number (at an outing, or on the correction form), and the
/// last one: [`MAX_FAILURES_PER_MEMBER`] lock it for [`LOCKOUT`].
struct Lockout<K> {
    failures: Mutex<HashMap<K, (u32, Instant)>>,
}

impl<K> Default for Lockout<K> {
    fn default() -> Self {
        Self { failures: Mutex::new(HashMap::new()) }
    }
}

impl<K: Copy + Eq + std::hash::Hash> Lockout<K> {
    fn locked(&self, key: K, now: Instant) -> bool {
        let failures = self.failures.lock().expect("lockout lock");
        failures.get(&key).is_some_and(|(n, last)| *n >= MAX_FAILURES_PER_MEMBER && now.duration_since(*last) < LOCKOUT)
    }

    fn refused(&self, key: K, now: Instant) {
        let mut failures = self.failures.lock().expect("lockout lock");
        if failures.len() >= MAX_COUNTED_NUMBERS && !failures.contains_key(&key) {
            failures.retain(|_, (_, last)| now.duration_since(*last) < LOCKOUT);
            if failures.len() >= MAX_COUNTED_NUMBERS {
                let oldest = failures.iter().min_by_key(|(_, (_, last))| *last).map(|(k, _)| *k);
                failures.remove(&oldest.expect("the map is full, so not empty"));
            }
        }
        let entry = failures.entry(key).or_insert((0, now));
        if now.duration_since(entry.1) >= LOCKOUT {
            entry.0 = 0;
        }
        *entry = (entry.0 + 1, now);
    }

    fn clear(&self, key: K) {
        self.failures.lock().expect("lockout lock").remove(&key);
    }
}

/// The guard of the public check-in and correction forms: limiters, lockouts and every
/// outing's attempts.
#[derive(Default)]
pub(crate) struct CheckInGuard {
    addresses: Limiter<IpAddr>,
    outings: Limiter<OutingId>,
    at_outings: Lockout<(OutingId, MemberId)>,
    corrections: Lockout<MemberId>,
    attempts: Mutex<HashMap<OutingId, OutingAttempts>>,
}

impl CheckInGuard {
    /// Whether `member` is locked at `outing` now, after too many refusals.
    pub(crate) fn locked(&self, outing: OutingId, member: MemberId, now: Instant) -> bool {
        self.at_outings.locked((outing, member), now)
    }

    /// Whether `member` is locked on the correction form, after too many refusals.
    pub(crate) fn correction_locked(&self, member: MemberId, now: Instant) -> bool {
        self.corrections.locked(member, now)
    }

    /// Records a refused correction request from `address` for `member` (when the number
    /// names one); answers how long to hold the refusal.
    pub(crate) fn correction_refused(
        &self,
        member: Option<MemberId>,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Duration {
        if let Some(member) = member {
            self.corrections.refused(member, now);
        }
        address.map_or(Duration::ZERO, |a| self.addresses.failure(a, now))
    }

    pub(crate) fn correction_made(&self, member: MemberId) {
        self.corrections.clear(member);
    }

    /// Records an attempt's outcome; a refusal also counts against the address and the
    /// outing, and the answer is how long to hold it.
    pub(crate) fn record(
        &self,
        outing: Option<OutingId>,
        member: Option<MemberId>,
        action: &str,
        outcome: AttemptOutcome,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Duration {
        let refused = matches!(outcome, AttemptOutcome::Refused | AttemptOutcome::Locked);
        let mut hold = Duration::ZERO;
        if refused {
            if let Some(address) = address {
                hold = hold.max(self.addresses.failure(address, now));
            }
            if let Some(outing) = outing {
                hold = hold.max(self.outings.failure(outing, now));
            }
        }
        let Some(outing) = outing else { return hold };
        let mut attempts = self.attempts.lock().expect("check-in attempts lock");
        if attempts.len() >= MAX_OUTINGS && !attempts.contains_key(&outing) {
            let oldest = attempts.iter().min_by_key(|(_, a)| a.last).map(|(id, _)| *id);
            attempts.remove(&oldest.expect("the map is full, so not empty"));
        }
        let entry = attempts.entry(outing).or_default();
        entry.last = Some(now);
        *entry.counts.entry(outcome).or_default() += 1;
        if entry.recent.len() == RECENT_ATTEMPTS {
            entry.recent.pop_front();
        }
        entry.recent.push_back(CheckInAttempt {
            at: OffsetDateTime::now_utc(),
            action: action.to_owned(),
            member: member.map(|m| ID(m.to_string())),
            outcome,
        });
        drop(attempts);
        if let Some(member) = member {
            match outcome {
                AttemptOutcome::Refused => self.at_outings.refused((outing, member), now),
                AttemptOutcome::CheckedIn | AttemptOutcome::CheckedOut => self.at_outings.clear((outing, member)),
                _ => {}
            }
        }
        hold
    }

    fn attempts_of(&self, outing: OutingId) -> CheckInAttempts {
        let attempts = self.attempts.lock().expect("check-in attempts lock");
        let Some(a) = attempts.get(&outing) else { return CheckInAttempts { counts: vec![], recent: vec![] } };
        CheckInAttempts {
            counts: a.counts.iter().map(|(outcome, count)| AttemptCount { outcome: *outcome, count: *count }).collect(),
            recent: a.recent.iter().rev().cloned().collect(),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct AttemptCount {
    pub outcome: AttemptOutcome,
    pub count: u64,
}

/// The attempts this server answered for an outing since it started (each server of
/// a deployment keeps its own).
#[derive(SimpleObject, Clone)]
pub struct CheckInAttempts {
    pub counts: Vec<AttemptCount>,
    /// Newest first.
    pub recent: Vec<CheckInAttempt>,
}

/// A member at the site.
#[derive(SimpleObject, Clone)]
pub struct CheckInPresence {
    pub member: ID,
    pub arrived_at: OffsetDateTime,
    pub left_at: Option<OffsetDateTime>,
    /// The hours their check-out credited (none before check-out, or when they were
    /// there for less than a minute of the outing).
    pub credited_hours: Option<f64>,
    /// Checked in, and check-out has closed without them: no hours until a clerk sets
    /// them (as honour hours).
    pub missed_check_out: bool,
}

/// An outing's check-in as known at `asOfPosition`.
#[derive(SimpleObject, Clone)]
pub struct CheckInView {
    pub outing: ID,
    /// The code to show at the site; `null` unless the caller may write the outing's
    /// records.
    pub site_code: Option<String>,
    /// The check-in page's address with the code, for the QR code; `null` like the code.
    pub address: Option<String>,
    pub opens_at: OffsetDateTime,
    /// Check-in closes when the outing ends.
    pub check_in_closes_at: OffsetDateTime,
    /// Check-out closes the margin after it ends.
    pub closes_at: OffsetDateTime,
    pub margin_minutes: u16,
    pub late_grace_minutes: u16,
    pub early_grace_minutes: u16,
    pub presences: Vec<CheckInPresence>,
    /// Members checked in who missed the check-out.
    pub missed_check_outs: u32,
    /// This server's record of attempts (refusals included); only for those who may
    /// write the outing's records.
    pub attempts: Option<CheckInAttempts>,
    pub as_of_position: Position,
}

impl CheckInView {
    fn at(model: &ReadModel, outing: OutingId, as_of: Position, now: Timestamp) -> Option<(Self, UnitId)> {
        let view = model.outing(outing, as_of)?;
        let record: &CheckInRecord = model.check_ins.get(&outing)?;
        let (code, rules) = record.opening(as_of)?;
        let details = view.details();
        let (opens, check_in_closes, closes) = check_in_window(&details, &rules);
        let hours = |p: &Participation| taizhang_io::export::hours(p.minutes.get() as u64);
        let presences: Vec<CheckInPresence> = record
            .presences
            .iter()
            .filter(|(_, p)| p.arrived.0 <= as_of)
            .map(|(member, p)| {
                let left = p.left.filter(|(at, _, _)| *at <= as_of);
                CheckInPresence {
                    member: ID(member.to_string()),
                    arrived_at: p.arrived.1.to_datetime(),
                    left_at: left.map(|(_, at, _)| at.to_datetime()),
                    credited_hours: left.and_then(|(_, _, credited)| credited).map(|c| hours(&c)),
                    missed_check_out: CheckInRecord::missed_check_out(p, as_of, closes, now),
                }
            })
            .collect();
        let missed = presences.iter().filter(|p| p.missed_check_out).count() as u32;
        let shown = Self {
            outing: ID(outing.to_string()),
            site_code: Some(code.to_owned()),
            address: None,
            opens_at: opens.to_datetime(),
            check_in_closes_at: check_in_closes.to_datetime(),
            closes_at: closes.to_datetime(),
            margin_minutes: rules.margin_minutes,
            late_grace_minutes: rules.late_grace_minutes,
            early_grace_minutes: rules.early_grace_minutes,
            presences,
            missed_check_outs: missed,
            attempts: None,
            as_of_position: as_of,
        };
        Some((shown, view.unit))
    }
}

/// The public check-in page's address for a site code.
pub(crate) fn check_in_address(base_url: &str, code: &str) -> String {
    format!("{}/check-in?site={code}", base_url.trim_end_matches('/'))
}

/// An outing's check-in as the caller may see it: the site code, its address and the
/// attempts only for a caller who may write the outing's records.
fn as_seen_by(ctx: &Context<'_>, (mut view, unit): (CheckInView, UnitId)) -> async_graphql::Result<CheckInView> {
    let state = state(ctx);
    if access::principal(ctx)?.reaches(Permission::WriteRecords, unit) {
        view.address = view.site_code.as_deref().map(|code| check_in_address(&state.public_url(), code));
        view.attempts = Some(state.check_in.attempts_of(parse_id("outing", &view.outing)?));
    } else {
        view.site_code = None;
    }
    Ok(view)
}

async fn check_in_view(
    ctx: &Context<'_>,
    outing: OutingId,
    min_position: Option<Position>,
) -> async_graphql::Result<Option<CheckInView>> {
    let now = Timestamp::now();
    let found = state(ctx).read(min_position, move |m| CheckInView::at(m, outing, m.position, now)).await?;
    found.map(|found| as_seen_by(ctx, found)).transpose()
}

/// The most check-ins one list returns.
const MAX_CHECK_INS: usize = 200;

#[derive(Default)]
pub struct CheckInQueries;

#[Object]
impl CheckInQueries {
    /// An outing's check-in: its window and rules, who checked in and out (and who
    /// missed the check-out), and, for its own clerks, the site code and every attempt.
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    async fn check_in(
        &self,
        ctx: &Context<'_>,
        outing: ID,
        min_position: Option<Position>,
    ) -> async_graphql::Result<Option<CheckInView>> {
        check_in_view(ctx, parse_id("outing", &outing)?, min_position).await
    }

    /// A unit's check-ins, the latest outing first; with `missedOnly`, those where a
    /// member checked in and missed the check-out (no hours until a clerk sets them).
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    async fn check_ins(
        &self,
        ctx: &Context<'_>,
        unit: ID,
        #[graphql(default)] missed_only: bool,
        #[graphql(default = 50)] first: i32,
        min_position: Option<Position>,
    ) -> async_graphql::Result<Vec<CheckInView>> {
        let first = usize::try_from(first).unwrap_or(0);
        if first > MAX_CHECK_INS {
            return Err(crate::error::over_limit("page size (first)", MAX_CHECK_INS as u64, Some(first as u64)));
        }
        let unit: UnitId = parse_id("unit", &unit)?;
        let now = Timestamp::now();
        let found = state(ctx)
            .read(min_position, move |m| {
                m.unit_outings(unit)
                    .iter()
                    .rev()
                    .filter_map(|number| m.outing_by_number(*number, m.position))
                    .filter_map(|outing| CheckInView::at(m, outing.id, m.position, now))
                    .filter(|(view, _)| !missed_only || view.missed_check_outs > 0)
                    .take(first)
                    .collect::<Vec<_>>()
            })
            .await?;
        found.into_iter().map(|found| as_seen_by(ctx, found)).collect()
    }
}

#[derive(InputObject)]
pub struct OpenCheckInInput {
    /// An outing already registered; or leave it out and describe a new one.
    pub outing: Option<ID>,
    /// A new outing: its unit, its code in your records and its details.
    pub unit: Option<ID>,
    pub code: Option<String>,
    pub details: Option<OutingDetailsInput>,
    /// Check-in opens this many minutes before the start, check-out closes as many
    /// after the end (default 30, at most 240).
    #[graphql(default = 30)]
    pub margin_minutes: u16,
    /// Arrivals this many minutes late or less are credited from the start (default 0).
    #[graphql(default)]
    pub late_grace_minutes: u16,
    /// Departures this many minutes early or less are credited to the end (default 0).
    #[graphql(default)]
    pub early_grace_minutes: u16,
}

#[derive(SimpleObject)]
pub struct CheckInPayload {
    pub receipt: Receipt,
    pub check_in: Option<CheckInView>,
}

/// The most members one `setCheckInPins` sets PINs for.
const MAX_BULK_PINS: usize = 1_000;

/// One member's new PIN, or why it was not set.
#[derive(SimpleObject)]
pub struct PinResult {
    pub member: ID,
    /// The member's code in the unit's records, if they have one (what they type).
    pub code: Option<String>,
    pub pin: Option<String>,
    pub refused: Option<crate::outings::Refusal>,
}

#[derive(SimpleObject)]
pub struct CheckInPinsPayload {
    pub set: usize,
    pub refused: usize,
    /// One per member, in the order asked (or the unit's members' order).
    pub results: Vec<PinResult>,
}

/// A PIN just set: show it to the member once; it is not kept anywhere readable.
#[derive(SimpleObject)]
pub struct CheckInPinPayload {
    pub receipt: Receipt,
    pub member: ID,
    /// Six digits, for the member to check in and out with.
    pub pin: String,
}

#[derive(Default)]
pub struct CheckInMutations;

#[Object]
impl CheckInMutations {
    /// Opens check-in for an outing (registering it first when described here): the
    /// answer carries the site code and the page's address for the QR code. Opening
    /// again gives a new code; the old one stops working.
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn open_check_in(
        &self,
        ctx: &Context<'_>,
        input: OpenCheckInInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<CheckInPayload> {
        let command_id = command_id.unwrap_or_else(uuid::Uuid::now_v7);
        let (outing, registration) = match (input.outing, input.unit, input.details) {
            (Some(outing), None, None) => (parse_id("input.outing", &outing)?, None),
            (None, Some(unit), Some(details)) => {
                let (outing, code) = crate::mutation::new_record(None, input.code, OutingId::of_code, OutingId::new)?;
                let unit = parse_id("input.unit", &unit)?;
                (outing, Some(NewOuting { unit, details: details.parse("input.details")?, code }))
            }
            _ => {
                return Err(invalid("input.outing", "give an outing, or a unit and the details of a new one"));
            }
        };
        let rules = CheckInRules {
            margin_minutes: input.margin_minutes,
            late_grace_minutes: input.late_grace_minutes,
            early_grace_minutes: input.early_grace_minutes,
        };
        let site_code = state(ctx).ledger.master_key().new_site_code(command_id, outing);
        let command = OpenCheckIn { outing, registration, site_code, rules };
        let outcome = execute(ctx, Some(command_id), command.into()).await?;
        let check_in = check_in_view(ctx, outing, None).await?;
        Ok(CheckInPayload { receipt: Receipt::new(&outcome), check_in })
    }

    /// Sets a new check-in PIN for a member (the old one stops working) and answers
    /// it once. Send the same `commandId` again to see the same PIN.
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn set_check_in_pin(
        &self,
        ctx: &Context<'_>,
        member: ID,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<CheckInPinPayload> {
        let member: MemberId = parse_id("member", &member)?;
        let command_id = command_id.unwrap_or_else(uuid::Uuid::now_v7);
        let key = state(ctx).ledger.master_key();
        let pin = key.new_pin(command_id, member);
        let command = SetCheckInPin { member, pin: key.pin_digest(member, &pin) };
        let outcome = execute(ctx, Some(command_id), command.into()).await?;
        Ok(CheckInPinPayload { receipt: Receipt::new(&outcome), member: ID(member.to_string()), pin })
    }

    /// Sets new check-in PINs for `members`, or for every member of `unit` now (at most
    /// 1,000), in one commit, and answers each once: a list to hand out. Send the same
    /// `commandId` again to see the same PINs.
    #[graphql(guard = "Need(Permission::WriteRecords)")]
    async fn set_check_in_pins(
        &self,
        ctx: &Context<'_>,
        unit: Option<ID>,
        members: Option<Vec<ID>>,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<CheckInPinsPayload> {
        let state = state(ctx);
        let members: Vec<MemberId> = match (unit, members) {
            (None, Some(list)) => {
                let ids: Vec<MemberId> = list.iter().map(|m| parse_id("members", m)).collect::<Result<_, _>>()?;
                let mut seen = std::collections::HashSet::new();
                if let Some(twice) = ids.iter().find(|m| !seen.insert(**m)) {
                    return Err(invalid("members", format!("member {twice} is asked twice")));
                }
                ids
            }
            (Some(unit), None) => {
                let unit: UnitId = parse_id("unit", &unit)?;
                let today = Timestamp::now().service_date();
                state
                    .read(None, move |m| {
                        let erased = |id: &MemberId| m.members.get(id).is_some_and(|h| h.erased_at.is_some());
                        m.members_of(unit, today, m.position).filter(|id| !erased(id)).collect()
                    })
                    .await?
            }
            _ => return Err(invalid("unit", "give a unit, or a list of members, not both")),
        };
        if members.len() > MAX_BULK_PINS {
            let asked = Some(members.len() as u64);
            return Err(crate::error::over_limit("members per setCheckInPins", MAX_BULK_PINS as u64, asked));
        }
        let principal = access::principal(ctx)?;
        // All or nothing for a clerk: a member of another unit refuses the whole list, as
        // a single write outside the clerk's units is refused.
        let outside = state.projector.read(|m| {
            members
                .iter()
                .filter_map(|id| m.member_unit(*id, m.position))
                .find(|unit| !principal.reaches(Permission::WriteRecords, *unit))
        });
        if let Some(unit) = outside {
            return Err(crate::error::app(taizhang_app::AppError::OutOfScope { unit }));
        }
        let bulk = command_id.unwrap_or_else(uuid::Uuid::now_v7);
        let key = state.ledger.master_key();
        let mut pins = Vec::with_capacity(members.len());
        let batch = members
            .iter()
            .map(|member| {
                let command_id = uuid::Uuid::new_v5(&bulk, member.0.as_bytes());
                let pin = key.new_pin(command_id, *member);
                let command = SetCheckInPin { member: *member, pin: key.pin_digest(*member, &pin) };
                pins.push(pin);
                let context = taizhang_app::CommandContext {
                    command_id,
                    scope: principal.scope(),
                    ..taizhang_app::CommandContext::new(principal.actor())
                };
                (context, Command::SetCheckInPin(command))
            })
            .collect();
        // Boxed: see the crate's note on root fields.
        let answers = Box::pin(state.ledger.execute_batch(batch)).await.map_err(crate::error::app)?;
        let codes: Vec<Option<String>> = state
            .projector
            .read(|m| members.iter().map(|id| m.code(id.0, m.position).map(|c| c.to_string())).collect());
        let mut payload = CheckInPinsPayload { set: 0, refused: 0, results: Vec::with_capacity(members.len()) };
        let mut last = None;
        for (((member, pin), code), answer) in members.iter().zip(pins).zip(codes).zip(answers) {
            let member = ID(member.to_string());
            match answer {
                Ok(outcome) => {
                    state.metrics.command_applied(&outcome);
                    last = last.max(Some(outcome.last_position));
                    payload.set += 1;
                    payload.results.push(PinResult { member, code, pin: Some(pin), refused: None });
                }
                Err(e) => {
                    payload.refused += 1;
                    let refused = Some(crate::error::app(e).into());
                    payload.results.push(PinResult { member, code, pin: None, refused });
                }
            }
        }
        if let Some(position) = last {
            state.projector.wait_for(position, crate::READ_YOUR_WRITES_WAIT).await.map_err(crate::error::read)?;
        }
        Ok(payload)
    }
}

/// What a check-in or check-out at the public page came to.
pub(crate) enum Answer {
    Done { outcome: AttemptOutcome, credited: Option<Participation>, at: Timestamp },
    Refused { outcome: AttemptOutcome, message: String, hold: Duration },
    Failed(taizhang_app::AppError),
}

/// Checks `member` (as typed: a code or an id) in or out of the outing whose site
/// code is `site`, with `pin`, at `address`; records the attempt.
pub(crate) async fn report_presence(
    state: &crate::ApiState,
    site: &str,
    member: &str,
    pin: &str,
    leaving: bool,
    address: Option<IpAddr>,
) -> Answer {
    let now = Instant::now();
    let action = if leaving { "OUT" } else { "IN" };
    let member: Option<MemberId> = member.trim().parse().ok();
    // Only a member who exists is counted against (see `MAX_COUNTED_NUMBERS`).
    let (outing, member) =
        state.projector.read(|m| (m.site_code_outing(site), member.filter(|id| m.members.contains_key(id))));
    let refused = |outcome, message: &str, outing, member| {
        let hold = state.check_in.record(outing, member, action, outcome, address, now);
        Answer::Refused { outcome, message: message.to_owned(), hold }
    };
    let wrong = DomainError::CheckInRefused.to_string();
    let (Some(outing), Some(member)) = (outing, member) else {
        return refused(AttemptOutcome::Refused, &wrong, outing, None);
    };
    if state.check_in.locked(outing, member, now) {
        let message = format!(
            "too many wrong attempts for this member number here: try again in {} minutes, or ask the clerk",
            LOCKOUT.as_secs() / 60
        );
        return refused(AttemptOutcome::Locked, &message, Some(outing), Some(member));
    }
    let at = Timestamp::now();
    let presence =
        Presence { member, site_code: site.to_owned(), pin: state.ledger.master_key().pin_digest(member, pin), at };
    let command = match leaving {
        true => Command::CheckOut(CheckOut { outing, presence }),
        false => Command::CheckIn(CheckIn { outing, presence }),
    };
    let context = taizhang_app::CommandContext::new(Actor::VOLUNTEER);
    match state.ledger.execute(context, command).await {
        Ok(outcome) => {
            state.metrics.command_applied(&outcome);
            let outcome_kind = if leaving { AttemptOutcome::CheckedOut } else { AttemptOutcome::CheckedIn };
            state.check_in.record(Some(outing), Some(member), action, outcome_kind, address, now);
            // As after a mutation: the answer comes once the read model holds it.
            let _ = state.projector.wait_for(outcome.last_position, crate::READ_YOUR_WRITES_WAIT).await;
            let credited = match leaving {
                true => state.projector.read(|m| {
                    m.check_ins.get(&outing)?.presences.get(&member)?.left.and_then(|(_, _, credited)| credited)
                }),
                false => None,
            };
            Answer::Done { outcome: outcome_kind, credited, at }
        }
        Err(taizhang_app::AppError::Domain(e)) => {
            let outcome = match e {
                DomainError::CheckInRefused => AttemptOutcome::Refused,
                DomainError::OutsideCheckInWindow { .. } => AttemptOutcome::OutsideWindow,
                DomainError::AlreadyCheckedIn { .. }
                | DomainError::AlreadyCheckedOut { .. }
                | DomainError::NotCheckedIn { .. } => AttemptOutcome::Repeated,
                _ => AttemptOutcome::Invalid,
            };
            refused(outcome, &e.to_string(), Some(outing), Some(member))
        }
        Err(e) => Answer::Failed(e),
    }
}
