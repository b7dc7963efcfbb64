//! The shape of the read model, as a checkpoint's header names it: `TZRM` and the digest
//! of how a sample model, every part of it holding something, encodes. A model whose
//! fields changed (added, removed, reordered, retyped, in it or in any type it holds)
//! encodes the sample otherwise, so its checkpoints carry another header, and a
//! checkpoint written by a model of another shape is rebuilt from the log instead of
//! being decoded into a wrong model. No version is kept by hand.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use taizhang_core::*;
use taizhang_store::RecordedEvent;
use time::macros::date;
use uuid::Uuid;

use crate::ReadModel;

/// The first bytes of a checkpoint of this build's model.
pub fn checkpoint_header() -> &'static [u8] {
    static HEADER: OnceLock<Vec<u8>> = OnceLock::new();
    HEADER.get_or_init(|| {
        let encoded = postcard::to_stdvec(&sample()).expect("encoding into a Vec cannot fail");
        let mut header = b"TZRM".to_vec();
        header.extend_from_slice(&Sha256::digest(encoded)[..8]);
        header
    })
}

/// A model with something in every part: a small log holding each kind of event
/// applied (a unit under another, renamed, moved, reclassified; a member transferred,
/// corrected, evaluated; another erased; an outing amended and verified, another voided;
/// a member's commitment amended, assessed, renewed and withdrawn; a weekly summary
/// revised and commented; a look-back round opened, with an opinion whose citizen
/// was erased and one left on the board and declined, and closed; an evaluation with a
/// ballot and a leader's review, closed; codes; several
/// moments of the clock).
pub(crate) fn sample() -> ReadModel {
    let text = |s: &str| Text::parse("sample", s).expect("a sample text is valid");
    let clock = |s: &str| ClockTime::parse("sample", s).expect("a sample time is valid");
    let span = TimeRange::new("sample", clock("08:00"), clock("10:00")).expect("a sample span is valid");
    let minutes = Minutes::new(120).expect("two hours are valid minutes");
    let (first, second) = (UnitId(Uuid::from_u128(1)), UnitId(Uuid::from_u128(2)));
    let (member, moved) = (MemberId(Uuid::from_u128(3)), MemberId(Uuid::from_u128(4)));
    let (outing, voided) = (OutingId(Uuid::from_u128(5)), OutingId(Uuid::from_u128(6)));
    let (promised, renewal) = (CommitmentId(Uuid::from_u128(7)), CommitmentId(Uuid::from_u128(8)));
    let week = IsoWeek::containing(date!(2011 - 06 - 15));
    let content = CommitmentContent {
        category: text("办结时限"),
        text: text("即办件当场办结"),
        target: Some(text("≤ 3 个工作日")),
        from: date!(2011 - 01 - 01),
        until: date!(2011 - 06 - 30),
        public: true,
    };
    let details = OutingDetails {
        date: date!(2011 - 06 - 04),
        span,
        place: text("社区"),
        category: text("义诊"),
        description: Some(text("测血压")),
        beneficiaries: 12,
    };
    let served = |who: MemberId| vec![Participation { member: who, span, minutes }];
    let booked = |who: MemberId, at: OutingId| {
        DomainEvent::ServiceBooked(ServiceBooked { member: who, outing: at, date: details.date, span, minutes })
    };
    let unit = |unit: UnitId, parent: Option<UnitId>, code: Option<Text>| {
        DomainEvent::UnitRegistered(UnitRegistered {
            unit,
            name: text("医院"),
            industry: text("医疗卫生"),
            region: text("茅箭区"),
            parent,
            code,
        })
    };
    let join = |member: MemberId, code: Option<Text>| {
        DomainEvent::MemberRegistered(MemberRegistered {
            member,
            unit: first,
            joined_on: date!(2011 - 01 - 01),
            personal: SealedPersonal(vec![1, 2, 3]),
            code,
        })
    };
    let events = vec![
        unit(first, None, Some(text("SY-1"))),
        unit(second, Some(first), None),
        DomainEvent::UnitRenamed(UnitRenamed { unit: first, name: text("人民医院") }),
        DomainEvent::UnitMoved(UnitMoved { unit: second, region: text("张湾区"), parent: None }),
        DomainEvent::UnitReclassified(UnitReclassified {
            unit: first, industry: text("卫生"), reason: text("更正")
        }),
        join(member, Some(text("M-1"))),
        join(moved, None),
        DomainEvent::MemberTransferred(MemberTransferred {
            member: moved,
            from: first,
            to: second,
            effective: date!(2011 - 03 - 01),
        }),
        DomainEvent::PersonalDataCorrected(PersonalDataCorrected {
            member,
            personal: SealedPersonal(vec![4, 5, 6]),
            reason: text("更正"),
        }),
        DomainEvent::OutingRegistered(OutingRegistered {
            outing,
            unit: first,
            details: details.clone(),
            participants: served(member),
            code: Some(text("O-1")),
        }),
        booked(member, outing),
        DomainEvent::OutingAmended(OutingAmended {
            outing,
            details: OutingDetails { beneficiaries: 20, ..details.clone() },
            participants: served(member),
            reason: text("更正"),
        }),
        DomainEvent::OutingVerified(OutingVerified { outing, note: Some(text("属实")) }),
        DomainEvent::CheckInOpened(CheckInOpened {
            outing,
            site_code: "7K3M9P".to_owned(),
            rules: CheckInRules::default(),
        }),
        DomainEvent::MemberCheckedIn(MemberCheckedIn { outing, member, at: Timestamp(1) }),
        DomainEvent::MemberCheckedOut(MemberCheckedOut {
            outing,
            member,
            at: Timestamp(2),
            participation: Some(Participation { member, span, minutes }),
        }),
        DomainEvent::CheckInPinSet(CheckInPinSet { member, pin: PinDigest([1; 32]) }),
        DomainEvent::PublicCardSet(PublicCardSet { member, shown: true, post: Some(text("窗口受理员")) }),
        DomainEvent::CorrectionRequested(CorrectionRequested {
            correction: CorrectionId(Uuid::from_u128(11)),
            member,
            unit: first,
            outing: Some(outing),
            outing_version: Some(3),
            text: text("时长有误"),
            due: date!(2011 - 07 - 15),
        }),
        DomainEvent::CorrectionAnswered(CorrectionAnswered {
            correction: CorrectionId(Uuid::from_u128(11)),
            accepted: false,
            reason: text("经核实无误"),
        }),
        DomainEvent::CertificateIssued(CertificateIssued {
            certificate: CertificateId::of_code("2011-000001"),
            number: text("2011-000001"),
            status_index: 0,
            member,
            personal_version: 1,
            unit: first,
            person_in_charge: text("王主任"),
            contact: text("0719-8888888"),
            first: date!(2011 - 06 - 01),
            last: date!(2011 - 06 - 30),
            lines: vec![ServiceLine {
                outing,
                date: details.date,
                span,
                place: details.place.clone(),
                category: details.category.clone(),
                minutes,
            }],
            as_of: 18,
            digest: text("00"),
            base_url: text("https://taizhang.example"),
            signature: Signature { key: text("z6Mk"), created: text("2011-07-01T00:00:00Z"), value: text("z1") },
        }),
        DomainEvent::OutingAmended(OutingAmended {
            outing,
            details: OutingDetails { place: text("社区卫生站"), ..details.clone() },
            participants: served(member),
            reason: text("地点更正"),
        }),
        DomainEvent::CertificateRevoked(CertificateRevoked {
            certificate: CertificateId::of_code("2011-000001"),
            reason: text("记录更正"),
        }),
        DomainEvent::OutingRegistered(OutingRegistered {
            outing: voided,
            unit: second,
            details: details.clone(),
            participants: served(moved),
            code: None,
        }),
        booked(moved, voided),
        DomainEvent::OutingVoided(OutingVoided { outing: voided, reason: text("重复") }),
        DomainEvent::ServiceReleased(ServiceReleased { member: moved, outing: voided }),
        DomainEvent::EvaluationRecorded(EvaluationRecorded {
            member,
            half_year: HalfYear::containing(details.date),
            public_score: Score::new("sample", 90).expect("a valid score"),
            leader_score: Score::new("sample", 85).expect("a valid score"),
            note: Some(text("优秀")),
        }),
        DomainEvent::CommitmentMade(CommitmentMade {
            commitment: promised,
            unit: first,
            member: Some(member),
            content: content.clone(),
            renews: vec![],
            code: None,
        }),
        DomainEvent::CommitmentAmended(CommitmentAmended {
            commitment: promised,
            content: CommitmentContent { target: None, ..content.clone() },
            reason: text("表述不清"),
        }),
        DomainEvent::CommitmentAssessed(CommitmentAssessed {
            commitment: promised,
            fulfilment: Fulfilment::PartlyKept,
            evidence: text("群众意见"),
        }),
        DomainEvent::CommitmentMade(CommitmentMade {
            commitment: renewal,
            unit: first,
            member: None,
            content: content.clone(),
            renews: vec![promised],
            code: None,
        }),
        DomainEvent::CommitmentWithdrawn(CommitmentWithdrawn {
            commitment: promised, reason: text("已由新承诺取代")
        }),
        DomainEvent::SummarySubmitted(SummarySubmitted {
            summary: SummaryId::of(first, week),
            unit: first,
            week,
            text: SummaryText { done: text("义诊两次"), learnt: Some(text("提前公示")), next: None },
        }),
        DomainEvent::SummarySubmitted(SummarySubmitted {
            summary: SummaryId::of(first, week),
            unit: first,
            week,
            text: SummaryText { done: text("义诊三次"), learnt: None, next: Some(text("走访社区")) },
        }),
        DomainEvent::SummaryCommented(SummaryCommented {
            summary: SummaryId::of(first, week), comment: text("很好")
        }),
        DomainEvent::RoundOpened(RoundOpened {
            round: RoundId(Uuid::from_u128(9)),
            name: text("2011年上半年回头看"),
            first: date!(2011 - 01 - 01),
            last: date!(2011 - 06 - 30),
            scope: RoundScope::Units(vec![first]),
        }),
        DomainEvent::OpinionRecorded(OpinionRecorded {
            opinion: OpinionId(Uuid::from_u128(10)),
            round: RoundId(Uuid::from_u128(9)),
            unit: first,
            commitment: Some(renewal),
            text: text("办事很快"),
            rating: Some(Rating::Satisfied),
            channel: Channel::Telephone,
            citizen: Some(SealedPersonal(vec![1, 2, 3])),
        }),
        DomainEvent::CitizenErased(CitizenErased { opinion: OpinionId(Uuid::from_u128(10)) }),
        DomainEvent::OpinionSubmitted(OpinionSubmitted(OpinionRecorded {
            opinion: OpinionId(Uuid::from_u128(16)),
            round: RoundId(Uuid::from_u128(9)),
            unit: first,
            commitment: None,
            text: text("窗口人少"),
            rating: None,
            channel: Channel::Web,
            citizen: None,
        })),
        DomainEvent::OpinionReviewed(OpinionReviewed {
            opinion: OpinionId(Uuid::from_u128(16)),
            accepted: false,
            reason: Some(text("与本单位无关")),
        }),
        DomainEvent::RoundClosed(RoundClosed { round: RoundId(Uuid::from_u128(9)) }),
        DomainEvent::EvaluationOpened(EvaluationOpened {
            evaluation: EvaluationId(Uuid::from_u128(12)),
            name: text("2011年上半年群众评议"),
            half_year: HalfYear::containing(details.date),
            subject: EvaluationSubject::Members,
            scope: RoundScope::Units(vec![first]),
        }),
        DomainEvent::BallotCast(BallotCast {
            ballot: BallotId(Uuid::from_u128(13)),
            evaluation: EvaluationId(Uuid::from_u128(12)),
            rated: Rated::Member(member),
            unit: first,
            voter: Voter::Assessor,
            rating: Some(Rating::FairlySatisfied),
            scores: vec![CriterionScore {
                criterion: text("服务态度"),
                score: Score::new("sample", 80).expect("a valid score"),
            }],
            comment: Some(text("较好")),
        }),
        DomainEvent::LeaderReviewed(LeaderReviewed {
            evaluation: EvaluationId(Uuid::from_u128(12)),
            rated: Rated::Member(member),
            score: Score::new("sample", 88).expect("a valid score"),
            comment: Some(text("表现突出")),
        }),
        DomainEvent::EvaluationClosed(EvaluationClosed { evaluation: EvaluationId(Uuid::from_u128(12)) }),
        DomainEvent::BoardPublished(BoardPublished {
            board: BoardId(Uuid::from_u128(17)),
            name: text("2011年上半年星级榜"),
            half_year: HalfYear::containing(details.date),
            scope: RoundScope::Units(vec![first]),
            policy: text("ten-star-named-default"),
            policy_version: 1,
            policy_document: "{}".to_owned(),
            policy_digest: text("44136fa3"),
            as_of: 30,
            entries: 1,
            digest: text("e3b0c442"),
        }),
        DomainEvent::RecognitionNominated(RecognitionNominated {
            recognition: RecognitionId(Uuid::from_u128(18)),
            award: text("post-pioneer"),
            policy: text("ten-star-named-default"),
            half_year: HalfYear::containing(details.date),
            nominee: Rated::Member(member),
            unit: first,
            reason: Some(text("服务群众")),
            listed_until: details.date,
        }),
        DomainEvent::ObjectionRaised(ObjectionRaised {
            recognition: RecognitionId(Uuid::from_u128(18)),
            objection: 1,
            from: ObjectionSource::Public,
            text: text("有投诉"),
        }),
        DomainEvent::ObjectionAnswered(ObjectionAnswered {
            recognition: RecognitionId(Uuid::from_u128(18)),
            objection: 1,
            upheld: false,
            answer: text("经核实不属实"),
        }),
        DomainEvent::RecognitionDecided(RecognitionDecided {
            recognition: RecognitionId(Uuid::from_u128(18)),
            evidence: Evidence {
                board: BoardId(Uuid::from_u128(17)),
                as_of: 30,
                policy_digest: text("44136fa3"),
                required: text("8"),
                outcome: Some(text("9")),
                score: None,
                criteria: vec![EvidenceCriterion {
                    part: text("服务星"),
                    metric: text("verified_hours"),
                    required: text("≥ 20.00"),
                    actual: Some(text("31.00")),
                    met: true,
                }],
                holds: true,
            },
            exception: None,
        }),
        DomainEvent::RecognitionRevoked(RecognitionRevoked {
            recognition: RecognitionId(Uuid::from_u128(18)),
            reason: text("弄虚作假"),
        }),
        DomainEvent::MemberErased(MemberErased { member: moved }),
    ];
    let mut model = ReadModel::default();
    for (i, payload) in events.into_iter().enumerate() {
        let position = i as u64 + 1;
        let at = Timestamp(position as i64 * 1_000_000);
        model.apply(&RecordedEvent {
            position,
            event_id: Uuid::from_u128(u128::from(position)),
            stream: payload.stream(),
            version: 0,
            recorded_at: at,
            occurred_at: at,
            actor: if position % 2 == 0 { Actor::OPERATOR } else { Actor { role: Role::Clerk, token: None } },
            command_id: Uuid::from_u128(u128::from(position)),
            correlation_id: None,
            causation_id: None,
            stored_schema_version: payload.schema_version(),
            hash: [position as u8; 32],
            payload,
        });
    }
    model
}
