//! The domain's rules as scenarios: given the events of a log, a command is accepted
//! with exactly these events, or refused with this kind of error. No store: what a
//! command may do depends only on the state its events fold into.

use taizhang_core::scenario::given;
use taizhang_core::scenario::sample::{details, joined, member_registered, span, text, unit_registered};
use taizhang_core::*;
use time::macros::date;

fn booked(member: MemberId, outing: OutingId, a: &str, b: &str) -> DomainEvent {
    let span = span(a, b);
    let minutes = Minutes::new(span.minutes()).unwrap();
    DomainEvent::ServiceBooked(ServiceBooked { member, outing, date: date!(2011 - 06 - 15), span, minutes })
}

fn registered(outing: OutingId, unit: UnitId, member: MemberId, a: &str, b: &str) -> DomainEvent {
    let span = span(a, b);
    let minutes = Minutes::new(span.minutes()).unwrap();
    DomainEvent::OutingRegistered(OutingRegistered {
        outing,
        unit,
        details: details(a, b),
        participants: vec![Participation { member, span, minutes }],
        code: None,
    })
}

fn register(outing: OutingId, unit: UnitId, members: &[MemberId], a: &str, b: &str) -> Command {
    Command::RegisterOuting(RegisterOuting {
        outing,
        unit,
        details: details(a, b),
        participants: joined(members),
        code: None,
    })
}

/// A unit with a member, and the member's outing from 9 to 11 on 15 June 2011.
fn served() -> (UnitId, MemberId, OutingId, Vec<DomainEvent>) {
    let (unit, member, outing) = (UnitId::new(), MemberId::new(), OutingId::new());
    let log = vec![
        unit_registered(unit),
        member_registered(member, unit),
        registered(outing, unit, member, "09:00", "11:00"),
        booked(member, outing, "09:00", "11:00"),
    ];
    (unit, member, outing, log)
}

#[test]
fn an_outing_books_each_participants_time() {
    let (unit, member, outing) = (UnitId::new(), MemberId::new(), OutingId::new());
    given([unit_registered(unit), member_registered(member, unit)])
        .when(register(outing, unit, &[member], "09:00", "11:00"))
        .then([registered(outing, unit, member, "09:00", "11:00"), booked(member, outing, "09:00", "11:00")]);
}

#[test]
fn a_record_is_registered_once() {
    let unit = UnitId::new();
    let again = RegisterUnit {
        unit,
        name: text("另一家"),
        industry: text("税务"),
        region: text("张湾区"),
        parent: None,
        code: None,
    };
    given([unit_registered(unit)]).when(Command::RegisterUnit(again)).then_err(ErrorKind::Conflict);
}

#[test]
fn a_code_names_one_record() {
    let code = Some(text("SY-0001"));
    let other = RegisterUnit {
        unit: UnitId::new(),
        name: text("医院"),
        industry: text("医疗"),
        region: text("茅箭区"),
        parent: None,
        code,
    };
    let e = given([]).when(Command::RegisterUnit(other)).then_err(ErrorKind::Invalid);
    assert_eq!(e.field(), Some("code"));
}

#[test]
fn what_a_command_names_must_exist() {
    let (unit, member) = (UnitId::new(), MemberId::new());
    given([unit_registered(unit)])
        .when(Command::RenameUnit(RenameUnit { unit: UnitId::new(), name: text("新名") }))
        .then_err(ErrorKind::NotFound);
    given([unit_registered(unit)])
        .when(register(OutingId::new(), unit, &[member], "09:00", "10:00"))
        .then_err(ErrorKind::NotFound);
    given([unit_registered(unit), member_registered(member, unit)])
        .when(Command::VerifyOuting(VerifyOuting { outing: OutingId::new(), note: None, expected_version: None }))
        .then_err(ErrorKind::NotFound);
}

#[test]
fn a_unit_is_not_placed_under_itself() {
    let (top, below) = (UnitId::new(), UnitId::new());
    let under = DomainEvent::UnitMoved(UnitMoved { unit: below, region: text("茅箭区"), parent: Some(top) });
    let e = given([unit_registered(top), unit_registered(below), under])
        .when(Command::MoveUnit(MoveUnit { unit: top, region: text("茅箭区"), parent: Some(below) }))
        .then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::UnitCycle { unit: top, parent: below });
}

#[test]
fn a_reclassification_changes_the_industry() {
    let unit = UnitId::new();
    let same = ReclassifyUnit { unit, industry: text("医疗卫生"), reason: text("核对") };
    given([unit_registered(unit)]).when(Command::ReclassifyUnit(same)).then_err(ErrorKind::Invalid);
}

#[test]
fn a_member_serves_for_the_unit_they_belong_to_that_day() {
    let (unit, other, member) = (UnitId::new(), UnitId::new(), MemberId::new());
    let e = given([unit_registered(unit), unit_registered(other), member_registered(member, unit)])
        .when(register(OutingId::new(), other, &[member], "09:00", "10:00"))
        .then_err(ErrorKind::Invalid);
    assert_eq!(e.participant(), Some(member));
}

#[test]
fn a_member_is_not_in_two_outings_at_once() {
    let (unit, member, _, log) = served();
    let e = given(log).when(register(OutingId::new(), unit, &[member], "10:00", "12:00")).then_err(ErrorKind::Invalid);
    assert!(matches!(e, DomainError::OverlappingOuting { .. }), "{e}");
}

/// A member's calendar is checked on the outing's day: a booking moved to another day
/// (an amended date) frees the first day and takes the second, and a released one
/// takes neither.
#[test]
fn a_booking_counts_on_its_current_day_only() {
    let (unit, member, outing, mut log) = served();
    let (the_14th, the_15th) = (date!(2011 - 06 - 14), date!(2011 - 06 - 15));
    // An event of the helpers above (all on the 15th) on `date` instead.
    let on = |date: time::Date, event: DomainEvent| match event {
        DomainEvent::ServiceBooked(e) => DomainEvent::ServiceBooked(ServiceBooked { date, ..e }),
        DomainEvent::OutingRegistered(e) => {
            DomainEvent::OutingRegistered(OutingRegistered { details: OutingDetails { date, ..e.details }, ..e })
        }
        other => other,
    };
    let register_on = |date: time::Date, outing| match register(outing, unit, &[member], "10:00", "12:00") {
        Command::RegisterOuting(c) => {
            Command::RegisterOuting(RegisterOuting { details: OutingDetails { date, ..c.details }, ..c })
        }
        other => other,
    };
    let accepted = |log: &[DomainEvent], date| {
        let next = OutingId::new();
        let expected = [registered(next, unit, member, "10:00", "12:00"), booked(member, next, "10:00", "12:00")];
        given(log.to_vec()).when(register_on(date, next)).then(expected.map(|e| on(date, e)));
    };

    log.push(on(the_14th, booked(member, outing, "09:00", "11:00")));
    accepted(&log, the_15th);
    let e = given(log.clone()).when(register_on(the_14th, OutingId::new())).then_err(ErrorKind::Invalid);
    assert!(matches!(e, DomainError::OverlappingOuting { other, .. } if other == outing), "{e}");

    log.push(DomainEvent::ServiceReleased(ServiceReleased { member, outing }));
    accepted(&log, the_14th);
    accepted(&log, the_15th);
}

#[test]
fn hours_are_at_most_the_time_there() {
    let (unit, member) = (UnitId::new(), MemberId::new());
    let mut command = RegisterOuting {
        outing: OutingId::new(),
        unit,
        details: details("09:00", "10:00"),
        participants: joined(&[member]),
        code: None,
    };
    command.participants[0].minutes = Minutes::new(90);
    let e = given([unit_registered(unit), member_registered(member, unit)])
        .when(Command::RegisterOuting(command))
        .then_err(ErrorKind::Invalid);
    assert!(matches!(e, DomainError::HoursExceedSpan { .. }), "{e}");
}

#[test]
fn an_outing_is_registered_once_it_has_happened() {
    let (unit, member) = (UnitId::new(), MemberId::new());
    given([unit_registered(unit), member_registered(member, unit)])
        .today(date!(2011 - 06 - 01))
        .when(register(OutingId::new(), unit, &[member], "09:00", "10:00"))
        .then_err(ErrorKind::Invalid);
}

#[test]
fn a_voided_outing_no_longer_changes() {
    let (_, _, outing, mut log) = served();
    log.push(DomainEvent::OutingVoided(OutingVoided { outing, reason: text("重复登记") }));
    let e = given(log)
        .when(Command::VerifyOuting(VerifyOuting { outing, note: None, expected_version: None }))
        .then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::OutingVoided { outing });
}

#[test]
fn a_verification_covers_the_version_the_reviewer_read() {
    let (_, _, outing, log) = served();
    let at = |version| Command::VerifyOuting(VerifyOuting { outing, note: None, expected_version: Some(version) });
    given(log.clone()).when(at(0)).then([DomainEvent::OutingVerified(OutingVerified { outing, note: None })]);
    given(log.clone()).when(at(3)).then_err(ErrorKind::Conflict);
    let mut verified = log;
    verified.push(DomainEvent::OutingVerified(OutingVerified { outing, note: None }));
    given(verified).when(at(1)).then_err(ErrorKind::Invalid);
}

#[test]
fn voiding_releases_the_participants_time() {
    let (_, member, outing, log) = served();
    given(log).when(Command::VoidOuting(VoidOuting { outing, reason: text("重复登记"), expected_version: None })).then(
        [
            DomainEvent::OutingVoided(OutingVoided { outing, reason: text("重复登记") }),
            DomainEvent::ServiceReleased(ServiceReleased { member, outing }),
        ],
    );
}

#[test]
fn a_transfer_moves_a_member_forward_in_time_to_another_unit() {
    let (unit, other, member) = (UnitId::new(), UnitId::new(), MemberId::new());
    let log = [unit_registered(unit), unit_registered(other), member_registered(member, unit)];
    let to = |unit, effective| Command::TransferMember(TransferMember { member, to: unit, effective });
    given(log.clone()).when(to(other, date!(2011 - 07 - 01))).then([DomainEvent::MemberTransferred(
        MemberTransferred { member, from: unit, to: other, effective: date!(2011 - 07 - 01) },
    )]);
    given(log.clone()).when(to(unit, date!(2011 - 07 - 01))).then_err(ErrorKind::Invalid);
    given(log).when(to(other, date!(2011 - 01 - 01))).then_err(ErrorKind::Invalid);
}

#[test]
fn personal_data_is_corrected_sealed() {
    let (unit, member) = (UnitId::new(), MemberId::new());
    let personal = PersonalData { name: text("王俊杰"), national_id: None, phone: None, birth_date: None };
    given([unit_registered(unit), member_registered(member, unit)])
        .when(Command::CorrectPersonalData(CorrectPersonalData { member, personal, reason: text("姓名有误") }))
        .then([DomainEvent::PersonalDataCorrected(PersonalDataCorrected {
            member,
            personal: SealedPersonal("王俊杰".as_bytes().to_vec()),
            reason: text("姓名有误"),
        })]);
}

fn promise(text_: &str) -> CommitmentContent {
    CommitmentContent {
        category: text("办结时限"),
        text: text(text_),
        target: Some(text("≤ 3 个工作日")),
        from: date!(2011 - 01 - 01),
        until: date!(2011 - 06 - 30),
        public: true,
    }
}

fn made(commitment: CommitmentId, unit: UnitId, renews: Vec<CommitmentId>) -> DomainEvent {
    DomainEvent::CommitmentMade(CommitmentMade {
        commitment,
        unit,
        member: None,
        content: promise("即办件当场办结"),
        renews,
        code: None,
    })
}

fn make(commitment: CommitmentId, unit: UnitId, renews: Vec<CommitmentId>) -> Command {
    Command::MakeCommitment(MakeCommitment {
        commitment,
        unit,
        member: None,
        content: promise("即办件当场办结"),
        renews,
        code: None,
    })
}

fn assess(commitment: CommitmentId) -> Command {
    Command::AssessCommitment(AssessCommitment {
        commitment,
        fulfilment: Fulfilment::PartlyKept,
        evidence: text("群众意见 12 条，满意 10 条"),
    })
}

#[test]
fn a_unit_makes_a_commitment_and_a_renewal_names_what_it_carries_on() {
    let (unit, first, renewal) = (UnitId::new(), CommitmentId::new(), CommitmentId::new());
    given([unit_registered(unit)]).when(make(first, unit, vec![])).then([made(first, unit, vec![])]);
    given([unit_registered(unit), made(first, unit, vec![])]).when(make(renewal, unit, vec![first])).then([made(
        renewal,
        unit,
        vec![first],
    )]);
    given([unit_registered(unit)]).when(make(first, UnitId::new(), vec![])).then_err(ErrorKind::NotFound);
    given([unit_registered(unit)]).when(make(renewal, unit, vec![first])).then_err(ErrorKind::NotFound);
}

#[test]
fn a_renewal_carries_on_its_own_units_items_only() {
    let (unit, other, theirs, renewal) = (UnitId::new(), UnitId::new(), CommitmentId::new(), CommitmentId::new());
    let log = [unit_registered(unit), unit_registered(other), made(theirs, other, vec![])];
    let e = given(log).when(make(renewal, unit, vec![theirs])).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::RenewsAnotherUnit { commitment: theirs, unit: other });
}

#[test]
fn a_term_ends_after_it_begins() {
    let (unit, commitment) = (UnitId::new(), CommitmentId::new());
    let mut content = promise("即办件当场办结");
    content.until = date!(2010 - 12 - 31);
    let cmd = MakeCommitment { commitment, unit, member: None, content, renews: vec![], code: None };
    let e = given([unit_registered(unit)]).when(Command::MakeCommitment(cmd)).then_err(ErrorKind::Invalid);
    assert_eq!(e.field(), Some("until"));
}

#[test]
fn a_withdrawn_commitment_is_neither_assessed_nor_amended_and_an_assessed_one_is_renewed() {
    let (unit, commitment) = (UnitId::new(), CommitmentId::new());
    let withdrawn = DomainEvent::CommitmentWithdrawn(CommitmentWithdrawn { commitment, reason: text("职能调整") });
    let log = || [unit_registered(unit), made(commitment, unit, vec![]), withdrawn.clone()];
    let e = given(log()).when(assess(commitment)).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::CommitmentWithdrawn { commitment });
    let amend = AmendCommitment { commitment, content: promise("承诺改写"), reason: text("表述不清") };
    given(log()).when(Command::AmendCommitment(amend.clone())).then_err(ErrorKind::Invalid);
    let assessed = DomainEvent::CommitmentAssessed(CommitmentAssessed {
        commitment,
        fulfilment: Fulfilment::Kept,
        evidence: text("群众满意"),
    });
    let e = given([unit_registered(unit), made(commitment, unit, vec![]), assessed.clone()])
        .when(Command::AmendCommitment(amend.clone()))
        .then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::CommitmentAssessed { commitment });
    given([unit_registered(unit), made(commitment, unit, vec![])]).when(Command::AmendCommitment(amend)).then([
        DomainEvent::CommitmentAmended(CommitmentAmended {
            commitment,
            content: promise("承诺改写"),
            reason: text("表述不清"),
        }),
    ]);
    // A later finding corrects an earlier one.
    given([unit_registered(unit), made(commitment, unit, vec![]), assessed]).when(assess(commitment)).then([
        DomainEvent::CommitmentAssessed(CommitmentAssessed {
            commitment,
            fulfilment: Fulfilment::PartlyKept,
            evidence: text("群众意见 12 条，满意 10 条"),
        }),
    ]);
}

#[test]
fn a_members_commitment_is_made_in_the_unit_they_belong_to() {
    let (unit, other, member, commitment) = (UnitId::new(), UnitId::new(), MemberId::new(), CommitmentId::new());
    let log = || [unit_registered(unit), unit_registered(other), member_registered(member, unit)];
    let cmd = |unit| MakeCommitment {
        commitment,
        unit,
        member: Some(member),
        content: promise("每月参加志愿服务不少于 4 小时"),
        renews: vec![],
        code: None,
    };
    given(log()).when(Command::MakeCommitment(cmd(unit))).then([DomainEvent::CommitmentMade(CommitmentMade {
        commitment,
        unit,
        member: Some(member),
        content: promise("每月参加志愿服务不少于 4 小时"),
        renews: vec![],
        code: None,
    })]);
    given(log()).when(Command::MakeCommitment(cmd(other))).then_err(ErrorKind::Invalid);
    // Nor for a term that begins before the member joined.
    let mut early = cmd(unit);
    early.content.from = date!(2000 - 01 - 01);
    let e = given(log()).when(Command::MakeCommitment(early)).then_err(ErrorKind::Invalid);
    assert!(matches!(e, DomainError::MemberNotInUnit { .. }), "{e}");
}

fn summary_text(done: &str) -> SummaryText {
    SummaryText { done: text(done), learnt: None, next: None }
}

#[test]
fn a_unit_summarises_a_week_that_has_begun_and_revises_it_in_the_same_stream() {
    let unit = UnitId::new();
    let week = IsoWeek::parse("week", "2011-W23").unwrap();
    let submit = |done: &str| Command::SubmitSummary(SubmitSummary::new(unit, week, summary_text(done)));
    let submitted = |done: &str| {
        DomainEvent::SummarySubmitted(SummarySubmitted {
            summary: SummaryId::of(unit, week),
            unit,
            week,
            text: summary_text(done),
        })
    };
    given([unit_registered(unit)]).when(submit("义诊一次")).then([submitted("义诊一次")]);
    given([unit_registered(unit), submitted("义诊一次")]).when(submit("义诊两次")).then([submitted("义诊两次")]);
    given([]).when(submit("义诊一次")).then_err(ErrorKind::NotFound);
    // "Today" in a scenario is the last day of 2011.
    let next_year = IsoWeek::parse("week", "2012-W02").unwrap();
    let e = given([unit_registered(unit)])
        .when(Command::SubmitSummary(SubmitSummary::new(unit, next_year, summary_text("计划"))))
        .then_err(ErrorKind::Invalid);
    assert_eq!(e.field(), Some("week"));
    let forged = SubmitSummary { summary: SummaryId::new(), ..SubmitSummary::new(unit, week, summary_text("?")) };
    given([unit_registered(unit)]).when(Command::SubmitSummary(forged)).then_err(ErrorKind::Invalid);
    let comment = CommentOnSummary { summary: SummaryId::of(unit, week), comment: text("很好") };
    given([unit_registered(unit)]).when(Command::CommentOnSummary(comment)).then_err(ErrorKind::NotFound);
}

#[test]
fn iso_weeks_are_read_as_written_and_a_missing_week_is_refused() {
    let week = IsoWeek::parse("week", "2011-W23").unwrap();
    assert_eq!(
        (week.to_string(), week.period().first, week.period().last),
        ("2011-W23".to_owned(), date!(2011 - 06 - 06), date!(2011 - 06 - 12))
    );
    assert_eq!(IsoWeek::containing(date!(2011 - 01 - 01)).to_string(), "2010-W52");
    assert_eq!(IsoWeek::parse("week", "2011w23"), Ok(week));
    for bad in ["2011-W54", "2011-23", "W23", "2011-W0", ""] {
        assert!(IsoWeek::parse("week", bad).is_err(), "{bad}");
    }
}

#[test]
fn a_round_is_opened_over_units_that_exist_and_closed_once() {
    let (unit, round) = (UnitId::new(), RoundId::new());
    let period = Period::new(date!(2011 - 01 - 01), date!(2011 - 06 - 30)).unwrap();
    let open = |scope: RoundScope| Command::OpenRound(OpenRound { round, name: text("回头看"), period, scope });
    let opened = DomainEvent::RoundOpened(RoundOpened {
        round,
        name: text("回头看"),
        first: period.first,
        last: period.last,
        scope: RoundScope::Units(vec![unit]),
    });
    given([unit_registered(unit)]).when(open(RoundScope::Units(vec![unit]))).then([opened.clone()]);
    given([]).when(open(RoundScope::Units(vec![unit]))).then_err(ErrorKind::NotFound);
    let e = given([]).when(open(RoundScope::Units(vec![]))).then_err(ErrorKind::Invalid);
    assert_eq!(e.field(), Some("scope.units"));
    given([unit_registered(unit), opened.clone()]).when(open(RoundScope::All)).then_err(ErrorKind::Conflict);
    let close = Command::CloseRound(CloseRound { round });
    given([opened.clone()]).when(close.clone()).then([DomainEvent::RoundClosed(RoundClosed { round })]);
    let e = given([opened, DomainEvent::RoundClosed(RoundClosed { round })])
        .when(close.clone())
        .then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::RoundClosed { round });
    given([]).when(close).then_err(ErrorKind::NotFound);
}

#[test]
fn an_opinion_is_recorded_in_an_open_round_about_a_unit_it_covers() {
    let (unit, outside, round, opinion) = (UnitId::new(), UnitId::new(), RoundId::new(), OpinionId::new());
    let item = CommitmentId::new();
    let opened = DomainEvent::RoundOpened(RoundOpened {
        round,
        name: text("回头看"),
        first: date!(2011 - 01 - 01),
        last: date!(2011 - 06 - 30),
        scope: RoundScope::Units(vec![unit]),
    });
    let world = || [unit_registered(unit), unit_registered(outside), made(item, unit, vec![]), opened.clone()];
    let citizen =
        PersonalData {
            name: text("李女士"), national_id: None, phone: Some("0719-8888888".into()), birth_date: None
        };
    let record = |about: OpinionAbout, citizen: Option<PersonalData>| {
        Command::RecordOpinion(RecordOpinion {
            opinion,
            round,
            about,
            text: text("办事很快"),
            rating: Some(Rating::Satisfied),
            channel: Channel::Telephone,
            citizen,
        })
    };
    let recorded = DomainEvent::OpinionRecorded(OpinionRecorded {
        opinion,
        round,
        unit,
        commitment: Some(item),
        text: text("办事很快"),
        rating: Some(Rating::Satisfied),
        channel: Channel::Telephone,
        // The scenario's sealer writes the name's bytes.
        citizen: Some(SealedPersonal("李女士".as_bytes().to_vec())),
    });
    given(world()).when(record(OpinionAbout::Commitment(item), Some(citizen.clone()))).then([recorded.clone()]);

    let e = given(world()).when(record(OpinionAbout::Unit(outside), None)).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::OutsideRound { unit: outside, round });
    let closed = DomainEvent::RoundClosed(RoundClosed { round });
    let mut after = world().to_vec();
    after.push(closed);
    given(after).when(record(OpinionAbout::Unit(unit), None)).then_err(ErrorKind::Invalid);
    given([unit_registered(unit)]).when(record(OpinionAbout::Unit(unit), None)).then_err(ErrorKind::NotFound);
    let identified = PersonalData { national_id: Some("11010519491231002X".into()), ..citizen };
    let e = given(world()).when(record(OpinionAbout::Unit(unit), Some(identified))).then_err(ErrorKind::Invalid);
    assert_eq!(e.field(), Some("citizen"));

    // The citizen is erased once; an opinion without one has nothing to erase.
    let erase = Command::EraseCitizen(EraseCitizen { opinion });
    let mut history = world().to_vec();
    history.push(recorded);
    given(history.clone()).when(erase.clone()).then([DomainEvent::CitizenErased(CitizenErased { opinion })]);
    history.push(DomainEvent::CitizenErased(CitizenErased { opinion }));
    let e = given(history).when(erase.clone()).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::NoCitizenData { opinion });
    given(world()).when(erase).then_err(ErrorKind::NotFound);
}

#[test]
fn an_opinion_left_on_the_board_is_held_until_reviewed_and_accepted_only_while_its_round_is_open() {
    let (unit, round, opinion) = (UnitId::new(), RoundId::new(), OpinionId::new());
    let opened = DomainEvent::RoundOpened(RoundOpened {
        round,
        name: text("回头看"),
        first: date!(2011 - 01 - 01),
        last: date!(2011 - 06 - 30),
        scope: RoundScope::All,
    });
    let submit = Command::SubmitOpinion(SubmitOpinion(RecordOpinion {
        opinion,
        round,
        about: OpinionAbout::Unit(unit),
        text: text("窗口排队太久"),
        rating: Some(Rating::Dissatisfied),
        channel: Channel::Web,
        citizen: None,
    }));
    let submitted = DomainEvent::OpinionSubmitted(OpinionSubmitted(OpinionRecorded {
        opinion,
        round,
        unit,
        commitment: None,
        text: text("窗口排队太久"),
        rating: Some(Rating::Dissatisfied),
        channel: Channel::Web,
        citizen: None,
    }));
    given([unit_registered(unit), opened.clone()]).when(submit.clone()).then([submitted.clone()]);
    // Left on the board, it is admitted as any opinion is: not in a closed round.
    let closed = DomainEvent::RoundClosed(RoundClosed { round });
    let e = given([unit_registered(unit), opened.clone(), closed.clone()]).when(submit).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::RoundClosed { round });

    let held = || vec![unit_registered(unit), opened.clone(), submitted.clone()];
    let review = |accept: bool, reason: Option<&str>| {
        Command::ReviewOpinion(ReviewOpinion { opinion, accept, reason: reason.map(text) })
    };
    let accepted = DomainEvent::OpinionReviewed(OpinionReviewed { opinion, accepted: true, reason: None });
    given(held()).when(review(true, None)).then([accepted.clone()]);
    let declined =
        DomainEvent::OpinionReviewed(OpinionReviewed { opinion, accepted: false, reason: Some(text("广告")) });
    given(held()).when(review(false, Some("广告"))).then([declined]);
    // A decline says why; an acceptance has nothing to explain.
    let e = given(held()).when(review(false, None)).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::Empty { field: "reason".into() });
    assert_eq!(given(held()).when(review(true, Some("好"))).then_err(ErrorKind::Invalid).field(), Some("reason"));
    // Reviewed once only; accepted only while the round is open, declined at any time.
    let mut reviewed = held();
    reviewed.push(accepted);
    let e = given(reviewed).when(review(false, Some("广告"))).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::OpinionNotHeld { opinion });
    let mut after_close = held();
    after_close.push(closed);
    let e = given(after_close.clone()).when(review(true, None)).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::RoundClosed { round });
    let late = DomainEvent::OpinionReviewed(OpinionReviewed { opinion, accepted: false, reason: Some(text("逾期")) });
    given(after_close).when(review(false, Some("逾期"))).then([late]);
    given([unit_registered(unit)]).when(review(true, None)).then_err(ErrorKind::NotFound);

    // Declined, an opinion keeps nothing about the citizen who left it.
    let DomainEvent::OpinionSubmitted(OpinionSubmitted(recorded)) = &submitted else { unreachable!() };
    let named = OpinionRecorded { citizen: Some(SealedPersonal(b"\xe7\x8e\x8b".to_vec())), ..recorded.clone() };
    let named = vec![unit_registered(unit), opened.clone(), DomainEvent::OpinionSubmitted(OpinionSubmitted(named))];
    let declined =
        DomainEvent::OpinionReviewed(OpinionReviewed { opinion, accepted: false, reason: Some(text("广告")) });
    let erased = DomainEvent::CitizenErased(CitizenErased { opinion });
    given(named.clone()).when(review(false, Some("广告"))).then([declined, erased]);
    given(named).when(review(true, None)).then([DomainEvent::OpinionReviewed(OpinionReviewed {
        opinion,
        accepted: true,
        reason: None,
    })]);
}

/// An opinion the unit records counts at once: there is nothing to review.
#[test]
fn an_opinion_the_unit_recorded_is_not_reviewed() {
    let (unit, round, opinion) = (UnitId::new(), RoundId::new(), OpinionId::new());
    let history = [
        unit_registered(unit),
        DomainEvent::RoundOpened(RoundOpened {
            round,
            name: text("回头看"),
            first: date!(2011 - 01 - 01),
            last: date!(2011 - 06 - 30),
            scope: RoundScope::All,
        }),
        DomainEvent::OpinionRecorded(OpinionRecorded {
            opinion,
            round,
            unit,
            commitment: None,
            text: text("好"),
            rating: None,
            channel: Channel::Telephone,
            citizen: None,
        }),
    ];
    let review = Command::ReviewOpinion(ReviewOpinion { opinion, accept: true, reason: None });
    let e = given(history).when(review).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::OpinionNotHeld { opinion });
}

/// A certificate for the member of [`served`], its outing verified, stating `line`.
fn certificate(unit: UnitId, member: MemberId, lines: Vec<ServiceLine>, personal_version: u64) -> CertificateIssued {
    let number = certificate_number(2011, 0);
    CertificateIssued {
        certificate: CertificateId::of_code(&number),
        number: text(&number),
        status_index: 0,
        member,
        personal_version,
        unit,
        person_in_charge: text("王主任"),
        contact: text("0719-8888888"),
        first: date!(2011 - 06 - 01),
        last: date!(2011 - 06 - 30),
        lines,
        as_of: 5,
        digest: text("00"),
        base_url: text("https://taizhang.example"),
        signature: Signature { key: text("z6Mk"), created: text("2011-07-01T00:00:00Z"), value: text("z1") },
    }
}

fn line(outing: OutingId, a: &str, b: &str) -> ServiceLine {
    let d = details(a, b);
    let span = span(a, b);
    ServiceLine {
        outing,
        date: d.date,
        span,
        place: d.place,
        category: d.category,
        minutes: Minutes::new(span.minutes()).unwrap(),
    }
}

#[test]
fn a_certificate_states_verified_outings_as_they_stand() {
    let (unit, member, outing, mut log) = served();
    let issue =
        |lines, version| Command::IssueCertificate(IssueCertificate::new(certificate(unit, member, lines, version)));
    // Not verified yet.
    given(log.clone()).when(issue(vec![line(outing, "09:00", "11:00")], 0)).then_err(ErrorKind::Invalid);
    log.push(DomainEvent::OutingVerified(OutingVerified { outing, note: None }));
    let issued = certificate(unit, member, vec![line(outing, "09:00", "11:00")], 0);
    given(log.clone())
        .when(issue(vec![line(outing, "09:00", "11:00")], 0))
        .then([DomainEvent::CertificateIssued(issued.clone())]);
    // A line that no longer states the outing (it was read before a correction).
    given(log.clone()).when(issue(vec![line(outing, "09:00", "10:00")], 0)).then_err(ErrorKind::Conflict);
    // The name read is not the member's name now.
    given(log.clone()).when(issue(vec![line(outing, "09:00", "11:00")], 3)).then_err(ErrorKind::Conflict);
    given(log.clone()).when(issue(vec![], 0)).then_err(ErrorKind::Invalid);
    // Outside its period.
    let mut late = certificate(unit, member, vec![line(outing, "09:00", "11:00")], 0);
    late.last = date!(2011 - 06 - 10);
    given(log.clone()).when(Command::IssueCertificate(IssueCertificate::new(late))).then_err(ErrorKind::Invalid);
    // A number is its place in the year: one number, one certificate.
    let mut misplaced = issued.clone();
    misplaced.status_index = 4;
    given(log.clone()).when(Command::IssueCertificate(IssueCertificate::new(misplaced))).then_err(ErrorKind::Invalid);
    log.push(DomainEvent::CertificateIssued(issued.clone()));
    given(log.clone()).when(issue(vec![line(outing, "09:00", "11:00")], 0)).then_err(ErrorKind::Conflict);

    let revoke =
        Command::RevokeCertificate(RevokeCertificate { certificate: issued.certificate, reason: text("记录有误") });
    given(log.clone()).when(revoke.clone()).then([DomainEvent::CertificateRevoked(CertificateRevoked {
        certificate: issued.certificate,
        reason: text("记录有误"),
    })]);
    log.push(DomainEvent::CertificateRevoked(CertificateRevoked {
        certificate: issued.certificate,
        reason: text("记录有误"),
    }));
    given(log).when(revoke).then_err(ErrorKind::Invalid);
    let unknown = RevokeCertificate { certificate: CertificateId::new(), reason: text("?") };
    given([]).when(Command::RevokeCertificate(unknown)).then_err(ErrorKind::NotFound);
}

/// 15 June 2011 at `clock` ("09:07" or "09:07:30"), China Standard Time.
fn at(clock: &str) -> Timestamp {
    let (minute, seconds) = match clock.len() {
        5 => (clock, 0),
        _ => (&clock[..5], clock[6..].parse::<i64>().unwrap()),
    };
    let start = Timestamp::of_service(date!(2011 - 06 - 15), ClockTime::parse("at", minute).unwrap());
    Timestamp(start.0 + seconds * 1_000_000)
}

const PIN: PinDigest = PinDigest([7; 32]);

fn presence(member: MemberId, code: &str, clock: &str) -> Presence {
    Presence { member, site_code: code.to_owned(), pin: PIN, at: at(clock) }
}

/// A unit, a member with a PIN, and an outing from 9 to 11 on 15 June 2011 registered
/// with check-in open under code "7K3M9P" and the default rules.
fn checking_in() -> (UnitId, MemberId, OutingId, Vec<DomainEvent>) {
    let (unit, member, outing) = (UnitId::new(), MemberId::new(), OutingId::new());
    let mut log = vec![
        unit_registered(unit),
        member_registered(member, unit),
        DomainEvent::CheckInPinSet(CheckInPinSet { member, pin: PIN }),
    ];
    log.extend(opened(unit, outing));
    (unit, member, outing, log)
}

/// An outing of `unit` from 9 to 11 on 15 June 2011 registered with check-in open under
/// code "7K3M9P" and the default rules.
fn opened(unit: UnitId, outing: OutingId) -> [DomainEvent; 2] {
    [
        DomainEvent::OutingRegistered(OutingRegistered {
            outing,
            unit,
            details: details("09:00", "11:00"),
            participants: vec![],
            code: None,
        }),
        DomainEvent::CheckInOpened(CheckInOpened {
            outing,
            site_code: "7K3M9P".into(),
            rules: CheckInRules::default(),
        }),
    ]
}

#[test]
fn opening_check_in_registers_the_outing_without_participants() {
    let (unit, outing) = (UnitId::new(), OutingId::new());
    let open = |rules: CheckInRules, code: &str| {
        Command::OpenCheckIn(OpenCheckIn {
            outing,
            registration: Some(NewOuting { unit, details: details("09:00", "11:00"), code: None }),
            site_code: code.into(),
            rules,
        })
    };
    given([unit_registered(unit)])
        .today(date!(2011 - 06 - 15))
        .when(open(CheckInRules::default(), "7K3M9P"))
        .then(opened(unit, outing));
    let wide = CheckInRules { margin_minutes: 241, ..CheckInRules::default() };
    given([unit_registered(unit)]).when(open(wide, "7K3M9P")).then_err(ErrorKind::Invalid);
    given([unit_registered(unit)]).when(open(CheckInRules::default(), "7K3")).then_err(ErrorKind::Invalid);
    // Check-in opens for an outing on the day, not for one weeks ahead.
    given([unit_registered(unit)])
        .today(date!(2011 - 06 - 01))
        .when(open(CheckInRules::default(), "7K3M9P"))
        .then_err(ErrorKind::Invalid);
}

#[test]
fn a_member_checks_in_once_within_the_window_and_is_credited_from_arrival_to_departure() {
    let (_, member, outing, log) = checking_in();
    let check_in = |p: Presence| Command::CheckIn(CheckIn { outing, presence: p });
    let check_out = |p: Presence| Command::CheckOut(CheckOut { outing, presence: p });
    // Too early (before 08:30) and too late (from 11:00) to check in.
    for clock in ["08:29:59", "11:00"] {
        let refused = given(log.clone()).when(check_in(presence(member, "7K3M9P", clock))).then_err(ErrorKind::Invalid);
        assert!(matches!(refused, DomainError::OutsideCheckInWindow { .. }), "{clock}: {refused}");
    }
    // A wrong code, a wrong PIN, a stranger: one refusal that tells nothing apart.
    let wrong_pin = Presence { pin: PinDigest([8; 32]), ..presence(member, "7K3M9P", "09:07:30") };
    for p in [presence(member, "7K3M9Q", "09:07:30"), wrong_pin, presence(MemberId::new(), "7K3M9P", "09:07:30")] {
        assert_eq!(given(log.clone()).when(check_in(p)).then_err(ErrorKind::Invalid), DomainError::CheckInRefused);
    }
    // The code as typed off a poster: lower case, spaced, O for 0.
    let arrived = DomainEvent::MemberCheckedIn(MemberCheckedIn { outing, member, at: at("09:07:30") });
    given(log.clone()).when(check_in(presence(member, "7k3 m9p", "09:07:30"))).then([arrived.clone()]);
    let mut log = log;
    log.push(arrived);
    let twice = given(log.clone()).when(check_in(presence(member, "7K3M9P", "09:10"))).then_err(ErrorKind::Invalid);
    assert!(matches!(twice, DomainError::AlreadyCheckedIn { .. }));
    // Arrived 09:07:30, left 10:45:10: credited 09:08–10:45, whole minutes served.
    let credited = Participation { member, span: span("09:08", "10:45"), minutes: Minutes::new(97).unwrap() };
    let booked = DomainEvent::ServiceBooked(ServiceBooked {
        member,
        outing,
        date: date!(2011 - 06 - 15),
        span: credited.span,
        minutes: credited.minutes,
    });
    let left = DomainEvent::MemberCheckedOut(MemberCheckedOut {
        outing,
        member,
        at: at("10:45:10"),
        participation: Some(credited),
    });
    given(log.clone()).when(check_out(presence(member, "7K3M9P", "10:45:10"))).then([left.clone(), booked]);
    // Check-out closes 30 minutes after the end; one is enough.
    let late = given(log.clone()).when(check_out(presence(member, "7K3M9P", "11:30:01"))).then_err(ErrorKind::Invalid);
    assert!(matches!(late, DomainError::OutsideCheckInWindow { .. }));
    log.push(left);
    let again = given(log.clone()).when(check_out(presence(member, "7K3M9P", "10:50"))).then_err(ErrorKind::Invalid);
    assert!(matches!(again, DomainError::AlreadyCheckedOut { .. }));
}

#[test]
fn credit_starts_no_earlier_than_the_outing_and_graces_round_to_its_span() {
    let d = details("09:00", "11:00");
    let strict = CheckInRules::default();
    assert_eq!(credited_span(&d, &strict, at("08:40"), at("11:20")), Some(span("09:00", "11:00")));
    assert_eq!(credited_span(&d, &strict, at("09:05"), at("10:55")), Some(span("09:05", "10:55")));
    assert_eq!(credited_span(&d, &strict, at("10:59:30"), at("11:00:20")), None, "less than a minute served");
    let lenient = CheckInRules { late_grace_minutes: 10, early_grace_minutes: 5, ..strict };
    assert_eq!(credited_span(&d, &lenient, at("09:05"), at("10:55")), Some(span("09:00", "11:00")));
    assert_eq!(credited_span(&d, &lenient, at("09:11"), at("10:54")), Some(span("09:11", "10:54")));
}

#[test]
fn a_check_out_keeps_the_calendar_rules() {
    let (unit, member, outing, mut log) = checking_in();
    // The member also served elsewhere from 10:00 to 12:00 that day.
    let other = OutingId::new();
    log.push(registered(other, unit, member, "10:00", "12:00"));
    log.push(booked(member, other, "10:00", "12:00"));
    log.push(DomainEvent::MemberCheckedIn(MemberCheckedIn { outing, member, at: at("09:00") }));
    let out = Command::CheckOut(CheckOut { outing, presence: presence(member, "7K3M9P", "10:30") });
    let refused = given(log).when(out).then_err(ErrorKind::Invalid);
    assert!(matches!(refused, DomainError::OverlappingOuting { .. }), "{refused}");
}

#[test]
fn check_in_needs_an_opened_check_in() {
    let (_, member, outing, mut log) = served();
    log.push(DomainEvent::CheckInPinSet(CheckInPinSet { member, pin: PIN }));
    let refused = given(log)
        .when(Command::CheckIn(CheckIn { outing, presence: presence(member, "7K3M9P", "09:00") }))
        .then_err(ErrorKind::Invalid);
    assert_eq!(refused, DomainError::CheckInNotOpen { outing });
}

#[test]
fn a_correction_request_is_answered_by_the_unit_after_a_correcting_event() {
    let (unit, member, outing, mut log) = served();
    log.push(DomainEvent::CheckInPinSet(CheckInPinSet { member, pin: PIN }));
    let correction = CorrectionId::new();
    let ask = |pin: Option<PinDigest>| {
        Command::RequestCorrection(RequestCorrection {
            correction,
            member,
            outing: Some(outing),
            text: text("我服务了三小时，记录为两小时"),
            pin,
        })
    };
    let requested = CorrectionRequested {
        correction,
        member,
        unit,
        outing: Some(outing),
        outing_version: Some(0),
        text: text("我服务了三小时，记录为两小时"),
        due: date!(2011 - 12 - 31) + time::Duration::days(CORRECTION_ANSWER_DAYS),
    };
    given(log.clone()).when(ask(Some(PIN))).then([DomainEvent::CorrectionRequested(requested.clone())]);
    given(log.clone()).when(ask(None)).then([DomainEvent::CorrectionRequested(requested.clone())]);
    let refused = given(log.clone()).when(ask(Some(PinDigest([1; 32])))).then_err(ErrorKind::Invalid);
    assert_eq!(refused, DomainError::CheckInRefused);
    // A member of another unit, not listed, does not ask about this outing.
    let stranger = MemberId::new();
    let other = UnitId::new();
    let about = Command::RequestCorrection(RequestCorrection {
        correction,
        member: stranger,
        outing: Some(outing),
        text: text("?"),
        pin: None,
    });
    given([log.clone(), vec![unit_registered(other), member_registered(stranger, other)]].concat())
        .when(about)
        .then_err(ErrorKind::Invalid);

    log.push(DomainEvent::CorrectionRequested(requested));
    let answer = |accepted: bool| {
        Command::AnswerCorrection(AnswerCorrection { correction, accepted, reason: text("已核实更正") })
    };
    // Accepted only once the outing was corrected by an event of its own.
    let early = given(log.clone()).when(answer(true)).then_err(ErrorKind::Invalid);
    assert!(matches!(early, DomainError::NotCorrectedYet { .. }), "{early}");
    let answered = |accepted| {
        DomainEvent::CorrectionAnswered(CorrectionAnswered { correction, accepted, reason: text("已核实更正") })
    };
    given(log.clone()).when(answer(false)).then([answered(false)]);
    log.push(DomainEvent::OutingAmended(OutingAmended {
        outing,
        details: details("09:00", "12:00"),
        participants: vec![Participation { member, span: span("09:00", "12:00"), minutes: Minutes::new(180).unwrap() }],
        reason: text("依申请更正"),
    }));
    given(log.clone()).when(answer(true)).then([answered(true)]);
    log.push(answered(true));
    given(log).when(answer(false)).then_err(ErrorKind::Invalid);
}

#[test]
fn a_member_is_shown_on_the_notice_board_only_while_they_may_be() {
    let (unit, member) = (UnitId::new(), MemberId::new());
    let world = || vec![unit_registered(unit), member_registered(member, unit)];
    let card =
        |shown: bool, post: Option<&str>| Command::SetPublicCard(SetPublicCard { member, shown, post: post.map(text) });
    let set = |shown: bool, post: Option<&str>| {
        DomainEvent::PublicCardSet(PublicCardSet { member, shown, post: post.map(text) })
    };
    given(world()).when(card(true, Some("窗口受理员"))).then([set(true, Some("窗口受理员"))]);
    given(world()).when(card(false, None)).then([set(false, None)]);
    let e = given(world()).when(card(false, Some("窗口受理员"))).then_err(ErrorKind::Invalid);
    assert_eq!(e.field(), Some("post"));
    let mut erased = world();
    erased.push(DomainEvent::MemberErased(MemberErased { member }));
    let e = given(erased).when(card(true, None)).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::MemberErased { member });
    given([unit_registered(unit)]).when(card(true, None)).then_err(ErrorKind::NotFound);
}

/// An evaluation of the members (or units) of `unit` for 2011H1.
fn evaluation_opened(evaluation: EvaluationId, subject: EvaluationSubject, unit: UnitId) -> DomainEvent {
    DomainEvent::EvaluationOpened(EvaluationOpened {
        evaluation,
        name: text("2011年上半年群众评议"),
        half_year: HalfYear { year: 2011, half: 1 },
        subject,
        scope: RoundScope::Units(vec![unit]),
    })
}

#[test]
fn an_evaluation_is_opened_over_units_that_exist_and_closed_once() {
    let (unit, evaluation) = (UnitId::new(), EvaluationId::new());
    let open = |scope: RoundScope| {
        Command::OpenEvaluation(OpenEvaluation {
            evaluation,
            name: text("2011年上半年群众评议"),
            half_year: HalfYear { year: 2011, half: 1 },
            subject: EvaluationSubject::Units,
            scope,
        })
    };
    let opened = evaluation_opened(evaluation, EvaluationSubject::Units, unit);
    given([unit_registered(unit)]).when(open(RoundScope::Units(vec![unit]))).then([opened.clone()]);
    given([]).when(open(RoundScope::Units(vec![unit]))).then_err(ErrorKind::NotFound);
    let e = given([]).when(open(RoundScope::Units(vec![]))).then_err(ErrorKind::Invalid);
    assert_eq!(e.field(), Some("scope.units"));
    given([unit_registered(unit), opened.clone()]).when(open(RoundScope::All)).then_err(ErrorKind::Conflict);
    let close = Command::CloseEvaluation(CloseEvaluation { evaluation });
    let closed = DomainEvent::EvaluationClosed(EvaluationClosed { evaluation });
    given([opened.clone()]).when(close.clone()).then([closed.clone()]);
    let e = given([opened, closed]).when(close.clone()).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::EvaluationClosed { evaluation });
    given([]).when(close).then_err(ErrorKind::NotFound);
}

#[test]
fn a_ballot_rates_one_of_an_open_evaluations_kind_and_scope() {
    let (unit, outside, member, evaluation, ballot) =
        (UnitId::new(), UnitId::new(), MemberId::new(), EvaluationId::new(), BallotId::new());
    let world = |subject| {
        vec![
            unit_registered(unit),
            unit_registered(outside),
            member_registered(member, unit),
            evaluation_opened(evaluation, subject, unit),
        ]
    };
    let score =
        |criterion: &str, score| CriterionScore { criterion: text(criterion), score: Score::new("s", score).unwrap() };
    let cast = |rated: Rated, rating: Option<Rating>, scores: Vec<CriterionScore>| {
        Command::CastBallot(CastBallot {
            ballot,
            evaluation,
            rated,
            voter: Voter::Supervisor,
            rating,
            scores,
            comment: Some(text("态度好")),
        })
    };
    let scores = vec![score("服务态度", 90), score("办事效率", 85)];
    given(world(EvaluationSubject::Members))
        .when(cast(Rated::Member(member), Some(Rating::Satisfied), scores.clone()))
        .then([DomainEvent::BallotCast(BallotCast {
            ballot,
            evaluation,
            rated: Rated::Member(member),
            unit,
            voter: Voter::Supervisor,
            rating: Some(Rating::Satisfied),
            scores: scores.clone(),
            comment: Some(text("态度好")),
        })]);
    // "Don't know" is a ballot too.
    given(world(EvaluationSubject::Units)).when(cast(Rated::Unit(unit), None, vec![])).then([DomainEvent::BallotCast(
        BallotCast {
            ballot,
            evaluation,
            rated: Rated::Unit(unit),
            unit,
            voter: Voter::Supervisor,
            rating: None,
            scores: vec![],
            comment: Some(text("态度好")),
        },
    )]);

    // A unit in an evaluation of members, a unit outside the scope.
    let e = given(world(EvaluationSubject::Members))
        .when(cast(Rated::Unit(unit), None, vec![]))
        .then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::OutsideEvaluation { evaluation, rated: format!("unit {unit}") });
    let e = given(world(EvaluationSubject::Units))
        .when(cast(Rated::Unit(outside), None, vec![]))
        .then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::OutsideEvaluation { evaluation, rated: format!("unit {outside}") });
    // A criterion scored twice.
    let twice = vec![score("服务态度", 90), score("服务态度", 80)];
    let e = given(world(EvaluationSubject::Members))
        .when(cast(Rated::Member(member), None, twice))
        .then_err(ErrorKind::Invalid);
    assert_eq!(e.field(), Some("scores"));
    // After the close, nothing is taken.
    let mut closed = world(EvaluationSubject::Members);
    closed.push(DomainEvent::EvaluationClosed(EvaluationClosed { evaluation }));
    let e = given(closed).when(cast(Rated::Member(member), None, vec![])).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::EvaluationClosed { evaluation });
    given([unit_registered(unit)]).when(cast(Rated::Unit(unit), None, vec![])).then_err(ErrorKind::NotFound);
    // A ballot id is used once.
    let mut cast_once = world(EvaluationSubject::Units);
    cast_once.push(DomainEvent::BallotCast(BallotCast {
        ballot,
        evaluation,
        rated: Rated::Unit(unit),
        unit,
        voter: Voter::Citizen,
        rating: None,
        scores: vec![],
        comment: None,
    }));
    given(cast_once).when(cast(Rated::Unit(unit), None, vec![])).then_err(ErrorKind::Conflict);
}

#[test]
fn a_transferred_member_is_rated_where_they_serve_now_and_leaders_review_while_open() {
    let (first, second, member, evaluation) = (UnitId::new(), UnitId::new(), MemberId::new(), EvaluationId::new());
    let world = vec![
        unit_registered(first),
        unit_registered(second),
        member_registered(member, first),
        DomainEvent::MemberTransferred(MemberTransferred {
            member,
            from: first,
            to: second,
            effective: date!(2011 - 04 - 01),
        }),
        evaluation_opened(evaluation, EvaluationSubject::Members, second),
    ];
    let review = Command::ReviewAsLeader(ReviewAsLeader {
        evaluation,
        rated: Rated::Member(member),
        score: Score::new("score", 88).unwrap(),
        comment: None,
    });
    given(world.clone()).when(review.clone()).then([DomainEvent::LeaderReviewed(LeaderReviewed {
        evaluation,
        rated: Rated::Member(member),
        score: Score::new("score", 88).unwrap(),
        comment: None,
    })]);
    // An evaluation of the first unit's members no longer covers them.
    let mut elsewhere = world[..4].to_vec();
    elsewhere.push(evaluation_opened(evaluation, EvaluationSubject::Members, first));
    let e = given(elsewhere).when(review.clone()).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::OutsideEvaluation { evaluation, rated: format!("member {member}") });
    let mut closed = world;
    closed.push(DomainEvent::EvaluationClosed(EvaluationClosed { evaluation }));
    let e = given(closed).when(review).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::EvaluationClosed { evaluation });
}

fn nominated(recognition: RecognitionId, member: MemberId, unit: UnitId, listed_until: time::Date) -> DomainEvent {
    DomainEvent::RecognitionNominated(RecognitionNominated {
        recognition,
        award: text("post-pioneer"),
        policy: text("ten-star-named-default"),
        half_year: HalfYear { year: 2011, half: 1 },
        nominee: Rated::Member(member),
        unit,
        reason: None,
        listed_until,
    })
}

fn board_published(board: BoardId) -> DomainEvent {
    DomainEvent::BoardPublished(BoardPublished {
        board,
        name: text("2011年上半年星级榜"),
        half_year: HalfYear { year: 2011, half: 1 },
        scope: RoundScope::All,
        policy: text("ten-star-named-default"),
        policy_version: 1,
        policy_document: "{}".to_owned(),
        policy_digest: text("d1"),
        as_of: 3,
        entries: 1,
        digest: text("d2"),
    })
}

fn evidence(board: BoardId, holds: bool) -> Evidence {
    Evidence {
        board,
        as_of: 3,
        policy_digest: text("d1"),
        required: text("8"),
        outcome: Some(text(if holds { "9" } else { "7" })),
        score: None,
        criteria: vec![],
        holds,
    }
}

#[test]
fn a_nomination_is_listed_for_working_days_and_a_clerk_nominates_for_their_own_unit() {
    let (unit, other, member) = (UnitId::new(), UnitId::new(), MemberId::new());
    let half_year = HalfYear { year: 2011, half: 1 };
    let recognition = RecognitionId::of("post-pioneer", half_year, Rated::Member(member));
    let nominate = NominateRecognition {
        recognition,
        award: text("post-pioneer"),
        policy: text("ten-star-named-default"),
        half_year,
        nominee: Rated::Member(member),
        reason: None,
        listing_days: 5,
    };
    let world = vec![unit_registered(unit), unit_registered(other), member_registered(member, unit)];
    // Friday 1 July 2011: listed for five working days, until Thursday 7 July.
    given(world.clone())
        .today(time::macros::date!(2011 - 07 - 01))
        .when(Command::NominateRecognition(nominate.clone()))
        .then([nominated(recognition, member, unit, time::macros::date!(2011 - 07 - 07))]);
    // The nominee's unit is the one whose clerk may send it.
    let mut loaded = Aggregates::default();
    for event in world.clone() {
        let version = loaded.version(event.stream()).map_or(0, |v| v + 1);
        loaded.apply(version, &event);
    }
    assert_eq!(units_written(&Command::NominateRecognition(nominate.clone()), &loaded), vec![unit]);
    // A second nomination of the same for the same award and half-year.
    let e = given(
        [world.clone(), vec![nominated(recognition, member, unit, time::macros::date!(2011 - 07 - 08))]].concat(),
    )
    .when(Command::NominateRecognition(nominate))
    .then_err(ErrorKind::Conflict);
    assert_eq!(e, DomainError::AlreadyExists { stream: StreamId::recognition(recognition) });
}

#[test]
fn a_decision_waits_for_its_listing_and_answers_and_rests_on_evidence_or_an_exception() {
    let (unit, member, board, recognition) = (UnitId::new(), MemberId::new(), BoardId::new(), RecognitionId::new());
    let until = time::macros::date!(2011 - 07 - 08);
    let world = vec![
        unit_registered(unit),
        member_registered(member, unit),
        board_published(board),
        nominated(recognition, member, unit, until),
    ];
    let decide = |holds: bool, exception: Option<&str>| {
        Command::DecideRecognition(DecideRecognition {
            recognition,
            evidence: evidence(board, holds),
            exception: exception.map(text),
        })
    };
    let after = time::macros::date!(2011 - 07 - 11);
    // On the listing's last day: too early.
    let e = given(world.clone()).today(until).when(decide(true, None)).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::StillListed { recognition, listed_until: until });
    // After it, on evidence that holds.
    given(world.clone()).today(after).when(decide(true, None)).then([DomainEvent::RecognitionDecided(
        RecognitionDecided { recognition, evidence: evidence(board, true), exception: None },
    )]);
    // Evidence that does not hold: refused, unless an exception with its reason.
    let e = given(world.clone()).today(after).when(decide(false, None)).then_err(ErrorKind::Invalid);
    assert!(matches!(e, DomainError::EvidenceDoesNotHold { .. }), "{e:?}");
    assert!(e.to_string().contains("the board awards 7; the award needs 8"), "{e}");
    given(world.clone()).today(after).when(decide(false, Some("抗洪抢险中表现突出"))).then([
        DomainEvent::RecognitionDecided(RecognitionDecided {
            recognition,
            evidence: evidence(board, false),
            exception: Some(text("抗洪抢险中表现突出")),
        }),
    ]);
    // An objection unanswered stops it; upheld, it needs an exception.
    let objected = [
        world.clone(),
        vec![DomainEvent::ObjectionRaised(ObjectionRaised {
            recognition,
            objection: 1,
            from: ObjectionSource::Public,
            text: text("窗口服务态度差，有投诉"),
        })],
    ]
    .concat();
    let e = given(objected.clone()).today(after).when(decide(true, None)).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::ObjectionsUnanswered { recognition, count: 1 });
    let answer = |objection, upheld| {
        Command::AnswerObjection(AnswerObjection { recognition, objection, upheld, answer: text("经核实属实") })
    };
    let e = given(objected.clone()).when(answer(2, true)).then_err(ErrorKind::NotFound);
    assert_eq!(e, DomainError::ObjectionNotFound { recognition, objection: 2 });
    let upheld = [
        objected.clone(),
        vec![DomainEvent::ObjectionAnswered(ObjectionAnswered {
            recognition,
            objection: 1,
            upheld: true,
            answer: text("经核实属实"),
        })],
    ]
    .concat();
    let e = given(upheld.clone()).when(answer(1, false)).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::ObjectionAnswered { recognition, objection: 1 });
    let e = given(upheld.clone()).today(after).when(decide(true, None)).then_err(ErrorKind::Invalid);
    assert!(e.to_string().contains("1 objection(s) upheld"), "{e}");
    // A board that does not exist; a decided recognition is decided once; revoked, it
    // takes nothing more.
    let e = given(world[..2].iter().cloned().chain([world[3].clone()]))
        .today(after)
        .when(decide(true, None))
        .then_err(ErrorKind::NotFound);
    assert_eq!(e, DomainError::BoardNotFound(board));
    let decided = [
        world.clone(),
        vec![DomainEvent::RecognitionDecided(RecognitionDecided {
            recognition,
            evidence: evidence(board, true),
            exception: None,
        })],
    ]
    .concat();
    let e = given(decided.clone()).today(after).when(decide(true, None)).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::RecognitionDecided { recognition });
    // Evidence that is not the board's (another position), exception or not.
    let mut elsewhere = evidence(board, true);
    elsewhere.as_of = 4;
    let other = DecideRecognition { recognition, evidence: elsewhere, exception: Some(text("例外")) };
    let e = given(world.clone()).today(after).when(Command::DecideRecognition(other)).then_err(ErrorKind::Invalid);
    assert!(e.to_string().contains("the evidence is not board"), "{e}");
    let revoke = Command::RevokeRecognition(RevokeRecognition { recognition, reason: text("弄虚作假") });
    given(decided.clone())
        .when(revoke.clone())
        .then([DomainEvent::RecognitionRevoked(RecognitionRevoked { recognition, reason: text("弄虚作假") })]);
    let revoked =
        [decided, vec![DomainEvent::RecognitionRevoked(RecognitionRevoked { recognition, reason: text("弄虚作假") })]]
            .concat();
    let e = given(revoked).when(revoke).then_err(ErrorKind::Invalid);
    assert_eq!(e, DomainError::RecognitionRevoked { recognition });
}
