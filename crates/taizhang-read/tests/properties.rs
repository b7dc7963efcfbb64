//! Properties over random histories (seeded; every property prints its seeds, and
//! `TAIZHANG_PROPERTY_SEED` replays one):
//! (a) the live projection, resumed from a checkpoint midway, equals a rebuild from
//!     scratch (equal digests);
//! (b) report totals, and look-back round reports, equal a naive recomputation from the
//!     raw events;
//! (c) every read as of position P equals the same read on a store truncated at P;
//! (d) a star board kept at the head of the live projection, brought up to date after
//!     every command, equals the board assessed whole.
//!
//! A history sends every kind of command (the generator matches on [`Command`] without
//! a fallback, so a new command does not compile here until it has a generator), and
//! each property checks that the history reached what it claims to test: every kind
//! accepted at least once and most commands accepted. Refused commands stay in the mix:
//! they must change nothing.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use taizhang_app::AppError;
use taizhang_core::*;
use taizhang_read::board::{
    board_candidates, board_part, complete_page, rank_board, star_board, Detail, KeptBoards, StarBoard,
};
use taizhang_read::eligibility::{eligibility, Candidate};
use taizhang_read::ledger::{member_ledger, unit_ledger, PageRequest};
use taizhang_read::policy::PolicySet;
use taizhang_read::report::{report, Bucket, GroupBy, ReportQuery, Scope};
use taizhang_read::{catch_up, certificates, digests, look_back, recognitions, AsOf, Projector, ReadModel};
use taizhang_store::{EventStore, SledStore};
use time::macros::date;
use time::Date;

struct Rng(u64);

impl Rng {
    /// Seeds the generator through SplitMix64, so that nearby seeds (the clock's) start
    /// far apart.
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn june() -> Period {
    Period::month(2011, time::Month::June).unwrap()
}

const REGIONS: [&str; 3] = ["茅箭区", "张湾区", "郧阳区"];

/// The kinds of command, one per [`Command`] variant, each declared with its weight in
/// the random part of a history, in the order the opening round sends them (each after
/// what it needs). One declaration makes both the kind and its place in [`MIX`], so a
/// kind cannot be left out of the histories.
macro_rules! kinds {
    ($($kind:ident = $weight:literal),* $(,)?) => {
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
        enum Kind {
            $($kind),*
        }

        /// Every kind with its weight.
        const MIX: &[(Kind, usize)] = &[$((Kind::$kind, $weight)),*];
    };
}

kinds! {
    RegisterUnit = 3,
    RenameUnit = 3,
    MoveUnit = 3,
    ReclassifyUnit = 2,
    RegisterMember = 5,
    TransferMember = 5,
    CorrectPersonalData = 2,
    RegisterOuting = 36,
    AmendOuting = 12,
    VerifyOuting = 18,
    IssueCertificate = 3,
    RevokeCertificate = 1,
    RecordEvaluation = 6,
    VoidOuting = 7,
    SetCheckInPin = 3,
    SetPublicCard = 2,
    OpenCheckIn = 6,
    CheckIn = 12,
    CheckOut = 10,
    RequestCorrection = 4,
    AnswerCorrection = 4,
    EraseMember = 2,
    MakeCommitment = 10,
    AmendCommitment = 2,
    AssessCommitment = 8,
    WithdrawCommitment = 1,
    SubmitSummary = 4,
    CommentOnSummary = 2,
    OpenRound = 3,
    RecordOpinion = 4,
    SubmitOpinion = 3,
    ReviewOpinion = 4,
    EraseCitizen = 1,
    CloseRound = 1,
    OpenEvaluation = 2,
    CastBallot = 8,
    ReviewAsLeader = 3,
    CloseEvaluation = 1,
    PublishBoard = 2,
    NominateRecognition = 3,
    RaiseObjection = 2,
    AnswerObjection = 2,
    DecideRecognition = 3,
    RevokeRecognition = 1,
}

/// A kind drawn by the weights of [`MIX`].
fn draw(rng: &mut Rng) -> Kind {
    let mut roll = rng.below(MIX.iter().map(|(_, weight)| weight).sum());
    for &(kind, weight) in MIX {
        if roll < weight {
            return kind;
        }
        roll -= weight;
    }
    unreachable!("the roll is below the total weight")
}

/// The kind of a command; exhaustive, so a new command needs a kind and a generator.
fn kind_of(cmd: &Command) -> Kind {
    match cmd {
        Command::RegisterUnit(_) => Kind::RegisterUnit,
        Command::RenameUnit(_) => Kind::RenameUnit,
        Command::MoveUnit(_) => Kind::MoveUnit,
        Command::ReclassifyUnit(_) => Kind::ReclassifyUnit,
        Command::RegisterMember(_) => Kind::RegisterMember,
        Command::TransferMember(_) => Kind::TransferMember,
        Command::CorrectPersonalData(_) => Kind::CorrectPersonalData,
        Command::EraseMember(_) => Kind::EraseMember,
        Command::RegisterOuting(_) => Kind::RegisterOuting,
        Command::AmendOuting(_) => Kind::AmendOuting,
        Command::VoidOuting(_) => Kind::VoidOuting,
        Command::VerifyOuting(_) => Kind::VerifyOuting,
        Command::RecordEvaluation(_) => Kind::RecordEvaluation,
        Command::MakeCommitment(_) => Kind::MakeCommitment,
        Command::AmendCommitment(_) => Kind::AmendCommitment,
        Command::AssessCommitment(_) => Kind::AssessCommitment,
        Command::WithdrawCommitment(_) => Kind::WithdrawCommitment,
        Command::SubmitSummary(_) => Kind::SubmitSummary,
        Command::CommentOnSummary(_) => Kind::CommentOnSummary,
        Command::OpenRound(_) => Kind::OpenRound,
        Command::CloseRound(_) => Kind::CloseRound,
        Command::RecordOpinion(_) => Kind::RecordOpinion,
        Command::SubmitOpinion(_) => Kind::SubmitOpinion,
        Command::ReviewOpinion(_) => Kind::ReviewOpinion,
        Command::EraseCitizen(_) => Kind::EraseCitizen,
        Command::IssueCertificate(_) => Kind::IssueCertificate,
        Command::RevokeCertificate(_) => Kind::RevokeCertificate,
        Command::SetCheckInPin(_) => Kind::SetCheckInPin,
        Command::SetPublicCard(_) => Kind::SetPublicCard,
        Command::OpenCheckIn(_) => Kind::OpenCheckIn,
        Command::CheckIn(_) => Kind::CheckIn,
        Command::CheckOut(_) => Kind::CheckOut,
        Command::RequestCorrection(_) => Kind::RequestCorrection,
        Command::AnswerCorrection(_) => Kind::AnswerCorrection,
        Command::OpenEvaluation(_) => Kind::OpenEvaluation,
        Command::CastBallot(_) => Kind::CastBallot,
        Command::ReviewAsLeader(_) => Kind::ReviewAsLeader,
        Command::CloseEvaluation(_) => Kind::CloseEvaluation,
        Command::PublishBoard(_) => Kind::PublishBoard,
        Command::NominateRecognition(_) => Kind::NominateRecognition,
        Command::RaiseObjection(_) => Kind::RaiseObjection,
        Command::AnswerObjection(_) => Kind::AnswerObjection,
        Command::DecideRecognition(_) => Kind::DecideRecognition,
        Command::RevokeRecognition(_) => Kind::RevokeRecognition,
    }
}

/// The PIN digest every member of a history is given (the application layer makes
/// real ones; the domain compares them).
const PIN: PinDigest = PinDigest([7; 32]);
/// The day of careful check-ins, in June (the reports' period): no other careful
/// command takes it, so in the opening round nothing else takes the member's time then.
const CHECK_IN_DAY: Date = date!(2011 - 06 - 28);

/// What a random history created and what the domain made of its commands. The
/// generator keeps just enough of the accepted state (where members serve, which
/// records are gone) to aim most commands at valid targets; the rest aim anywhere.
#[derive(Default)]
struct History {
    units: Vec<UnitId>,
    members: Vec<MemberId>,
    outings: Vec<OutingId>,
    /// Each member's unit now, and the day they joined it.
    home: BTreeMap<MemberId, (UnitId, Date)>,
    outing_unit: BTreeMap<OutingId, UnitId>,
    erased: BTreeSet<MemberId>,
    voided: BTreeSet<OutingId>,
    /// Outings verified in their current form.
    verified: BTreeSet<OutingId>,
    commitments: Vec<CommitmentId>,
    commitment_unit: BTreeMap<CommitmentId, UnitId>,
    withdrawn: BTreeSet<CommitmentId>,
    assessed: BTreeSet<CommitmentId>,
    summaries: Vec<SummaryId>,
    rounds: Vec<RoundId>,
    closed_rounds: BTreeSet<RoundId>,
    evaluations: Vec<EvaluationId>,
    closed_evaluations: BTreeSet<EvaluationId>,
    /// Opinions left with a citizen's name, and those whose citizen was erased since.
    named_opinions: Vec<OpinionId>,
    erased_citizens: BTreeSet<OpinionId>,
    /// Opinions left on the notice board, and those reviewed since.
    held_opinions: Vec<OpinionId>,
    reviewed_opinions: BTreeSet<OpinionId>,
    certificates: Vec<CertificateId>,
    revoked: BTreeSet<CertificateId>,
    /// Members given a PIN.
    pinned: Vec<MemberId>,
    /// Outings with a check-in opened, in the order opened, with their unit, details
    /// and latest site code.
    check_ins: Vec<OutingId>,
    check_in_at: BTreeMap<OutingId, (UnitId, OutingDetails, String)>,
    arrived: Vec<(OutingId, MemberId)>,
    left: BTreeSet<(OutingId, MemberId)>,
    corrections: Vec<CorrectionId>,
    answered: BTreeSet<CorrectionId>,
    boards: Vec<BoardId>,
    /// Nominations, with their objections so far, and those decided or revoked.
    recognitions: Vec<RecognitionId>,
    objections: BTreeMap<RecognitionId, u32>,
    decided: BTreeSet<RecognitionId>,
    revoked_recognitions: BTreeSet<RecognitionId>,
    accepted: BTreeMap<Kind, usize>,
    refused: BTreeMap<Kind, usize>,
}

impl History {
    /// The most recent live item when `careful`; otherwise mostly a live one, sometimes any.
    fn target<T: Copy + Ord>(rng: &mut Rng, all: &[T], gone: &BTreeSet<T>, careful: bool) -> T {
        let live: Vec<T> = all.iter().copied().filter(|t| !gone.contains(t)).collect();
        match (careful, live.is_empty()) {
            (true, false) => *live.last().unwrap(),
            (false, false) if rng.chance(90) => rng.pick(&live),
            _ => rng.pick(all),
        }
    }

    fn member(&self, rng: &mut Rng, careful: bool) -> MemberId {
        Self::target(rng, &self.members, &self.erased, careful)
    }

    fn outing(&self, rng: &mut Rng, careful: bool) -> OutingId {
        Self::target(rng, &self.outings, &self.voided, careful)
    }

    fn commitment(&self, rng: &mut Rng, careful: bool) -> CommitmentId {
        Self::target(rng, &self.commitments, &self.withdrawn, careful)
    }

    /// A commitment to amend: mostly one neither withdrawn nor assessed.
    fn unassessed_commitment(&self, rng: &mut Rng, careful: bool) -> CommitmentId {
        let done: BTreeSet<CommitmentId> = self.withdrawn.union(&self.assessed).copied().collect();
        Self::target(rng, &self.commitments, &done, careful)
    }

    /// A commitment's content, its term in the first half of 2011; now and then one
    /// ending before it begins.
    fn promise(rng: &mut Rng, step: usize, careful: bool) -> CommitmentContent {
        let until = if !careful && rng.chance(5) { date!(2010 - 12 - 31) } else { date!(2011 - 06 - 30) };
        CommitmentContent {
            category: text(COMMITMENT_CATEGORIES[rng.below(COMMITMENT_CATEGORIES.len())]),
            text: text(&format!("承诺{step}")),
            target: rng.chance(50).then(|| text("≤ 3 个工作日")),
            from: date!(2011 - 01 - 01),
            until,
            public: rng.chance(80),
        }
    }

    /// An outing to verify: mostly one not voided nor verified yet.
    fn unverified_outing(&self, rng: &mut Rng, careful: bool) -> OutingId {
        let done: BTreeSet<OutingId> = self.voided.union(&self.verified).copied().collect();
        Self::target(rng, &self.outings, &done, careful)
    }

    /// Participants for an outing of `unit` on `day`: live members who belong to it
    /// that day mostly (only the newest when `careful`), sometimes anyone.
    fn participants(&self, rng: &mut Rng, unit: UnitId, day: Date, careful: bool) -> Vec<ParticipationInput> {
        let own: Vec<MemberId> = self
            .members
            .iter()
            .copied()
            .filter(|m| {
                self.home.get(m).is_some_and(|(u, since)| *u == unit && *since <= day) && !self.erased.contains(m)
            })
            .collect();
        let chosen: BTreeSet<MemberId> = if careful {
            own.last().copied().into_iter().collect()
        } else if own.is_empty() || rng.chance(10) {
            (0..1 + rng.below(3)).map(|_| rng.pick(&self.members)).collect()
        } else {
            (0..1 + rng.below(3)).map(|_| rng.pick(&own)).collect()
        };
        chosen
            .into_iter()
            .map(|member| ParticipationInput {
                member,
                span: None,
                minutes: Minutes::new(30 + 30 * rng.below(2) as u32),
            })
            .collect()
    }

    fn outing_details(rng: &mut Rng, day: Date) -> OutingDetails {
        let start = 6 + rng.below(12) as u16;
        let end = start + 1 + rng.below(4) as u16;
        let (a, b) = (ClockTime::from_minutes(start * 60).unwrap(), ClockTime::from_minutes(end * 60).unwrap());
        OutingDetails { span: TimeRange::new("s", a, b).unwrap(), ..details(day, "08:00", "09:00") }
    }

    /// A command of `kind`; `careful` aims it where it must be accepted (the opening
    /// round, which makes every kind's acceptance certain unless the domain is wrong).
    fn command(&self, rng: &mut Rng, kind: Kind, step: usize, careful: bool) -> Command {
        let day = date!(2011 - 05 - 25) + time::Duration::days(rng.below(45) as i64);
        let day = if careful && day == CHECK_IN_DAY { day.next_day().expect("a day in 2011") } else { day };
        let unit = if careful { *self.units.last().unwrap() } else { rng.pick(&self.units) };
        let parent = (!careful && rng.chance(30)).then(|| rng.pick(&self.units));
        match kind {
            Kind::RegisterUnit => Command::RegisterUnit(RegisterUnit {
                unit: UnitId::new(),
                name: text(&format!("单位{step}")),
                industry: text(if rng.chance(50) { "医院" } else { "税务" }),
                region: text(rng.pick(&REGIONS)),
                parent,
                code: None,
            }),
            Kind::RenameUnit => Command::RenameUnit(RenameUnit { unit, name: text(&format!("更名单位{step}")) }),
            Kind::MoveUnit => Command::MoveUnit(MoveUnit { unit, region: text(rng.pick(&REGIONS)), parent }),
            Kind::ReclassifyUnit => Command::ReclassifyUnit(ReclassifyUnit {
                unit,
                industry: text(&format!("行业{step}")),
                reason: text("登记有误"),
            }),
            Kind::CorrectPersonalData => Command::CorrectPersonalData(CorrectPersonalData {
                member: self.member(rng, careful),
                personal: PersonalData {
                    name: text(&format!("更正{step}")),
                    national_id: None,
                    phone: None,
                    birth_date: None,
                },
                reason: text("姓名有误"),
            }),
            Kind::RegisterMember => Command::RegisterMember(RegisterMember {
                member: MemberId::new(),
                unit,
                joined_on: if careful {
                    date!(2011 - 01 - 01)
                } else {
                    date!(2011 - 01 - 01) + time::Duration::days(rng.below(180) as i64)
                },
                personal: PersonalData { name: text("志愿者"), national_id: None, phone: None, birth_date: None },
                code: None,
            }),
            Kind::TransferMember => {
                // Careful: the first member, never moved before, into the newest unit.
                let member = if careful { self.members[0] } else { self.member(rng, false) };
                let to = if careful { unit } else { rng.pick(&self.units) };
                let since = self.home[&member].1;
                let effective = if careful { date!(2011 - 06 - 15) } else { day.max(since + time::Duration::days(1)) };
                Command::TransferMember(TransferMember { member, to, effective })
            }
            Kind::EraseMember => Command::EraseMember(EraseMember { member: self.member(rng, careful) }),
            Kind::RegisterOuting => {
                let unit = if careful { self.home[self.members.last().unwrap()].0 } else { unit };
                Command::RegisterOuting(RegisterOuting {
                    outing: OutingId::new(),
                    unit,
                    details: Self::outing_details(rng, day),
                    participants: self.participants(rng, unit, day, careful),
                    code: None,
                })
            }
            Kind::AmendOuting => {
                let outing = self.outing(rng, careful);
                Command::AmendOuting(AmendOuting {
                    outing,
                    details: Self::outing_details(rng, day),
                    participants: self.participants(rng, self.outing_unit[&outing], day, careful),
                    reason: text("更正"),
                    expected_version: None,
                })
            }
            Kind::VoidOuting => Command::VoidOuting(VoidOuting {
                outing: self.outing(rng, careful),
                reason: text("作废"),
                expected_version: None,
            }),
            Kind::SetCheckInPin => {
                let pin = if careful || rng.chance(90) { PIN } else { PinDigest([rng.below(250) as u8; 32]) };
                Command::SetCheckInPin(SetCheckInPin { member: self.member(rng, careful), pin })
            }
            Kind::SetPublicCard => {
                let shown = rng.chance(70);
                // Careless ones sometimes name a post on a card taken down.
                let post = (shown || (!careful && rng.chance(10))).then(|| text("窗口受理员"));
                Command::SetPublicCard(SetPublicCard { member: self.member(rng, careful), shown, post })
            }
            Kind::OpenCheckIn => {
                let site_code = site_code(&[rng.below(256) as u8; 32]);
                let reopen = !careful && !self.check_ins.is_empty() && rng.chance(25);
                if reopen {
                    let outing = rng.pick(&self.check_ins);
                    return Command::OpenCheckIn(OpenCheckIn {
                        outing,
                        registration: None,
                        site_code,
                        rules: CheckInRules::default(),
                    });
                }
                // Mostly where a member with a PIN serves that day.
                let live: Vec<MemberId> = self.pinned.iter().copied().filter(|m| !self.erased.contains(m)).collect();
                let (unit, day) = match live.last() {
                    Some(m) if careful => (self.home[m].0, CHECK_IN_DAY.max(self.home[m].1)),
                    Some(_) if rng.chance(80) => {
                        let (unit, since) = self.home[&rng.pick(&live)];
                        (unit, day.max(since))
                    }
                    _ => (unit, day),
                };
                let rules = CheckInRules {
                    late_grace_minutes: if careful { 0 } else { 5 * rng.below(3) as u16 },
                    ..CheckInRules::default()
                };
                Command::OpenCheckIn(OpenCheckIn {
                    outing: OutingId::new(),
                    registration: Some(NewOuting { unit, details: Self::outing_details(rng, day), code: None }),
                    site_code,
                    rules,
                })
            }
            Kind::CheckIn | Kind::CheckOut => {
                let leaving = kind == Kind::CheckOut;
                let still_there: Vec<(OutingId, MemberId)> = self
                    .arrived
                    .iter()
                    .copied()
                    .filter(|a| !self.left.contains(a) && !self.voided.contains(&a.0))
                    .collect();
                let (outing, member) = match (leaving, careful) {
                    (true, true) => *still_there.last().expect("the opening round checked someone in"),
                    (true, false) if !still_there.is_empty() && rng.chance(90) => rng.pick(&still_there),
                    _ => {
                        let outing = match self.check_ins.is_empty() {
                            false => Self::target(rng, &self.check_ins, &self.voided, careful),
                            true => OutingId::new(),
                        };
                        let unit = self.check_in_at.get(&outing).map(|(u, _, _)| *u);
                        let own: Vec<MemberId> = self
                            .pinned
                            .iter()
                            .copied()
                            .filter(|m| !self.erased.contains(m) && Some(self.home[m].0) == unit)
                            .collect();
                        let member = match own.last() {
                            Some(m) if careful => *m,
                            Some(_) if rng.chance(90) => rng.pick(&own),
                            _ => rng.pick(&self.members),
                        };
                        (outing, member)
                    }
                };
                let (site_code, at) = match self.check_in_at.get(&outing) {
                    Some((_, details, code)) => {
                        let (clock, offset) = match leaving {
                            true => (details.span.end, if careful { -10 } else { rng.below(50) as i64 - 40 }),
                            false => (details.span.start, if careful { 5 } else { rng.below(40) as i64 - 20 }),
                        };
                        let offset = if !careful && rng.chance(5) { -180 } else { offset };
                        (code.clone(), Timestamp::of_service(details.date, clock).plus_minutes(offset))
                    }
                    None => ("000000".to_owned(), Timestamp::of_service(day, ClockTime::from_minutes(600).unwrap())),
                };
                let pin = if careful || rng.chance(95) { PIN } else { PinDigest([9; 32]) };
                let presence = Presence { member, site_code, pin, at };
                match leaving {
                    true => Command::CheckOut(CheckOut { outing, presence }),
                    false => Command::CheckIn(CheckIn { outing, presence }),
                }
            }
            Kind::RequestCorrection => {
                let member = self.member(rng, careful);
                let own: Vec<OutingId> = self
                    .outings
                    .iter()
                    .copied()
                    .filter(|o| self.home.get(&member).is_some_and(|(u, _)| self.outing_unit.get(o) == Some(u)))
                    .collect();
                let outing = (!own.is_empty() && rng.chance(60)).then(|| rng.pick(&own));
                let pin = (!careful && rng.chance(50)).then_some(PIN);
                Command::RequestCorrection(RequestCorrection {
                    correction: CorrectionId::new(),
                    member,
                    outing,
                    text: text(&format!("记录有误{step}")),
                    pin,
                })
            }
            Kind::AnswerCorrection => Command::AnswerCorrection(AnswerCorrection {
                correction: if self.corrections.is_empty() {
                    CorrectionId::new()
                } else {
                    Self::target(rng, &self.corrections, &self.answered, careful)
                },
                accepted: !careful && rng.chance(50),
                reason: text("经核实"),
            }),
            Kind::VerifyOuting => {
                let outing = self.unverified_outing(rng, careful);
                Command::VerifyOuting(VerifyOuting { outing, note: None, expected_version: None })
            }
            Kind::RecordEvaluation => Command::RecordEvaluation(RecordEvaluation {
                member: self.member(rng, careful),
                half_year: HalfYear::parse("h", "2011H1").unwrap(),
                public_score: Score::new("p", rng.below(101) as i64).unwrap(),
                leader_score: Score::new("l", rng.below(101) as i64).unwrap(),
                note: None,
            }),
            Kind::MakeCommitment => {
                // A member's now and then; a renewal of the unit's items, sometimes of
                // another unit's (refused).
                let member = (!careful && rng.chance(30)).then(|| self.member(rng, false));
                let renews = if careful || self.commitments.is_empty() || rng.chance(50) {
                    vec![]
                } else {
                    let own: Vec<CommitmentId> =
                        self.commitments.iter().copied().filter(|c| self.commitment_unit[c] == unit).collect();
                    let pool = if own.is_empty() || rng.chance(10) { &self.commitments } else { &own };
                    vec![rng.pick(pool)]
                };
                Command::MakeCommitment(MakeCommitment {
                    commitment: CommitmentId::new(),
                    unit,
                    member,
                    content: Self::promise(rng, step, careful),
                    renews,
                    code: None,
                })
            }
            Kind::AmendCommitment => Command::AmendCommitment(AmendCommitment {
                commitment: self.unassessed_commitment(rng, careful),
                content: Self::promise(rng, step, careful),
                reason: text("修改"),
            }),
            Kind::AssessCommitment => {
                let fulfilment = [Fulfilment::Kept, Fulfilment::PartlyKept, Fulfilment::NotKept][rng.below(3)];
                Command::AssessCommitment(AssessCommitment {
                    commitment: self.commitment(rng, careful),
                    fulfilment,
                    evidence: text("群众意见"),
                })
            }
            Kind::WithdrawCommitment => Command::WithdrawCommitment(WithdrawCommitment {
                commitment: self.commitment(rng, careful),
                reason: text("撤回"),
            }),
            Kind::SubmitSummary => {
                // June's weeks, so that a unit revises some of its summaries.
                let week = IsoWeek::containing(date!(2011 - 06 - 01) + time::Duration::weeks(rng.below(4) as i64));
                let learnt = rng.chance(50).then(|| text("体会"));
                Command::SubmitSummary(SubmitSummary::new(
                    unit,
                    week,
                    SummaryText { done: text(&format!("小结{step}")), learnt, next: None },
                ))
            }
            Kind::CommentOnSummary => {
                let summary = if careful || (!self.summaries.is_empty() && rng.chance(90)) {
                    *self.summaries.last().unwrap()
                } else {
                    SummaryId::new()
                };
                Command::CommentOnSummary(CommentOnSummary { summary, comment: text("阅") })
            }
            Kind::OpenRound => {
                let scope = match rng.below(3) {
                    _ if careful => RoundScope::Units(vec![unit]),
                    0 => RoundScope::All,
                    1 => RoundScope::Region(text(rng.pick(&REGIONS))),
                    _ => RoundScope::Units(vec![unit, rng.pick(&self.units)]),
                };
                let period = Period::new(date!(2011 - 01 - 01), date!(2011 - 06 - 30)).unwrap();
                Command::OpenRound(OpenRound {
                    round: RoundId::new(),
                    name: text(&format!("回头看{step}")),
                    period,
                    scope,
                })
            }
            Kind::RecordOpinion | Kind::SubmitOpinion => {
                let round = if self.rounds.is_empty() {
                    RoundId::new()
                } else {
                    Self::target(rng, &self.rounds, &self.closed_rounds, careful)
                };
                let about = if careful || self.commitments.is_empty() || rng.chance(50) {
                    OpinionAbout::Unit(unit)
                } else {
                    OpinionAbout::Commitment(rng.pick(&self.commitments))
                };
                let rating = [None, Some(Rating::Satisfied), Some(Rating::FairlySatisfied), Some(Rating::Dissatisfied)]
                    [rng.below(4)];
                let channel = [Channel::NoticeBoard, Channel::Web, Channel::Telephone][rng.below(3)];
                let citizen = (careful || rng.chance(50)).then(|| PersonalData {
                    name: text("李女士"),
                    national_id: None,
                    phone: Some("0719-8888888".to_owned()),
                    birth_date: None,
                });
                let (opinion, text) = (OpinionId::new(), text(&format!("意见{step}")));
                match kind {
                    Kind::SubmitOpinion => {
                        let channel = Channel::Web;
                        Command::SubmitOpinion(SubmitOpinion(RecordOpinion {
                            opinion,
                            round,
                            about,
                            text,
                            rating,
                            channel,
                            citizen,
                        }))
                    }
                    _ => {
                        Command::RecordOpinion(RecordOpinion { opinion, round, about, text, rating, channel, citizen })
                    }
                }
            }
            Kind::ReviewOpinion => {
                let opinion = if self.held_opinions.is_empty() {
                    OpinionId::new()
                } else {
                    Self::target(rng, &self.held_opinions, &self.reviewed_opinions, careful)
                };
                let accept = rng.chance(70);
                // Careless reviews sometimes decline without a reason or accept with one.
                let reason = (accept == (!careful && rng.chance(10))).then(|| text("与本单位无关"));
                Command::ReviewOpinion(ReviewOpinion { opinion, accept, reason })
            }
            Kind::EraseCitizen => Command::EraseCitizen(EraseCitizen {
                opinion: if self.named_opinions.is_empty() {
                    OpinionId::new()
                } else {
                    Self::target(rng, &self.named_opinions, &self.erased_citizens, careful)
                },
            }),
            Kind::IssueCertificate => unreachable!("a certificate is made from the read model: History::certificate"),
            Kind::PublishBoard | Kind::DecideRecognition => {
                unreachable!("a board and a decision are made from the read model: History::board, History::decision")
            }
            Kind::NominateRecognition => {
                let (award, nominee) = if careful || rng.chance(50) {
                    ("satisfied-window", Rated::Unit(unit))
                } else {
                    ("post-pioneer", Rated::Member(self.member(rng, careful)))
                };
                let half_year = HalfYear { year: 2011, half: 1 };
                let policy = if award == "post-pioneer" { "ten-star-named-default" } else { "ten-star-unit-default" };
                Command::NominateRecognition(NominateRecognition {
                    recognition: RecognitionId::of(award, half_year, nominee),
                    award: text(award),
                    policy: text(policy),
                    half_year,
                    nominee,
                    reason: rng.chance(50).then(|| text("群众口碑好")),
                    listing_days: if careful { 0 } else { rng.below(2) as u8 },
                })
            }
            Kind::RaiseObjection | Kind::AnswerObjection | Kind::RevokeRecognition => {
                let gone = match kind {
                    Kind::RevokeRecognition => &self.revoked_recognitions,
                    _ => &self.decided,
                };
                let recognition = if self.recognitions.is_empty() {
                    RecognitionId::new()
                } else if careful && kind == Kind::RevokeRecognition {
                    self.decided.iter().next().copied().unwrap_or_else(|| rng.pick(&self.recognitions))
                } else {
                    Self::target(rng, &self.recognitions, gone, careful)
                };
                match kind {
                    Kind::RaiseObjection => Command::RaiseObjection(RaiseObjection {
                        recognition,
                        from: if rng.chance(50) { ObjectionSource::Public } else { ObjectionSource::Reviewer },
                        text: text("有群众反映服务态度问题"),
                    }),
                    Kind::AnswerObjection => Command::AnswerObjection(AnswerObjection {
                        recognition,
                        objection: self.objections.get(&recognition).copied().unwrap_or(1).max(1),
                        upheld: !careful && rng.chance(30),
                        answer: text("经核实"),
                    }),
                    _ => Command::RevokeRecognition(RevokeRecognition { recognition, reason: text("弄虚作假") }),
                }
            }
            Kind::RevokeCertificate => Command::RevokeCertificate(RevokeCertificate {
                certificate: if self.certificates.is_empty() {
                    CertificateId::new()
                } else {
                    Self::target(rng, &self.certificates, &self.revoked, careful)
                },
                reason: text("记录有误"),
            }),
            Kind::OpenEvaluation => {
                let subject =
                    if careful || rng.chance(50) { EvaluationSubject::Units } else { EvaluationSubject::Members };
                let scope = match rng.below(3) {
                    _ if careful => RoundScope::Units(vec![unit]),
                    0 => RoundScope::All,
                    1 => RoundScope::Region(text(rng.pick(&REGIONS))),
                    _ => RoundScope::Units(vec![unit, rng.pick(&self.units)]),
                };
                Command::OpenEvaluation(OpenEvaluation {
                    evaluation: EvaluationId::new(),
                    name: text(&format!("评议{step}")),
                    half_year: HalfYear { year: 2011, half: 1 },
                    subject,
                    scope,
                })
            }
            Kind::CastBallot | Kind::ReviewAsLeader => {
                let evaluation = if self.evaluations.is_empty() {
                    EvaluationId::new()
                } else {
                    Self::target(rng, &self.evaluations, &self.closed_evaluations, careful)
                };
                let rated = if careful || rng.chance(50) {
                    Rated::Unit(unit)
                } else {
                    Rated::Member(self.member(rng, careful))
                };
                let rating = [None, Some(Rating::Satisfied), Some(Rating::FairlySatisfied), Some(Rating::Dissatisfied)]
                    [rng.below(4)];
                let score = Score::new("score", 60 + rng.below(41) as i64).unwrap();
                match kind {
                    Kind::CastBallot => Command::CastBallot(CastBallot {
                        ballot: BallotId::new(),
                        evaluation,
                        rated,
                        voter: [Voter::Citizen, Voter::Supervisor, Voter::Assessor][rng.below(3)],
                        rating,
                        scores: vec![CriterionScore { criterion: text("服务态度"), score }],
                        comment: rng.chance(30).then(|| text("满意")),
                    }),
                    _ => Command::ReviewAsLeader(ReviewAsLeader { evaluation, rated, score, comment: None }),
                }
            }
            Kind::CloseEvaluation => Command::CloseEvaluation(CloseEvaluation {
                evaluation: if self.evaluations.is_empty() {
                    EvaluationId::new()
                } else {
                    Self::target(rng, &self.evaluations, &self.closed_evaluations, careful)
                },
            }),
            Kind::CloseRound => Command::CloseRound(CloseRound {
                round: if self.rounds.is_empty() {
                    RoundId::new()
                } else {
                    Self::target(rng, &self.rounds, &self.closed_rounds, careful)
                },
            }),
        }
    }

    /// A certificate, made as the issuing service makes one: its lines read from a
    /// model of the log so far (most aimed at a member of a verified outing, the rest
    /// anywhere). The signature is not the domain's to check.
    async fn certificate(&self, w: &World, rng: &mut Rng, careful: bool) -> Command {
        let mut model = ReadModel::default();
        catch_up(w.store(), &mut model, w.store().head()).await.unwrap();
        let head = model.position;
        let served: Vec<(OutingId, MemberId)> = self
            .verified
            .iter()
            .filter(|o| !self.voided.contains(o))
            .filter_map(|o| {
                let member =
                    model.outing(*o, head)?.participants().map(|p| p.member).find(|m| !self.erased.contains(m))?;
                Some((*o, member))
            })
            .collect();
        let (outing, member) = match served.is_empty() || (!careful && rng.chance(20)) {
            true => (OutingId::new(), rng.pick(&self.members)),
            false => rng.pick(&served),
        };
        let unit = model.outing(outing, head).map_or_else(|| rng.pick(&self.units), |o| o.unit);
        let (first, last) = (date!(2011 - 05 - 01), date!(2011 - 07 - 31));
        let lines = certificates::lines(&model, member, unit, Period::new(first, last).unwrap(), head);
        let index = certificates::next_index(&model, 2011);
        let number = certificate_number(2011, index);
        Command::IssueCertificate(IssueCertificate::new(CertificateIssued {
            certificate: CertificateId::of_code(&number),
            number: text(&number),
            status_index: index,
            member,
            personal_version: model.members.get(&member).map_or(0, |h| h.personal_version(head)),
            unit,
            person_in_charge: text("王主任"),
            contact: text("0719-8888888"),
            first,
            last,
            digest: text(&certificates::digest(&lines)),
            lines,
            as_of: head,
            base_url: text("https://taizhang.example"),
            signature: Signature { key: text("z6Mk"), created: text("2011-08-01T00:00:00Z"), value: text("z1") },
        }))
    }

    /// A star board of the units or the members, published as a reviewer publishes one:
    /// computed from a model of the log so far.
    async fn board(&self, w: &World, rng: &mut Rng, careful: bool) -> Command {
        let model = w.model().await;
        let set = PolicySet::built_in();
        let name = if careful || rng.chance(50) { "ten-star-unit-default" } else { "ten-star-named-default" };
        let policy = set.get(name).unwrap();
        let board = star_board(&model, policy, &Scope::All, HalfYear { year: 2011, half: 1 }, &AsOf::now()).unwrap();
        let published = recognitions::publication(BoardId::new(), text("星级榜"), RoundScope::All, policy, &board);
        Command::PublishBoard(PublishBoard::new(published))
    }

    /// A decision on the evidence a published board gives, as a reviewer decides: with
    /// an exception when the evidence does not hold (careless decisions forget it
    /// sometimes, or name a board of the other policy).
    async fn decision(&self, w: &World, rng: &mut Rng, careful: bool) -> Command {
        let model = w.model().await;
        let recognition = if self.recognitions.is_empty() {
            RecognitionId::new()
        } else {
            Self::target(rng, &self.recognitions, &self.decided, careful)
        };
        let nominated = model.recognitions.get(&recognition).map(|r| r.nominated.clone());
        let boards: Vec<&BoardPublished> = model
            .boards
            .values()
            .map(|b| &b.published)
            .filter(|b| careful || rng.chance(80) || nominated.as_ref().is_none_or(|n| n.policy == b.policy))
            .filter(|b| nominated.as_ref().is_none_or(|n| !careful || n.policy == b.policy))
            .collect();
        let evidence = match (&nominated, boards.last()) {
            (Some(nominated), Some(published)) => {
                let (policy, board) =
                    recognitions::board_at(&model, published, &AsOf::at_position(published.as_of)).unwrap();
                recognitions::evidence_for(published, &policy, &board, nominated).ok()
            }
            _ => None,
        };
        // Evidence is the board's, read as the server reads it; where there is none (the
        // nominee is not on the board), a careless reviewer sends some, which the domain
        // refuses for not holding (no exception: the server would have stopped first).
        let from_board = evidence.is_some();
        let evidence = evidence.unwrap_or_else(|| Evidence {
            board: boards.last().map_or_else(BoardId::new, |b| b.board),
            as_of: 1,
            policy_digest: text("0"),
            required: text("9"),
            outcome: None,
            score: None,
            criteria: vec![],
            holds: false,
        });
        let exception =
            (!evidence.holds && from_board && (careful || rng.chance(70))).then(|| text("抗洪抢险表现突出"));
        Command::DecideRecognition(DecideRecognition { recognition, evidence, exception })
    }

    /// Keeps what an accepted command created or ended.
    fn accepted(&mut self, cmd: &Command) {
        *self.accepted.entry(kind_of(cmd)).or_default() += 1;
        match cmd {
            Command::RegisterUnit(c) => self.units.push(c.unit),
            Command::RegisterMember(c) => {
                self.members.push(c.member);
                self.home.insert(c.member, (c.unit, c.joined_on));
            }
            Command::TransferMember(c) => {
                self.home.insert(c.member, (c.to, c.effective));
            }
            Command::EraseMember(c) => {
                self.erased.insert(c.member);
            }
            Command::RegisterOuting(c) => {
                self.outings.push(c.outing);
                self.outing_unit.insert(c.outing, c.unit);
            }
            Command::VoidOuting(c) => {
                self.voided.insert(c.outing);
            }
            Command::VerifyOuting(c) => {
                self.verified.insert(c.outing);
            }
            Command::AmendOuting(c) => {
                self.verified.remove(&c.outing);
            }
            Command::MakeCommitment(c) => {
                self.commitments.push(c.commitment);
                self.commitment_unit.insert(c.commitment, c.unit);
            }
            Command::SubmitSummary(c) => self.summaries.push(c.summary),
            Command::OpenRound(c) => self.rounds.push(c.round),
            Command::OpenEvaluation(c) => self.evaluations.push(c.evaluation),
            Command::CloseEvaluation(c) => {
                self.closed_evaluations.insert(c.evaluation);
            }
            Command::CloseRound(c) => {
                self.closed_rounds.insert(c.round);
            }
            Command::AssessCommitment(c) => {
                self.assessed.insert(c.commitment);
            }
            Command::WithdrawCommitment(c) => {
                self.withdrawn.insert(c.commitment);
            }
            Command::RecordOpinion(c) => {
                if c.citizen.is_some() {
                    self.named_opinions.push(c.opinion);
                }
            }
            Command::SubmitOpinion(c) => {
                self.held_opinions.push(c.opinion);
                if c.citizen.is_some() {
                    self.named_opinions.push(c.opinion);
                }
            }
            Command::ReviewOpinion(c) => {
                self.reviewed_opinions.insert(c.opinion);
                // A decline erases the citizen with it.
                if !c.accept {
                    self.erased_citizens.insert(c.opinion);
                }
            }
            Command::EraseCitizen(c) => {
                self.erased_citizens.insert(c.opinion);
            }
            Command::IssueCertificate(c) => self.certificates.push(c.issued().certificate),
            Command::SetCheckInPin(c) => {
                if c.pin == PIN {
                    self.pinned.push(c.member);
                }
            }
            Command::OpenCheckIn(c) => {
                if let Some(new) = &c.registration {
                    self.outings.push(c.outing);
                    self.outing_unit.insert(c.outing, new.unit);
                    self.check_ins.push(c.outing);
                    self.check_in_at.insert(c.outing, (new.unit, new.details.clone(), c.site_code.clone()));
                } else if let Some(known) = self.check_in_at.get_mut(&c.outing) {
                    known.2 = c.site_code.clone();
                }
            }
            Command::CheckIn(c) => self.arrived.push((c.outing, c.presence.member)),
            Command::RequestCorrection(c) => self.corrections.push(c.correction),
            Command::AnswerCorrection(c) => {
                self.answered.insert(c.correction);
            }
            Command::CheckOut(c) => {
                self.left.insert((c.outing, c.presence.member));
                self.verified.remove(&c.outing);
            }
            Command::RevokeCertificate(c) => {
                self.revoked.insert(c.certificate);
            }
            Command::PublishBoard(c) => self.boards.push(c.published().board),
            Command::NominateRecognition(c) => self.recognitions.push(c.recognition),
            Command::RaiseObjection(c) => *self.objections.entry(c.recognition).or_default() += 1,
            Command::DecideRecognition(c) => {
                self.decided.insert(c.recognition);
            }
            Command::RevokeRecognition(c) => {
                self.revoked_recognitions.insert(c.recognition);
            }
            Command::RenameUnit(_)
            | Command::AmendCommitment(_)
            | Command::CommentOnSummary(_)
            | Command::MoveUnit(_)
            | Command::ReclassifyUnit(_)
            | Command::CorrectPersonalData(_)
            | Command::SetPublicCard(_)
            | Command::CastBallot(_)
            | Command::ReviewAsLeader(_)
            | Command::AnswerObjection(_)
            | Command::RecordEvaluation(_) => {}
        }
    }

    /// The history reached what the properties claim to test: every kind of command
    /// accepted at least once, and at least half of all commands accepted (about four
    /// in five are, the rest are refused as the domain's rules say).
    fn assert_reach(&self, seed: u64) {
        for &(kind, _) in MIX {
            assert!(self.accepted.get(&kind).is_some_and(|n| *n > 0), "seed {seed}: no {kind:?} accepted");
        }
        let accepted: usize = self.accepted.values().sum();
        let refused: usize = self.refused.values().sum();
        assert!(
            accepted >= refused,
            "seed {seed}: {accepted} commands accepted, {refused} refused; accepted {:?}, refused {:?}",
            self.accepted,
            self.refused
        );
    }
}

/// Sends a random history of `steps` commands after a few fixed units and members: the
/// opening round, one careful command of every kind, then commands drawn from [`MIX`].
/// Every command the domain refuses must be a domain refusal. Returns what it made.
async fn random_history(w: &World, rng: &mut Rng, steps: usize, mut after_each: impl AsyncFnMut(usize)) -> History {
    let mut history = History::default();
    for i in 0..3 {
        let unit = w.unit(&format!("单位{i}"), if i == 0 { "医院" } else { "税务" }, REGIONS[i % 2]).await;
        history.units.push(unit);
    }
    for i in 0..9 {
        let unit = history.units[i % 3];
        let member = w.member(unit, date!(2011 - 01 - 01), None).await;
        history.members.push(member);
        history.home.insert(member, (unit, date!(2011 - 01 - 01)));
        if i % 3 != 2 {
            // Two in three members check in; the rest are served by their clerks.
            w.try_run(Command::SetCheckInPin(SetCheckInPin { member, pin: PIN })).await.unwrap();
            history.pinned.push(member);
        }
    }
    for step in 0..steps {
        let opening = MIX.get(step).map(|(kind, _)| *kind);
        let careful = opening.is_some();
        let kind = opening.unwrap_or_else(|| draw(rng));
        let cmd = match kind {
            Kind::IssueCertificate => history.certificate(w, rng, careful).await,
            Kind::PublishBoard => history.board(w, rng, careful).await,
            Kind::DecideRecognition => history.decision(w, rng, careful).await,
            _ => history.command(rng, kind, step, careful),
        };
        match w.try_run(cmd.clone()).await {
            Ok(_) => history.accepted(&cmd),
            Err(AppError::Domain(_)) if !careful => *history.refused.entry(kind).or_default() += 1,
            Err(e) => panic!("step {step} ({kind:?}{}): {e}", if careful { ", opening round" } else { "" }),
        }
        after_each(step).await;
    }
    history
}

/// The seeds of a property: `TAIZHANG_PROPERTY_SEED`, or four from the clock. Printed,
/// so that a failure can be replayed.
fn seeds(property: &str) -> Vec<u64> {
    let seeds = match std::env::var("TAIZHANG_PROPERTY_SEED") {
        Ok(s) => vec![s.parse().expect("TAIZHANG_PROPERTY_SEED is a number")],
        Err(_) => {
            let base = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
            (0..4).map(|i| (base.wrapping_add(i * 7919)) | 1).collect()
        }
    };
    println!("{property}: seeds {seeds:?} (TAIZHANG_PROPERTY_SEED=<seed> replays one)");
    seeds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_projection_resumed_from_a_checkpoint_equals_a_rebuild() {
    for seed in seeds("live projection resumed from a checkpoint") {
        let w = World::new().await;
        let path = w.path("read-model.ckpt");
        let mut rng = Rng::new(seed);
        let store = w.store().clone();
        let mut projector = Projector::open(store.clone(), Some(path.clone())).await.unwrap();
        let mut runner = tokio::spawn(projector.clone().run());
        let mut resumed_from = 0;
        let history = random_history(&w, &mut rng, 120, async |step| {
            // Read-your-writes after every command.
            projector.wait_for(store.head(), Duration::from_secs(5)).await.unwrap();
            if step == 60 {
                projector.save_checkpoint().unwrap();
                resumed_from = projector.position();
                runner.abort();
                projector = Projector::open(store.clone(), Some(path.clone())).await.unwrap();
                runner = tokio::spawn(projector.clone().run());
            }
        })
        .await;
        history.assert_reach(seed);
        projector.wait_for(store.head(), Duration::from_secs(5)).await.unwrap();
        assert!(resumed_from > 0, "seed {seed}");

        // The resumed live model equals one built from scratch, part by part.
        let mut scratch = ReadModel::default();
        catch_up(&store, &mut scratch, store.head()).await.unwrap();
        assert_eq!(projector.read(digests), digests(&scratch), "seed {seed}");
        let rebuilt = projector.rebuild().await.unwrap();
        assert!(rebuilt.matches(), "seed {seed}: {rebuilt:?}");
        runner.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_kept_at_the_head_equals_the_board_assessed_whole() {
    let set = PolicySet::built_in();
    let policies = ["ten-star-unit-default", "ten-star-named-default"].map(|name| set.get(name).unwrap());
    let half = HalfYear { year: 2011, half: 1 };
    let seeds = seeds("board kept at the head");
    let mut rated = 0;
    for &seed in &seeds {
        let w = World::new().await;
        let mut rng = Rng::new(seed);
        let store = w.store().clone();
        let projector = Projector::open(store.clone(), None).await.unwrap();
        let runner = tokio::spawn(projector.clone().run());
        let kept = KeptBoards::default();
        // The page of the kept board, completed, and the same entries of the whole board.
        let both = |policy, as_of: &AsOf, offset, first| {
            let (as_of, total, page) =
                kept.page(&projector, policy, &Scope::All, half, as_of, offset, first, &|| false).unwrap();
            let mut entries = page.entries;
            projector.read(|m| complete_page(m, policy, &mut entries, half, &as_of)).unwrap();
            let whole = projector.read(|m| star_board(m, policy, &Scope::All, half, &as_of)).unwrap();
            let expected = StarBoard {
                entries: whole.entries.iter().skip(offset).take(first).cloned().collect(),
                ..whole.clone()
            };
            (StarBoard { entries, ..page }, total, expected, whole.entries.len())
        };
        let history = random_history(&w, &mut rng, 300, async |step| {
            projector.wait_for(store.head(), Duration::from_secs(5)).await.unwrap();
            for policy in policies {
                // The whole board, and a page of two from the third entry.
                for (offset, first) in [(0, usize::MAX), (2, 2)] {
                    let (page, total, expected, listed) = both(policy, &AsOf::now(), offset, first);
                    assert_eq!(page, expected, "seed {seed}, step {step}: {} from {offset}", policy.name);
                    assert_eq!(total, listed, "seed {seed}, step {step}");
                    rated += page.entries.iter().filter(|e| e.stars > 0).count();
                }
            }
        })
        .await;
        history.assert_reach(seed);
        // As of a position before the head, the board is assessed whole, kept boards
        // or not.
        let halfway = AsOf::at_position(store.head() / 2);
        for policy in policies {
            let (page, _, expected, _) = both(policy, &halfway, 0, usize::MAX);
            assert_eq!(page, expected, "seed {seed}: {} halfway", policy.name);
        }
        runner.abort();
    }
    // The histories together give stars (a replay of one seed checks the equalities
    // only).
    if seeds.len() > 1 {
        assert!(rated > 0, "seeds {seeds:?}: no board gave anyone a star");
    }
}

#[tokio::test]
async fn report_totals_equal_a_naive_recomputation_from_the_raw_events() {
    let mut seeds = seeds("report totals");
    let mut reached = [0u64; 11];
    let mut superseded = 0;
    let mut reached_credit = 0;
    let mut rated_units = 0;
    let mut reproduced_boards = 0;
    let mut accepted_from_board = 0;
    // What the histories so far left unreached, of the round reports' counts.
    let mut missing: Vec<&str> = Vec::new();
    let mut next = 0;
    while let Some(&seed) = seeds.get(next) {
        next += 1;
        let w = World::new().await;
        let mut rng = Rng::new(seed);
        let history = random_history(&w, &mut rng, 400, async |_| {}).await;
        history.assert_reach(seed);
        // Naive: fold the raw events written, with nothing from the read crate. A
        // participation is credit when it is what the member's check-out recorded.
        #[derive(Default)]
        struct Naive {
            unit: Option<UnitId>,
            date: Option<time::Date>,
            participants: Vec<Participation>,
            checked_out: BTreeMap<MemberId, Participation>,
            voided: bool,
            verified: bool,
        }
        let mut outings: BTreeMap<OutingId, Naive> = BTreeMap::new();
        for e in w.store().read_all(1, usize::MAX).await.unwrap() {
            match e.payload {
                DomainEvent::OutingRegistered(r) => {
                    let o = outings.entry(r.outing).or_default();
                    (o.unit, o.date, o.participants) = (Some(r.unit), Some(r.details.date), r.participants);
                }
                DomainEvent::OutingAmended(a) => {
                    let o = outings.get_mut(&a.outing).unwrap();
                    (o.date, o.participants, o.verified) = (Some(a.details.date), a.participants, false);
                }
                DomainEvent::MemberCheckedOut(c) => {
                    let o = outings.get_mut(&c.outing).unwrap();
                    if let Some(p) = c.participation {
                        o.participants.retain(|q| q.member != c.member);
                        o.participants.push(p);
                        o.checked_out.insert(c.member, p);
                        o.verified = false;
                    }
                }
                DomainEvent::OutingVoided(v) => outings.get_mut(&v.outing).unwrap().voided = true,
                DomainEvent::OutingVerified(v) => outings.get_mut(&v.outing).unwrap().verified = true,
                _ => {}
            }
        }
        let mut naive: BTreeMap<String, (u64, u64, u64, u64)> =
            history.units.iter().map(|u| (u.to_string(), (0, 0, 0, 0))).collect();
        let mut credited = 0;
        for o in outings.values() {
            let date = o.date.unwrap();
            if !o.voided && june().contains(date) {
                let minutes: u64 = o.participants.iter().map(|p| p.minutes.get() as u64).sum();
                let credit: u64 = o
                    .participants
                    .iter()
                    .filter(|p| o.checked_out.get(&p.member) == Some(*p))
                    .map(|p| p.minutes.get() as u64)
                    .sum();
                let row = naive.get_mut(&o.unit.unwrap().to_string()).unwrap();
                row.0 += 1;
                row.1 += minutes;
                row.2 += if o.verified { minutes } else { 0 };
                row.3 += credit;
                credited += credit;
            }
        }
        reached_credit += credited;
        let model = w.model().await;
        let events = w.store().read_all(1, usize::MAX).await.unwrap();
        accepted_from_board +=
            events.iter().filter(|e| matches!(&e.payload, DomainEvent::OpinionReviewed(r) if r.accepted)).count();
        rated_units += assert_unit_board_equals_a_naive_rating(&events, &model, seed);
        reproduced_boards += assert_published_boards_reproduce(&model, seed);
        let counted = assert_round_reports_equal_a_naive_recount(events, &model, seed);
        reached.iter_mut().zip(counted).for_each(|(sum, count)| *sum += count);
        let query = ReportQuery {
            period: june(),
            scope: Scope::All,
            group_by: GroupBy::Unit,
            bucket: Bucket::Period,
            as_of: AsOf::now(),
        };
        let computed: BTreeMap<String, (u64, u64, u64, u64)> = report(&model, &query)
            .rows
            .into_iter()
            .map(|r| (r.group, (r.outings, r.recorded_minutes, r.verified_minutes, r.credit_minutes)))
            .collect();
        assert_eq!(computed, naive, "seed {seed}");
        superseded += assert_certificates_reproduce_and_supersede(&model, seed);
        missing = [
            (superseded, "no certificate was superseded"),
            (rated_units, "no unit was given a star"),
            (reproduced_boards, "no published board was changed by later corrections"),
            (reached_credit as usize, "no credit hours in June"),
            (accepted_from_board, "no opinion left on the board was accepted"),
            (reached[0] as usize, "no round counted due"),
            (reached[1] as usize, "no round counted assessed"),
            (reached[5] as usize, "no round counted new"),
            (reached[6] as usize, "no round counted renewals"),
            (reached[7] as usize, "no round counted opinions"),
        ]
        .into_iter()
        .filter_map(|(count, why)| (count == 0).then_some(why))
        .collect();
        // About three histories in ten give no credit hours in June (no check-out
        // recorded there), so four clock seeds missed them all about once in a hundred
        // runs: while a reach is missing, one more seed, up to sixteen. Every history's
        // equalities are checked all the same.
        if next == seeds.len() && seeds.len() > 1 && seeds.len() < 16 && !missing.is_empty() {
            let more = (seed.wrapping_add(7919)) | 1;
            println!("report totals: one more seed, {more}, for the reach");
            seeds.push(more);
        }
    }
    // The histories together reach every count of the round reports (a replay of one
    // seed checks the equalities only).
    if seeds.len() > 1 {
        assert!(missing.is_empty(), "seeds {seeds:?}: {missing:?}; rounds counted {reached:?}");
    }
}

/// Each certificate's lines read again as of the position it records give its digest
/// (a reviewer can reproduce it), and it is superseded exactly when one of its lines
/// changed since (a line put back as it was does not make it valid again).
/// Returns how many were superseded.
/// Every published board computed again as of its position, under the policy it
/// recorded, is the board published (its digest), whatever was corrected after it; and
/// every decided recognition's evidence is given again by its board. Returns the boards
/// the later history changed.
fn assert_published_boards_reproduce(model: &ReadModel, seed: u64) -> usize {
    for record in model.boards.values() {
        let published = &record.published;
        let (policy, board) = recognitions::board_at(model, published, &AsOf::at_position(published.as_of)).unwrap();
        assert_eq!(recognitions::policy_document(&policy).1, published.policy_digest.as_str(), "seed {seed}");
        assert_eq!(recognitions::board_digest(&board), published.digest.as_str(), "seed {seed}: {}", published.board);
        assert_eq!(board.entries.len(), published.entries as usize, "seed {seed}");
    }
    for check in recognitions::check_recognitions(model, &AsOf::now()).unwrap() {
        assert!(check.reproduced, "seed {seed}: the evidence of {} is not given again", check.recognition);
    }
    // Those the later history changed: the board as the log stands now differs.
    let now =
        |b: &BoardPublished| recognitions::board_digest(&recognitions::board_at(model, b, &AsOf::now()).unwrap().1);
    model.boards.values().filter(|b| now(&b.published) != b.published.digest.as_str()).count()
}

fn assert_certificates_reproduce_and_supersede(model: &ReadModel, seed: u64) -> usize {
    for record in model.certificates.values() {
        let issued = &record.issued;
        let period = Period::new(issued.first, issued.last).unwrap();
        let again = certificates::lines(model, issued.member, issued.unit, period, issued.as_of);
        assert_eq!(certificates::digest(&again), issued.digest.as_str(), "seed {seed}: {}", issued.number);
        assert_eq!(again, issued.lines, "seed {seed}");
        let changed = !certificates::changed_lines(model, issued, model.position).is_empty();
        if changed {
            assert!(record.superseded.is_some(), "seed {seed}: {} changed but not superseded", issued.number);
        }
        if let Some((at, outing)) = record.superseded {
            assert!(at > record.position && issued.lines.iter().any(|l| l.outing == outing), "seed {seed}");
            let before = certificates::changed_lines(model, issued, at - 1);
            assert!(before.is_empty() && !certificates::changed_lines(model, issued, at).is_empty(), "seed {seed}");
        }
    }
    model.certificates.values().filter(|c| c.superseded.is_some()).count()
}

/// The ten-star board of units (`ten-star-unit-default`, 2011H1, every unit) equals
/// the policy written out plainly over the raw events: satisfaction from the ballots
/// (100, 70, 30 points, "don't know" left out), the latest leaders' review, 60/40
/// weights, a star per band of 5 from 50, at most two below 60 % satisfaction, none
/// with ten 不满意 ballots, and at most a tenth of the board at ten stars. And a board
/// as of a position halfway is the board of the log cut there, whatever came after.
/// Returns the units the history rated.
fn assert_unit_board_equals_a_naive_rating(
    events: &[taizhang_store::RecordedEvent],
    model: &ReadModel,
    seed: u64,
) -> usize {
    let mut units: Vec<UnitId> = Vec::new();
    let mut evaluations: BTreeSet<EvaluationId> = BTreeSet::new();
    // Per unit: satisfied, fairly satisfied, dissatisfied ballots, and the latest review.
    let mut ballots: BTreeMap<UnitId, [i128; 3]> = BTreeMap::new();
    let mut reviews: BTreeMap<UnitId, i128> = BTreeMap::new();
    for e in events {
        match &e.payload {
            DomainEvent::UnitRegistered(u) => units.push(u.unit),
            DomainEvent::EvaluationOpened(o) if o.subject == EvaluationSubject::Units => {
                evaluations.insert(o.evaluation);
            }
            DomainEvent::BallotCast(b) if evaluations.contains(&b.evaluation) => {
                let Rated::Unit(unit) = b.rated else { continue };
                let counts = ballots.entry(unit).or_default();
                match b.rating {
                    Some(Rating::Satisfied) => counts[0] += 1,
                    Some(Rating::FairlySatisfied) => counts[1] += 1,
                    Some(Rating::Dissatisfied) => counts[2] += 1,
                    None => {}
                }
            }
            DomainEvent::LeaderReviewed(r) if evaluations.contains(&r.evaluation) => {
                let Rated::Unit(unit) = r.rated else { continue };
                reviews.insert(unit, i128::from(r.score.get()));
            }
            _ => {}
        }
    }
    // Stars by the bands, capped and vetoed; in hundredths of points, exactly: the
    // weighted score is (60 × points / rated + 40 × review) / 100.
    let naive = |unit: &UnitId| -> usize {
        let [s, f, d] = ballots.get(unit).copied().unwrap_or_default();
        let (Some(review), true) = (reviews.get(unit), s + f + d > 0) else { return 0 };
        let (points, rated) = (100 * s + 70 * f + 30 * d, s + f + d);
        // weighted ≥ band  ⇔  60 × points + 40 × review × rated ≥ band × 100 × rated
        let weighted_times = 60 * points + 40 * review * rated;
        let mut stars = (0..10).filter(|i| weighted_times >= (50 + 5 * i) * 100 * rated).count();
        if points < 60 * rated {
            stars = stars.min(2);
        }
        if d >= 10 {
            stars = 0;
        }
        stars
    };
    let set = PolicySet::built_in();
    let policy = set.get("ten-star-unit-default").unwrap();
    let half = HalfYear { year: 2011, half: 1 };
    let board = star_board(model, policy, &Scope::All, half, &AsOf::now()).unwrap();
    assert_eq!(board.entries.len(), units.len(), "seed {seed}: every unit is on the board");
    let top = units.iter().filter(|u| naive(u) == 10).count();
    let held = top.saturating_sub(units.len() / 10);
    for entry in &board.entries {
        let Candidate::Unit(unit) = entry.eligibility.candidate else { panic!("a unit board lists units") };
        let expected = naive(&unit);
        if entry.held_by_quota {
            assert_eq!((expected, entry.stars), (10, 9), "seed {seed}: unit {unit} held by the quota");
        } else {
            assert_eq!(entry.stars, expected, "seed {seed}: unit {unit}");
        }
        assert_eq!(entry.previous_stars, 0, "seed {seed}: nothing was rated in 2010H2");
    }
    assert_eq!(board.entries.iter().filter(|e| e.held_by_quota).count(), held, "seed {seed}");
    assert!(board.entries.windows(2).all(|w| w[0].stars >= w[1].stars && w[0].rank <= w[1].rank), "seed {seed}");

    // Assessed for the stars only, as a server assesses all but the page it shows, a
    // board (of units, and of members) ranks exactly as assessed whole; each entry,
    // once its page is completed, is what the whole assessment gave.
    for name in ["ten-star-unit-default", "ten-star-named-default"] {
        let policy = set.get(name).unwrap();
        let now = AsOf::now();
        let candidates = board_candidates(model, policy, &Scope::All, half, &now);
        let ranked =
            |detail| rank_board(policy, half, board_part(model, policy, &candidates, half, &now, detail).unwrap());
        let (whole, mut lean) = (ranked(Detail::Explained), ranked(Detail::StarsOnly));
        assert!(lean.entries.iter().all(|e| e.eligibility.levels.is_empty()), "seed {seed}: {name} stars only");
        complete_page(model, policy, &mut lean.entries, half, &now).unwrap();
        lean.entries.iter_mut().for_each(|e| e.previous_stars = 0);
        assert_eq!(lean, whole, "seed {seed}: {name}");
    }

    // Published halfway, reproduced exactly after everything that came later.
    let halfway = events.len() / 2;
    let mut cut = ReadModel::default();
    events[..halfway].iter().for_each(|e| cut.apply(e));
    let then = star_board(model, policy, &Scope::All, half, &AsOf::at_position(cut.position)).unwrap();
    assert_eq!(then, star_board(&cut, policy, &Scope::All, half, &AsOf::now()).unwrap(), "seed {seed}");
    board.entries.iter().filter(|e| e.stars > 0).count()
}

/// Every round's report by unit, against counts folded here from the raw events with
/// the report's definitions written out plainly: an item is due in a round when made
/// before it opened, standing, with a term that meets the round's period; assessed
/// when its latest finding came after the opening; new when made while the round was
/// open; opinions counted by rating, those left on the notice board once accepted.
/// Returns the counts summed over every round and unit, to show what the history reached.
fn assert_round_reports_equal_a_naive_recount(
    events: Vec<taizhang_store::RecordedEvent>,
    model: &ReadModel,
    seed: u64,
) -> [u64; 11] {
    struct Item {
        made: u64,
        unit: UnitId,
        renewal: bool,
        from: Date,
        until: Date,
        withdrawn: bool,
        finding: Option<(u64, Fulfilment)>,
    }
    let mut units: BTreeMap<UnitId, (String, String, String)> = BTreeMap::new();
    let mut items: BTreeMap<CommitmentId, Item> = BTreeMap::new();
    let mut rounds: BTreeMap<RoundId, (u64, Option<u64>, Date, Date, RoundScope)> = BTreeMap::new();
    let mut opinions: Vec<(RoundId, UnitId, Option<Rating>)> = Vec::new();
    let mut held: BTreeMap<OpinionId, (RoundId, UnitId, Option<Rating>)> = BTreeMap::new();
    for e in events {
        let at = e.position;
        match e.payload {
            DomainEvent::UnitRegistered(u) => {
                units.insert(u.unit, (u.name.to_string(), u.region.to_string(), u.industry.to_string()));
            }
            DomainEvent::UnitRenamed(u) => units.get_mut(&u.unit).unwrap().0 = u.name.to_string(),
            DomainEvent::UnitMoved(u) => units.get_mut(&u.unit).unwrap().1 = u.region.to_string(),
            DomainEvent::UnitReclassified(u) => units.get_mut(&u.unit).unwrap().2 = u.industry.to_string(),
            DomainEvent::CommitmentMade(c) => {
                let (from, until) = (c.content.from, c.content.until);
                let renewal = !c.renews.is_empty();
                let item = Item { made: at, unit: c.unit, renewal, from, until, withdrawn: false, finding: None };
                items.insert(c.commitment, item);
            }
            DomainEvent::CommitmentAmended(c) => {
                let item = items.get_mut(&c.commitment).unwrap();
                (item.from, item.until) = (c.content.from, c.content.until);
            }
            DomainEvent::CommitmentWithdrawn(c) => items.get_mut(&c.commitment).unwrap().withdrawn = true,
            DomainEvent::CommitmentAssessed(c) => {
                items.get_mut(&c.commitment).unwrap().finding = Some((at, c.fulfilment))
            }
            DomainEvent::RoundOpened(r) => {
                rounds.insert(r.round, (at, None, r.first, r.last, r.scope));
            }
            DomainEvent::RoundClosed(r) => rounds.get_mut(&r.round).unwrap().1 = Some(at),
            DomainEvent::OpinionRecorded(o) => opinions.push((o.round, o.unit, o.rating)),
            DomainEvent::OpinionSubmitted(o) => {
                held.insert(o.opinion, (o.round, o.unit, o.rating));
            }
            DomainEvent::OpinionReviewed(r) if r.accepted => opinions.push(held[&r.opinion]),
            _ => {}
        }
    }
    assert!(!rounds.is_empty(), "seed {seed}: the history opened rounds");
    let mut reached = [0u64; 11];
    for (id, (opened, closed, first, last, scope)) in &rounds {
        let covered = |u: &UnitId| {
            let (_, region, industry) = &units[u];
            match scope {
                RoundScope::All => true,
                RoundScope::Region(r) => r.as_str() == region,
                RoundScope::Industry(i) => i.as_str() == industry,
                RoundScope::Units(list) => list.contains(u),
            }
        };
        // (due, assessed, kept, partly, not kept, new, renewals, opinions, satisfied, fairly, dissatisfied)
        let mut naive: BTreeMap<String, [u64; 11]> =
            units.keys().filter(|u| covered(u)).map(|u| (u.to_string(), [0; 11])).collect();
        for item in items.values().filter(|i| covered(&i.unit) && !i.withdrawn) {
            let row = naive.get_mut(&item.unit.to_string()).unwrap();
            if item.made < *opened && item.from <= *last && item.until >= *first {
                row[0] += 1;
                if let Some((_, fulfilment)) = item.finding.filter(|(at, _)| at > opened) {
                    row[1] += 1;
                    row[2 + fulfilment as usize] += 1;
                }
            } else if item.made > *opened && closed.is_none_or(|c| item.made < c) {
                row[5] += 1;
                row[6] += u64::from(item.renewal);
            }
        }
        for (_, unit, rating) in opinions.iter().filter(|(round, _, _)| round == id) {
            // A unit moved out of a region's round since takes its opinions with it.
            let Some(row) = naive.get_mut(&unit.to_string()) else { continue };
            row[7] += 1;
            if let Some(rating) = rating {
                row[8 + *rating as usize] += 1;
            }
        }
        let report = look_back::round_report(model, *id, GroupBy::Unit, model.position).unwrap();
        let computed: BTreeMap<String, [u64; 11]> = report
            .rows
            .iter()
            .map(|r| {
                let t = &r.tally;
                let counts = [
                    t.due,
                    t.assessed,
                    t.kept,
                    t.partly_kept,
                    t.not_kept,
                    t.new_items,
                    t.renewals,
                    t.opinions,
                    t.satisfied,
                    t.fairly_satisfied,
                    t.dissatisfied,
                ];
                (r.group.clone(), counts)
            })
            .collect();
        assert_eq!(computed, naive, "seed {seed}, round {id}");
        let total: u64 = naive.values().map(|row| row[0]).sum();
        assert_eq!(report.total.tally.due, total, "seed {seed}");
        for row in naive.values() {
            reached.iter_mut().zip(row).for_each(|(sum, count)| *sum += count);
        }
    }
    reached
}

#[tokio::test]
async fn reads_as_of_a_position_equal_reads_of_the_log_truncated_there() {
    let policies = PolicySet::built_in();
    for seed in seeds("reads as of a position") {
        let w = World::new().await;
        let mut rng = Rng::new(seed);
        let history = random_history(&w, &mut rng, 100, async |_| {}).await;
        history.assert_reach(seed);
        let full = w.model().await;
        let records = w.store().read_raw(1, usize::MAX).await.unwrap();
        for _ in 0..3 {
            let p = 1 + rng.below(records.len()) as u64;
            let dir = tempfile::tempdir().unwrap();
            let truncated_store = Arc::new(SledStore::open(dir.path()).unwrap());
            truncated_store.restore_raw(records[..p as usize].to_vec()).await.unwrap();
            let mut truncated = ReadModel::default();
            catch_up(&truncated_store, &mut truncated, p).await.unwrap();

            let then = AsOf::at_position(p);
            let now = AsOf::now();
            let page = PageRequest { offset: 0, limit: 1000 };
            for u in &history.units {
                assert_eq!(
                    unit_ledger(&full, *u, &then, page),
                    unit_ledger(&truncated, *u, &now, page),
                    "seed {seed} p {p}"
                );
            }
            let star = policies.get("star-volunteer").unwrap();
            let none = |_: MemberId| None;
            for m in &history.members {
                assert_eq!(
                    member_ledger(&full, *m, &then, page),
                    member_ledger(&truncated, *m, &now, page),
                    "seed {seed} p {p}"
                );
                // Whole answers, refusals included: a refusal must be the same one.
                assert_eq!(
                    eligibility(&full, star, Candidate::Member(*m), june(), &then, &none),
                    eligibility(&truncated, star, Candidate::Member(*m), june(), &now, &none),
                    "seed {seed} p {p}"
                );
            }
            for group_by in [GroupBy::Unit, GroupBy::Region, GroupBy::Industry] {
                let q =
                    |as_of| ReportQuery { period: june(), scope: Scope::All, group_by, bucket: Bucket::Week, as_of };
                assert_eq!(report(&full, &q(then)), report(&truncated, &q(now)), "seed {seed} p {p}");
            }
            for round in &history.rounds {
                assert_eq!(
                    look_back::round_report(&full, *round, GroupBy::Region, p),
                    look_back::round_report(&truncated, *round, GroupBy::Region, p),
                    "seed {seed} p {p}"
                );
            }
        }
    }
}
