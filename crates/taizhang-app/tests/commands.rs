//! Every command through the real ledger on a real sled store: given some history,
//! when a command is sent, then these events, or this error and a log that is byte for
//! byte what it was.

use std::sync::Arc;

use taizhang_app::{AppError, CommandContext, Ledger, Personal};
use taizhang_core::*;
use taizhang_store::{chain, EventStore, RawRecord, SledStore};
use tempfile::TempDir;
use time::macros::date;

/// A ledger on a real store: sled in a temporary directory, or a schema of its own on
/// the test PostgreSQL server (dropped with it).
struct World<S: EventStore = SledStore> {
    ledger: Ledger<S>,
    dir: TempDir,
    _schema: Option<taizhang_store::conformance::TestSchema>,
}

fn text(s: &str) -> Text {
    Text::parse("test", s).unwrap()
}

fn clock(s: &str) -> ClockTime {
    ClockTime::parse("test", s).unwrap()
}

fn span(a: &str, b: &str) -> TimeRange {
    TimeRange::new("span", clock(a), clock(b)).unwrap()
}

fn details(day: time::Date, a: &str, b: &str) -> OutingDetails {
    OutingDetails {
        date: day,
        span: span(a, b),
        place: text("十堰市茅箭区五堰街道社区"),
        category: text("便民服务"),
        description: Some(text("为社区老人测量血压")),
        beneficiaries: 40,
    }
}

fn joined(member: MemberId) -> ParticipationInput {
    ParticipationInput { member, span: None, minutes: None }
}

/// Registers `outing` of `unit` on 15 June 2011 from `a` to `b` with `members`.
fn outing_command(outing: OutingId, unit: UnitId, members: &[MemberId], a: &str, b: &str) -> Command {
    outing_command_on(date!(2011 - 06 - 15), outing, unit, members, a, b)
}

/// [`outing_command`] on `day`.
fn outing_command_on(
    day: time::Date,
    outing: OutingId,
    unit: UnitId,
    members: &[MemberId],
    a: &str,
    b: &str,
) -> Command {
    Command::RegisterOuting(RegisterOuting {
        outing,
        unit,
        details: details(day, a, b),
        participants: members.iter().copied().map(joined).collect(),
        code: None,
    })
}

impl World {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(dir.path()).unwrap());
        let ledger = Ledger::open(store, &dir.path().join("master.key")).await.unwrap();
        Self { ledger, dir, _schema: None }
    }
}

impl World<taizhang_store::PgStore> {
    /// On PostgreSQL; `None` (the test skipped, saying why) when it cannot be reached
    /// outside CI.
    async fn on_postgres() -> Option<Self> {
        let (store, schema) = taizhang_store::conformance::test_pg_store().await?;
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(Arc::new(store), &dir.path().join("master.key")).await.unwrap();
        Some(Self { ledger, dir, _schema: Some(schema) })
    }
}

impl<S: EventStore> World<S> {
    async fn run(&self, cmd: Command) -> Result<taizhang_store::AppendOutcome, AppError> {
        self.ledger.execute(CommandContext::new(Actor::OPERATOR), cmd).await
    }

    async fn unit(&self, parent: Option<UnitId>) -> UnitId {
        let unit = UnitId::new();
        self.run(Command::RegisterUnit(RegisterUnit {
            unit,
            name: text("十堰市人民医院"),
            industry: text("医院"),
            region: text("茅箭区"),
            parent,
            code: None,
        }))
        .await
        .unwrap();
        unit
    }

    async fn member(&self, unit: UnitId) -> MemberId {
        let member = MemberId::new();
        self.run(Command::RegisterMember(RegisterMember {
            member,
            unit,
            joined_on: date!(2011 - 01 - 01),
            personal: PersonalData {
                name: text("王俊"),
                national_id: Some("110105198005040028".into()),
                phone: Some("0719-8888888".into()),
                birth_date: Some(date!(1980 - 05 - 04)),
            },
            code: None,
        }))
        .await
        .unwrap();
        member
    }

    async fn outing(&self, unit: UnitId, members: &[MemberId], a: &str, b: &str) -> Result<OutingId, AppError> {
        let outing = OutingId::new();
        self.run(outing_command(outing, unit, members, a, b)).await?;
        Ok(outing)
    }

    async fn log(&self) -> Vec<RawRecord> {
        self.ledger.store().read_raw(1, usize::MAX).await.unwrap()
    }

    /// Every booking in the raw log as (start, end) minutes, sorted: the member's day
    /// recomputed independently of the aggregate code.
    async fn booked_spans(&self) -> Vec<(u16, u16)> {
        let events = self.ledger.store().read_all(1, usize::MAX).await.unwrap();
        let mut booked: Vec<(u16, u16)> = events
            .iter()
            .filter_map(|e| match &e.payload {
                DomainEvent::ServiceBooked(b) => Some((b.span.start.minutes(), b.span.end.minutes())),
                _ => None,
            })
            .collect();
        booked.sort();
        booked
    }

    async fn types(&self) -> Vec<&'static str> {
        let events = self.ledger.store().read_all(1, usize::MAX).await.unwrap();
        events.iter().map(|e| e.payload.type_name()).collect()
    }

    /// Sends a command that must be refused with `expected`, and checks that the log did
    /// not change by a single byte.
    async fn refused(&self, cmd: Command, expected: impl Fn(&DomainError) -> bool) {
        let before = self.log().await;
        let name = cmd.name();
        match self.run(cmd).await {
            Err(AppError::Domain(e)) => assert!(expected(&e), "{name}: unexpected error {e:?}"),
            other => panic!("{name}: expected a domain error, got {other:?}"),
        }
        assert_eq!(self.log().await, before, "{name}: a refused command must not change the log");
    }
}

#[tokio::test]
async fn a_service_month_is_recorded_corrected_and_verified() {
    let w = World::new().await;
    let hospital = w.unit(None).await;
    let (a, b) = (w.member(hospital).await, w.member(hospital).await);
    let outing = w.outing(hospital, &[a, b], "08:00", "12:00").await.unwrap();

    // The amendment drops b, gives a part of the span, and says why.
    w.run(Command::AmendOuting(AmendOuting {
        outing,
        details: details(date!(2011 - 06 - 15), "08:00", "12:00"),
        participants: vec![ParticipationInput {
            member: a,
            span: Some(span("09:00", "11:30")),
            minutes: Some(Minutes::parse_hours("hours", "2").unwrap()),
        }],
        reason: text("志愿者九点才到，另一人当天未参加"),
        expected_version: Some(0),
    }))
    .await
    .unwrap();
    w.run(Command::VerifyOuting(VerifyOuting { outing, note: None, expected_version: Some(1) })).await.unwrap();

    assert_eq!(
        w.types().await,
        [
            "UnitRegistered",
            "MemberRegistered",
            "MemberRegistered",
            "OutingRegistered",
            "ServiceBooked",
            "ServiceBooked",
            "OutingAmended",
            "ServiceBooked",
            "ServiceReleased",
            "OutingVerified",
        ]
    );
    // b's calendar is free again: b can serve at the same time elsewhere.
    w.outing(hospital, &[b], "08:00", "12:00").await.unwrap();
    // Personal data is in the log only sealed: the name is nowhere in the raw bytes.
    let raw: Vec<u8> = w.log().await.into_iter().flat_map(|r| r.bytes).collect();
    assert!(!raw.windows("王俊".len()).any(|w| w == "王俊".as_bytes()));
    assert!(!raw.windows(18).any(|w| w == b"110105198005040028"));
    assert!(matches!(w.ledger.personal(a).await.unwrap(), Personal::Known(p) if p.name.as_str() == "王俊"));
}

#[tokio::test]
async fn a_retried_command_is_applied_once() {
    let w = World::new().await;
    let unit = w.unit(None).await;
    let member = w.member(unit).await;
    let ctx = CommandContext::new(Actor::OPERATOR);
    let cmd = Command::RegisterOuting(RegisterOuting {
        outing: OutingId::new(),
        unit,
        details: details(date!(2011 - 06 - 01), "09:00", "10:00"),
        participants: vec![joined(member)],
        code: None,
    });
    let first = w.ledger.execute(ctx.clone(), cmd.clone()).await.unwrap();
    let before = w.log().await;
    let again = w.ledger.execute(ctx, cmd).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.last_position, first.last_position);
    assert_eq!(w.log().await, before);
}

/// A command id given to another command (about another record, or the same record with
/// other details) is refused with `CommandIdReused`, by the single path and the batch
/// path alike, and nothing is written; a registration retried with a new id drawn for
/// its record is still a retry, and so is the same verification sent again.
#[tokio::test]
async fn a_command_id_reused_for_another_command_is_refused() {
    command_ids_are_not_reused(World::new().await).await;
}

/// The same on PostgreSQL.
#[tokio::test]
async fn a_command_id_reused_for_another_command_is_refused_on_postgres() {
    if let Some(w) = World::on_postgres().await {
        command_ids_are_not_reused(w).await;
    }
}

async fn command_ids_are_not_reused<S: EventStore>(w: World<S>) {
    let unit = w.unit(None).await;
    let member = w.member(unit).await;
    let ctx = CommandContext::new(Actor::OPERATOR);
    let (a, b) = (OutingId::new(), OutingId::new());
    w.ledger.execute(ctx.clone(), outing_command(a, unit, &[member], "09:00", "10:00")).await.unwrap();
    let other_ctx = CommandContext::new(Actor::OPERATOR);
    w.ledger.execute(other_ctx, outing_command(b, unit, &[member], "11:00", "12:00")).await.unwrap();
    let before = w.log().await;
    let retried = w.ledger.execute(ctx.clone(), outing_command(OutingId::new(), unit, &[member], "09:00", "10:00"));
    assert!(retried.await.unwrap().duplicate, "a registration drawn a new id on its retry");
    let other = Command::VoidOuting(VoidOuting { outing: b, reason: text("重复登记"), expected_version: None });
    let refused = w.ledger.execute(ctx.clone(), other.clone()).await;
    assert!(matches!(refused, Err(AppError::CommandIdReused(id)) if id == ctx.command_id), "{refused:?}");
    let refused = w.ledger.execute_batch(vec![(ctx.clone(), other)]).await.unwrap();
    assert!(matches!(refused[0], Err(AppError::CommandIdReused(_))), "{refused:?}");
    // The same record with other details is another command too.
    let later = outing_command(OutingId::new(), unit, &[member], "09:00", "09:30");
    let refused = w.ledger.execute(ctx.clone(), later.clone()).await;
    assert!(matches!(refused, Err(AppError::CommandIdReused(_))), "{refused:?}");
    let refused = w.ledger.execute_batch(vec![(ctx.clone(), later)]).await.unwrap();
    assert!(matches!(refused[0], Err(AppError::CommandIdReused(_))), "{refused:?}");
    assert_eq!(w.log().await, before);
    let verify = CommandContext::new(Actor::OPERATOR);
    let verified =
        |note: &str| Command::VerifyOuting(VerifyOuting { outing: a, note: Some(text(note)), expected_version: None });
    w.ledger.execute(verify.clone(), verified("核实无误")).await.unwrap();
    let before = w.log().await;
    assert!(w.ledger.execute(verify.clone(), verified("核实无误")).await.unwrap().duplicate);
    let refused = w.ledger.execute(verify, verified("另一条说明")).await;
    assert!(matches!(refused, Err(AppError::CommandIdReused(_))), "{refused:?}");
    assert_eq!(w.log().await, before);
}

/// The command side keeps each stream's state between commands and brings it up to date
/// with its own writes; another server's writes it reads from the store. Both must
/// count: a member's calendar seen by one server holds every booking, whoever made it.
#[tokio::test]
async fn a_ledger_sees_its_own_writes_and_another_servers() {
    let w = World::new().await;
    let other = Ledger::open(w.ledger.store().clone(), &w.dir.path().join("master.key")).await.unwrap();
    let unit = w.unit(None).await;
    let member = w.member(unit).await;
    w.outing(unit, &[member], "08:00", "09:00").await.unwrap();
    // Its own last write is known: the next command expects the version it made.
    w.outing(unit, &[member], "09:00", "10:00").await.unwrap();
    let by_other = outing_command(OutingId::new(), unit, &[member], "10:00", "11:00");
    other.execute(CommandContext::new(Actor::OPERATOR), by_other).await.unwrap();
    let overlapping = |a, b| outing_command(OutingId::new(), unit, &[member], a, b);
    let is_overlap = |e: &DomainError| matches!(e, DomainError::OverlappingOuting { .. });
    w.refused(overlapping("10:30", "11:30"), is_overlap).await;
    w.refused(overlapping("08:30", "09:30"), is_overlap).await;
    w.refused(overlapping("09:30", "10:30"), is_overlap).await;
    w.outing(unit, &[member], "11:00", "12:00").await.unwrap();
    assert_eq!(w.booked_spans().await, [(480, 540), (540, 600), (600, 660), (660, 720)]);
}

/// A ledger decides on the state it kept from its last command on a stream without
/// asking the store for newer events; a write it did not make (another ledger's here)
/// leaves that state behind. A command the newer state allows must not be refused on
/// the older one, nor one it forbids be applied: the member below moves to another unit
/// through the second ledger, and the first must then register them there and not in
/// their old unit any more.
#[tokio::test]
async fn a_ledger_never_refuses_or_applies_on_state_another_write_left_behind() {
    let w = World::new().await;
    let other = Ledger::open(w.ledger.store().clone(), &w.dir.path().join("master.key")).await.unwrap();
    let (old_unit, new_unit) = (w.unit(None).await, w.unit(None).await);
    let member = w.member(old_unit).await;
    w.outing(old_unit, &[member], "08:00", "09:00").await.unwrap();
    let moved = TransferMember { member, to: new_unit, effective: date!(2011 - 06 - 01) };
    other.execute(CommandContext::new(Actor::OPERATOR), Command::TransferMember(moved)).await.unwrap();
    // The state kept says the member is in the old unit on 15 June; the store says the new.
    w.outing(new_unit, &[member], "09:00", "10:00").await.unwrap();
    let is_not_in_unit = |e: &DomainError| matches!(e, DomainError::MemberNotInUnit { .. });
    let another = |unit| outing_command(OutingId::new(), unit, &[member], "10:00", "11:00");
    other.execute(CommandContext::new(Actor::OPERATOR), another(new_unit)).await.unwrap();
    // The state kept lacks the second ledger's outing, and would let this one overlap it.
    w.refused(another(new_unit), |e| matches!(e, DomainError::OverlappingOuting { .. })).await;
    w.refused(another(old_unit), is_not_in_unit).await;
    assert_eq!(w.booked_spans().await, [(480, 540), (540, 600), (600, 660)]);
}

#[tokio::test]
async fn unit_commands_refuse_their_invalid_forms() {
    let w = World::new().await;
    let top = w.unit(None).await;
    let child = w.unit(Some(top)).await;
    let register = |unit, parent| {
        Command::RegisterUnit(RegisterUnit {
            unit,
            name: text("单位"),
            industry: text("税务"),
            region: text("张湾区"),
            parent,
            code: None,
        })
    };
    w.refused(register(top, None), |e| matches!(e, DomainError::AlreadyExists { .. })).await;
    w.refused(register(UnitId::new(), Some(UnitId::new())), |e| matches!(e, DomainError::UnitNotFound(_))).await;
    w.refused(Command::RenameUnit(RenameUnit { unit: UnitId::new(), name: text("新") }), |e| {
        matches!(e, DomainError::UnitNotFound(_))
    })
    .await;
    let move_to = |unit, parent| Command::MoveUnit(MoveUnit { unit, region: text("郧阳区"), parent });
    w.refused(move_to(top, Some(child)), |e| matches!(e, DomainError::UnitCycle { .. })).await;
    w.refused(move_to(top, Some(top)), |e| matches!(e, DomainError::UnitCycle { .. })).await;
    w.refused(move_to(child, Some(UnitId::new())), |e| matches!(e, DomainError::UnitNotFound(_))).await;
    w.run(move_to(child, None)).await.unwrap();
}

#[tokio::test]
async fn member_commands_refuse_their_invalid_forms() {
    let w = World::new().await;
    let (hospital, tax_hall) = (w.unit(None).await, w.unit(None).await);
    let member = w.member(hospital).await;
    let register = |member, unit, national_id: &str, phone: &str| {
        Command::RegisterMember(RegisterMember {
            member,
            unit,
            joined_on: date!(2011 - 01 - 01),
            personal: PersonalData {
                name: text("李娜"),
                national_id: Some(national_id.into()),
                phone: Some(phone.into()),
                birth_date: None,
            },
            code: None,
        })
    };
    let good_id = "11010519491231002X";
    w.refused(register(MemberId::new(), UnitId::new(), good_id, "13800000000"), |e| {
        matches!(e, DomainError::UnitNotFound(_))
    })
    .await;
    w.refused(register(member, hospital, good_id, "13800000000"), |e| matches!(e, DomainError::AlreadyExists { .. }))
        .await;
    w.refused(register(MemberId::new(), hospital, "110105194912310021", "13800000000"), |e| {
        e.field() == Some("nationalId")
    })
    .await;
    w.refused(register(MemberId::new(), hospital, good_id, "call me"), |e| e.field() == Some("phone")).await;
    // Dates that make no sense: a birth date after joining, a national id whose birth
    // date is not the one given, a year mistyped.
    let person = |born| PersonalData { name: text("李娜"), national_id: None, phone: None, birth_date: Some(born) };
    let member_born = |born, joined_on| {
        Command::RegisterMember(RegisterMember {
            member: MemberId::new(),
            unit: hospital,
            joined_on,
            personal: person(born),
            code: None,
        })
    };
    w.refused(member_born(date!(2011 - 02 - 01), date!(2011 - 01 - 01)), |e| e.field() == Some("joinedOn")).await;
    w.refused(member_born(date!(0011 - 02 - 01), date!(2011 - 01 - 01)), |e| e.field() == Some("birthDate")).await;
    w.refused(member_born(date!(1980 - 02 - 01), date!(2911 - 01 - 01)), |e| e.field() == Some("joinedOn")).await;
    let mismatched = PersonalData { national_id: Some(good_id.into()), ..person(date!(1980 - 05 - 04)) };
    let register_mismatched = Command::RegisterMember(RegisterMember {
        member: MemberId::new(),
        unit: hospital,
        joined_on: date!(2011 - 01 - 01),
        personal: mismatched,
        code: None,
    });
    w.refused(register_mismatched, |e| e.field() == Some("nationalId") && e.to_string().contains("1949-12-31")).await;

    let transfer = |member, to, effective| Command::TransferMember(TransferMember { member, to, effective });
    w.refused(transfer(MemberId::new(), tax_hall, date!(2011 - 03 - 01)), |e| {
        matches!(e, DomainError::MemberNotFound(_))
    })
    .await;
    w.refused(transfer(member, UnitId::new(), date!(2011 - 03 - 01)), |e| matches!(e, DomainError::UnitNotFound(_)))
        .await;
    w.refused(transfer(member, hospital, date!(2011 - 03 - 01)), |e| matches!(e, DomainError::InvalidTransfer { .. }))
        .await;
    w.refused(transfer(member, tax_hall, date!(2010 - 12 - 31)), |e| matches!(e, DomainError::InvalidTransfer { .. }))
        .await;
    w.refused(transfer(member, tax_hall, date!(9999 - 12 - 31)), |e| e.field() == Some("effective")).await;
    w.refused(Command::EraseMember(EraseMember { member: MemberId::new() }), |e| {
        matches!(e, DomainError::MemberNotFound(_))
    })
    .await;
    let evaluate = |member| {
        Command::RecordEvaluation(RecordEvaluation {
            member,
            half_year: HalfYear::parse("halfYear", "2011H1").unwrap(),
            public_score: Score::new("publicScore", 92).unwrap(),
            leader_score: Score::new("leaderScore", 88).unwrap(),
            note: None,
        })
    };
    w.refused(evaluate(MemberId::new()), |e| matches!(e, DomainError::MemberNotFound(_))).await;
    w.run(evaluate(member)).await.unwrap();

    // After a transfer on 1 June, the member serves for the tax hall from that date and
    // for the hospital before it, never the other way round.
    w.run(transfer(member, tax_hall, date!(2011 - 06 - 01))).await.unwrap();
    let in_may = |unit| {
        Command::RegisterOuting(RegisterOuting {
            outing: OutingId::new(),
            unit,
            details: details(date!(2011 - 05 - 31), "09:00", "10:00"),
            participants: vec![joined(member)],
            code: None,
        })
    };
    w.refused(in_may(tax_hall), |e| matches!(e, DomainError::MemberNotInUnit { .. })).await;
    w.run(in_may(hospital)).await.unwrap();
    w.refused(outing_command(OutingId::new(), hospital, &[member], "09:00", "10:00"), |e| {
        matches!(e, DomainError::MemberNotInUnit { .. })
    })
    .await;
}

#[tokio::test]
async fn outing_commands_refuse_their_invalid_forms() {
    let w = World::new().await;
    let (hospital, tax_hall) = (w.unit(None).await, w.unit(None).await);
    let (a, b) = (w.member(hospital).await, w.member(hospital).await);
    let stranger = w.member(tax_hall).await;
    let morning = w.outing(hospital, &[a], "08:00", "12:00").await.unwrap();

    w.refused(outing_command(OutingId::new(), UnitId::new(), &[a], "13:00", "14:00"), |e| {
        matches!(e, DomainError::UnitNotFound(_))
    })
    .await;
    w.refused(outing_command(OutingId::new(), hospital, &[], "13:00", "14:00"), |e| {
        matches!(e, DomainError::NoParticipants)
    })
    .await;
    // An outing after today has not happened: its hours must not count as recorded.
    let dated = |day| {
        Command::RegisterOuting(RegisterOuting {
            outing: OutingId::new(),
            unit: hospital,
            details: details(day, "13:00", "14:00"),
            participants: vec![joined(b)],
            code: None,
        })
    };
    let today = Timestamp::now().service_date();
    let in_a_week = today + time::Duration::days(7);
    w.refused(dated(in_a_week), |e| e.field() == Some("date") && e.to_string().contains("after today")).await;
    w.refused(dated(date!(2099 - 06 - 01)), |e| e.field() == Some("date")).await;
    w.refused(dated(date!(1011 - 06 - 01)), |e| e.field() == Some("date")).await;
    let amend_to = |day| {
        Command::AmendOuting(AmendOuting {
            outing: morning,
            details: details(day, "08:00", "12:00"),
            participants: vec![joined(a)],
            reason: text("改期"),
            expected_version: None,
        })
    };
    w.refused(amend_to(in_a_week), |e| e.field() == Some("date")).await;
    w.run(dated(today)).await.unwrap();
    w.refused(outing_command(OutingId::new(), hospital, &[b, b], "13:00", "14:00"), |e| {
        matches!(e, DomainError::DuplicateParticipant { .. })
    })
    .await;
    w.refused(outing_command(OutingId::new(), hospital, &[MemberId::new()], "13:00", "14:00"), |e| {
        matches!(e, DomainError::MemberNotFound(_))
    })
    .await;
    w.refused(
        outing_command(OutingId::new(), hospital, &[b, stranger], "13:00", "14:00"),
        |e| matches!(e, DomainError::MemberNotInUnit { member, .. } if *member == stranger),
    )
    .await;
    w.refused(
        outing_command(OutingId::new(), hospital, &[b, a], "11:00", "13:00"),
        |e| matches!(e, DomainError::OverlappingOuting { member, other, .. } if *member == a && *other == morning),
    )
    .await;
    let with = |input: ParticipationInput| {
        Command::RegisterOuting(RegisterOuting {
            outing: OutingId::new(),
            unit: hospital,
            details: details(date!(2011 - 06 - 15), "13:00", "15:00"),
            participants: vec![input],
            code: None,
        })
    };
    w.refused(with(ParticipationInput { member: b, span: Some(span("12:30", "14:00")), minutes: None }), |e| {
        matches!(e, DomainError::ParticipationOutsideOuting { .. })
    })
    .await;
    w.refused(
        with(ParticipationInput { member: b, span: Some(span("13:00", "14:00")), minutes: Minutes::new(61) }),
        |e| matches!(e, DomainError::HoursExceedSpan { hours, span_hours, .. } if hours == "1.02" && span_hours == "1.00"),
    )
    .await;
    w.refused(
        Command::RegisterOuting(RegisterOuting {
            outing: morning,
            unit: hospital,
            details: details(date!(2011 - 06 - 16), "08:00", "09:00"),
            participants: vec![joined(b)],
            code: None,
        }),
        |e| matches!(e, DomainError::AlreadyExists { .. }),
    )
    .await;

    let amend = |outing, expected_version, members: &[MemberId], a: &str, z: &str| {
        Command::AmendOuting(AmendOuting {
            outing,
            details: details(date!(2011 - 06 - 15), a, z),
            participants: members.iter().copied().map(joined).collect(),
            reason: text("更正时间"),
            expected_version,
        })
    };
    w.refused(amend(OutingId::new(), None, &[a], "08:00", "09:00"), |e| matches!(e, DomainError::OutingNotFound(_)))
        .await;
    w.refused(amend(morning, Some(3), &[a], "08:00", "09:00"), |e| {
        matches!(e, DomainError::StaleVersion { expected: 3, actual: Some(0), .. })
    })
    .await;
    let afternoon = w.outing(hospital, &[b], "14:00", "16:00").await.unwrap();
    w.refused(
        amend(morning, Some(0), &[a, b], "08:00", "15:00"),
        |e| matches!(e, DomainError::OverlappingOuting { member, other, .. } if *member == b && *other == afternoon),
    )
    .await;

    let verify =
        |outing, expected_version| Command::VerifyOuting(VerifyOuting { outing, note: None, expected_version });
    w.refused(verify(OutingId::new(), None), |e| matches!(e, DomainError::OutingNotFound(_))).await;
    w.refused(verify(morning, Some(5)), |e| matches!(e, DomainError::StaleVersion { .. })).await;
    w.run(verify(morning, Some(0))).await.unwrap();
    w.refused(verify(morning, None), |e| matches!(e, DomainError::AlreadyVerified { .. })).await;

    let void =
        |outing| Command::VoidOuting(VoidOuting { outing, reason: text("重复登记"), expected_version: None });
    w.refused(void(OutingId::new()), |e| matches!(e, DomainError::OutingNotFound(_))).await;
    w.run(void(morning)).await.unwrap();
    w.refused(void(morning), |e| matches!(e, DomainError::OutingVoided { .. })).await;
    w.refused(verify(morning, None), |e| matches!(e, DomainError::OutingVoided { .. })).await;
    w.refused(amend(morning, None, &[a], "08:00", "09:00"), |e| matches!(e, DomainError::OutingVoided { .. })).await;
    // Voiding released a's morning: a may now serve then.
    w.outing(hospital, &[a], "08:00", "12:00").await.unwrap();
}

/// A crowd of commands on one stream at once (everyone checking in at one site writes
/// one outing's stream): each commit takes one and refuses the others, which decide
/// again in turn. None may be refused for contention, however many there are.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crowd_on_one_stream_gets_through_in_turns() {
    const CROWD: u16 = 200;
    let w = Arc::new(World::new().await);
    let unit = w.unit(None).await;
    let member = w.member(unit).await;
    // Each an hour on a day of its own: no rule refuses any, and every one books the
    // member, so all of them expect the member's stream at the version they read.
    let tasks: Vec<_> = (0..CROWD)
        .map(|i| {
            let w = w.clone();
            tokio::spawn(async move {
                let day = date!(2011 - 01 - 01) + time::Duration::days(i64::from(i));
                w.run(outing_command_on(day, OutingId::new(), unit, &[member], "09:00", "10:00")).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("no command of the crowd is refused");
    }
    assert_eq!(w.booked_spans().await.len(), usize::from(CROWD));
}

/// Many servers' worth of clerks race to book one member. Whatever the interleaving,
/// the member never ends up in overlapping outings or over 24 hours on a day.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_commands_cannot_double_book_a_member() {
    let w = Arc::new(World::new().await);
    let unit = w.unit(None).await;
    let member = w.member(unit).await;
    let mut tasks = Vec::new();
    // 24 one-hour slots fill the day exactly; 8 more commands overlap two slots each.
    for i in 0..32u16 {
        let w = w.clone();
        tasks.push(tokio::spawn(async move {
            let (a, b) = if i < 24 { (i * 60, i * 60 + 60) } else { ((i - 24) * 180 + 30, (i - 24) * 180 + 90) };
            let at = |m| ClockTime::from_minutes(m).unwrap().to_string();
            w.outing(unit, &[member], &at(a), &at(b)).await
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(AppError::Domain(DomainError::OverlappingOuting { .. } | DomainError::DailyLimitExceeded { .. })) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    let booked = w.booked_spans().await;
    assert_eq!(booked.len(), accepted);
    for pair in booked.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlapping bookings {pair:?}");
    }
    let total: u32 = booked.iter().map(|(a, b)| (b - a) as u32).sum();
    assert!(total <= 24 * 60);
    assert!(accepted >= 16, "at most 8 of the 24 slots can lose to an overlapping command, got {accepted}");
}

#[tokio::test]
async fn erasing_a_member_hides_their_data_keeps_their_hours_and_the_chain() {
    let w = World::new().await;
    let unit = w.unit(None).await;
    let member = w.member(unit).await;
    w.outing(unit, &[member], "08:00", "10:00").await.unwrap();
    w.run(Command::EraseMember(EraseMember { member })).await.unwrap();

    assert_eq!(w.ledger.personal(member).await.unwrap(), Personal::Erased);
    let booked: u32 = w
        .ledger
        .store()
        .read_all(1, usize::MAX)
        .await
        .unwrap()
        .iter()
        .filter_map(|e| match &e.payload {
            DomainEvent::ServiceBooked(b) if b.member == member => Some(b.minutes.get()),
            _ => None,
        })
        .sum();
    assert_eq!(booked, 120, "the erased member's hours still count under their id");
    chain::verify(w.ledger.store().as_ref(), |_| {}).await.unwrap();
    // Erased members take no new outings and cannot be registered again.
    w.refused(outing_command(OutingId::new(), unit, &[member], "13:00", "14:00"), |e| {
        matches!(e, DomainError::MemberErased { .. })
    })
    .await;
    let again = RegisterMember {
        member,
        unit,
        joined_on: date!(2011 - 01 - 01),
        personal: PersonalData { name: text("王俊"), national_id: None, phone: None, birth_date: None },
        code: None,
    };
    w.refused(Command::RegisterMember(again), |e| matches!(e, DomainError::AlreadyExists { .. })).await;
    assert_eq!(w.ledger.personal(member).await.unwrap(), Personal::Erased, "no new key replaces the tombstone");
}

#[tokio::test]
async fn a_clerk_writes_only_for_the_units_of_their_scope() {
    let w = World::new().await;
    let (own, other) = (w.unit(None).await, w.unit(None).await);
    let (ours, theirs) = (w.member(own).await, w.member(other).await);
    let their_outing = w.outing(other, &[theirs], "09:00", "10:00").await.unwrap();
    let clerk = Actor { role: Role::Clerk, token: Some(uuid::Uuid::new_v4()) };
    let as_clerk = |cmd| {
        let context = CommandContext { scope: Some(Arc::from([own])), ..CommandContext::new(clerk) };
        w.ledger.execute(context, cmd)
    };

    let before = w.log().await;
    let refused = [
        Command::RegisterOuting(RegisterOuting {
            outing: OutingId::new(),
            unit: other,
            details: details(date!(2011 - 06 - 16), "09:00", "10:00"),
            participants: vec![joined(theirs)],
            code: None,
        }),
        Command::VoidOuting(VoidOuting { outing: their_outing, reason: text("误登"), expected_version: None }),
        // Into the clerk's unit, but out of another's: both ends must be theirs.
        Command::TransferMember(TransferMember { member: theirs, to: own, effective: date!(2011 - 06 - 20) }),
        Command::TransferMember(TransferMember { member: ours, to: other, effective: date!(2011 - 06 - 20) }),
    ];
    for cmd in refused {
        let name = cmd.name();
        match as_clerk(cmd).await {
            Err(AppError::OutOfScope { unit }) => assert_eq!(unit, other, "{name}"),
            other => panic!("{name}: expected OutOfScope, got {other:?}"),
        }
    }
    assert_eq!(w.log().await, before, "refused writes must not change the log");

    let outing = OutingId::new();
    let registered = as_clerk(Command::RegisterOuting(RegisterOuting {
        outing,
        unit: own,
        details: details(date!(2011 - 06 - 16), "09:00", "10:00"),
        participants: vec![joined(ours)],
        code: None,
    }))
    .await
    .unwrap();
    let events = w.ledger.store().read_all(registered.last_position, 1).await.unwrap();
    assert_eq!(events[0].actor, clerk, "the event records who caused it");
}

#[tokio::test]
async fn a_batch_applies_in_order_and_a_broken_rule_refuses_only_its_command() {
    let w = World::new().await;
    let unit = w.unit(None).await;
    let member = w.member(unit).await;
    let before = w.log().await.len();
    let context = || CommandContext::new(Actor::OPERATOR);
    let batch = vec![
        (context(), outing_command(OutingId::new(), unit, &[member], "09:00", "10:00")),
        (context(), outing_command(OutingId::new(), unit, &[member], "09:30", "10:30")),
        (context(), outing_command(OutingId::new(), unit, &[member], "11:00", "12:00")),
    ];
    let results = w.ledger.execute_batch(batch.clone()).await.unwrap();
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(
        matches!(results[1], Err(AppError::Domain(DomainError::OverlappingOuting { .. }))),
        "the second overlaps the first, decided in the same batch: {:?}",
        results[1]
    );
    let first = results[0].as_ref().unwrap();
    assert_eq!(results[2].as_ref().unwrap().first_position, first.last_position + 1, "in the order given");
    let after = w.log().await;

    // The same batch again: the two applied are answered from the log, nothing written.
    let again = w.ledger.execute_batch(batch).await.unwrap();
    assert!(again[0].as_ref().unwrap().duplicate && again[2].as_ref().unwrap().duplicate);
    assert_eq!(w.log().await, after);
    assert!(after.len() > before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_racing_for_one_member_lose_no_command_and_double_book_nothing() {
    let w = Arc::new(World::new().await);
    let unit = w.unit(None).await;
    let member = w.member(unit).await;
    // Eight batches of three one-hour outings each fill the member's day exactly; run
    // together, most lose a race and are executed again on fresh state.
    let mut tasks = Vec::new();
    for i in 0..8u16 {
        let w = w.clone();
        tasks.push(tokio::spawn(async move {
            let at = |h: u16| ClockTime::from_minutes(h * 60).unwrap().to_string();
            let batch = (0..3)
                .map(|k| {
                    let hour = i * 3 + k;
                    (
                        CommandContext::new(Actor::OPERATOR),
                        outing_command(OutingId::new(), unit, &[member], &at(hour), &at(hour + 1)),
                    )
                })
                .collect();
            w.ledger.run_in_order(batch, |_| {}).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), 3);
    }
    let booked = w.booked_spans().await;
    let expected: Vec<(u16, u16)> = (0..24).map(|h| (h * 60, h * 60 + 60)).collect();
    assert_eq!(booked, expected, "every hour booked once");
}
