//! The sample campaign: Shiyan's June 2011 Party-member service month (十堰市窗口单位和
//! 服务行业创先争优), generated from a seed and applied through the same command path
//! as any client. Units across the city's districts and counties and its service
//! industries, about ten members each with sealed personal data (about three in ten
//! shown on the notice board with their consent and post), about four outings a
//! unit with several participants, corrections, voidings, verifications and half-year
//! evaluations (一诺双评); and the commitment loop: every unit's public commitments for
//! the half-year (some of its members' too), a look-back round over the city in the
//! service month with the public's opinions (a few callers leaving their name and
//! phone), most units' items assessed — mostly kept, some partly, a few not — and the
//! items not kept carried on by new ones (再承诺), and weekly summaries of June's weeks
//! from most units, some weeks missing.
//!
//! The campaign is a simulated history: every command carries the moment it was
//! recorded (units and members registered in the last week of May, outings a day or two
//! after they happen, some registered late, after the month; corrections and
//! verifications days later; evaluations at the half-year's end), and the commands are
//! applied in that order, in batches. The same seed and scale therefore give the same
//! log, byte for byte, on a fresh store: the same commands, ids, recorded-at times and
//! order, and personal data sealed under member keys derived from the seed (the people
//! are invented; whoever knows the seed can open their data). Loading it again writes
//! nothing.

use std::sync::Arc;

use taizhang_core::*;
use time::macros::date;
use time::Date;
use uuid::Uuid;

use crate::{AppError, CommandContext, Ledger};
use taizhang_store::EventStore;

/// Units at scale 1: "全市5800多个窗口单位和服务行业".
pub const UNITS_AT_SCALE_1: f64 = 5_800.0;

/// The 2011 districts and counties of Shiyan (郧县 became 郧阳区 in 2014).
const REGIONS: [&str; 9] = ["茅箭区", "张湾区", "郧县", "丹江口市", "郧西县", "竹山县", "竹溪县", "房县", "武当山特区"];

/// Industries with the kind of service window each runs.
const INDUSTRIES: [(&str, &str); 10] = [
    ("医疗卫生", "人民医院门诊部"),
    ("民政", "民政局婚姻登记处"),
    ("税务", "地税局办税服务厅"),
    ("通信", "移动公司营业厅"),
    ("档案", "档案馆查阅大厅"),
    ("便民服务", "行政服务中心"),
    ("电力", "供电公司营业所"),
    ("公交", "公交公司调度站"),
    ("金融", "农村商业银行网点"),
    ("供水", "自来水公司营业厅"),
];

/// Posts (岗位) members are shown with on the notice board.
const POSTS: [&str; 6] = ["窗口受理员", "首问负责人", "值班长", "咨询导办员", "业务骨干", "党员先锋岗"];

const SURNAMES: [&str; 24] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马",
    "罗", "梁", "宋", "郑", "谢",
];
const GIVEN: [&str; 30] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞",
    "平", "刚", "桂英", "建华", "志强", "红梅", "海燕", "德明", "玉兰", "国庆", "春生",
];
const PLACES: [&str; 12] = [
    "武当路社区",
    "五堰街道",
    "人民广场",
    "车城路小学",
    "火车站广场",
    "汉江路社区",
    "花果街道",
    "红卫街道",
    "三堰社区",
    "茅箭区敬老院",
    "柳林村",
    "黄龙镇集镇",
];
const CATEGORIES: [&str; 8] =
    ["义诊", "政策宣传", "便民服务", "环境整治", "帮扶慰问", "法律咨询", "文明劝导", "志愿献血"];

/// A small deterministic generator (SplitMix64): the demo must not depend on a
/// random-number crate's algorithm choices across versions.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A UUIDv7-shaped id: the service month's first day as its time, the rest seeded.
    fn id(&mut self) -> Uuid {
        const JUNE_2011_MS: u64 = 1_306_857_600_000;
        let mut bytes = [0u8; 10];
        bytes[..8].copy_from_slice(&self.next().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next().to_le_bytes()[..2]);
        uuid::Builder::from_unix_timestamp_millis(JUNE_2011_MS, &bytes).into_uuid()
    }
}

fn text(s: &str) -> Text {
    Text::parse("demo", s).expect("demo texts are valid")
}

/// One command of the campaign and when it is recorded.
#[derive(Clone, PartialEq, Debug)]
pub struct Planned {
    pub command_id: Uuid,
    pub recorded_at: Timestamp,
    pub command: Command,
}

/// The commands of the demo in the order they are recorded; each depends only on
/// earlier ones.
pub struct Plan {
    pub commands: Vec<Planned>,
    pub seed: u64,
}

/// Kinds of command in dependency order: the tie-break between equal recorded-at times.
const UNIT: u8 = 0;
const MEMBER: u8 = 1;
const EVALUATION: u8 = 2;
const OUTING: u8 = 3;
const FOLLOW_UP: u8 = 4;
const COMMITMENT: u8 = 5;
const ROUND: u8 = 6;
const LOOK_BACK: u8 = 7;
const SUMMARY: u8 = 8;

/// What units promise, by category (the campaign's 公开承诺 lists).
const PROMISES: [(&str, &str, Option<&str>); 8] = [
    ("办结时限", "即办件当场办结，承诺件按时办结", Some("承诺件 ≤ 3 个工作日")),
    ("服务标准", "首问负责、一次告知、微笑服务", None),
    ("办事程序", "办事流程、所需材料上墙公示", None),
    ("收费标准", "收费项目和标准公开，不乱收费", None),
    ("便民措施", "午间和周末延时服务，预约上门", Some("每周延时服务 ≥ 2 次")),
    ("廉洁自律", "不吃拿卡要，不收受群众财物", None),
    ("服务内容", "设立党员示范岗和便民服务台", None),
    ("岗位承诺", "窗口不空岗，离岗有人替", None),
];

/// What the public said (群众意见), with how satisfied they were.
const OPINIONS: [(&str, Option<Rating>); 6] = [
    ("办事很快，态度热情", Some(Rating::Satisfied)),
    ("材料一次就讲清楚了，没有来回跑", Some(Rating::Satisfied)),
    ("中午也能办，方便上班族", Some(Rating::Satisfied)),
    ("排队时间还是有点长", Some(Rating::FairlySatisfied)),
    ("窗口人员中午有时不在岗", Some(Rating::Dissatisfied)),
    ("建议增加网上预约", None),
];

const CHANNELS: [Channel; 5] =
    [Channel::NoticeBoard, Channel::Web, Channel::Telephone, Channel::ForumMeeting, Channel::SupervisorVisit];

/// Units that looked back within the round (%); the others have not yet.
const LOOKED_BACK_PERCENT: u64 = 85;
/// Units that missed a given week's summary (%).
const SUMMARY_MISSED_PERCENT: u64 = 12;

/// Share of outings registered late, 2 to 4 weeks after they took place (%).
const LATE_PERCENT: u64 = 6;

/// A moment `minutes` after midnight (China time) of `day`.
fn moment(day: Date, minutes: u64) -> Timestamp {
    Timestamp::of_service(day, ClockTime::from_minutes(0).expect("midnight")).plus_minutes(minutes as i64)
}

const MINUTES_A_DAY: u64 = 24 * 60;

/// The demo at `scale` (1.0 = the whole city) from `seed`.
pub fn plan(scale: f64, seed: u64) -> Plan {
    let mut rng = Seeded(seed);
    let units = ((UNITS_AT_SCALE_1 * scale).round() as usize).max(1);
    let mut commands: Vec<(Timestamp, u8, Planned)> = Vec::new();
    let mut push = |recorded_at: Timestamp, kind: u8, command_id: Uuid, command: Command| {
        commands.push((recorded_at, kind, Planned { command_id, recorded_at, command }));
    };
    for u in 0..units {
        // Every record by a code of the city's own registry, as clerks keep them:
        // SY-0001, its members SY-0001-01…, its outings SY-0001-H1…
        let unit_code = format!("SY-{:04}", u + 1);
        let unit = UnitId::of_code(&unit_code);
        let region = *rng.pick(&REGIONS);
        let (industry, window) = *rng.pick(&INDUSTRIES);
        // Registered in the week before the service month, in office hours.
        let unit_at =
            moment(date!(2011 - 05 - 20) + time::Duration::days(rng.below(6) as i64), 9 * 60 + rng.below(480));
        push(
            unit_at,
            UNIT,
            rng.id(),
            Command::RegisterUnit(RegisterUnit {
                unit,
                name: text(&format!("{region}{window}（{}号）", u + 1)),
                industry: text(industry),
                region: text(region),
                parent: None,
                code: Some(text(&unit_code)),
            }),
        );
        let member_codes: Vec<String> = (0..8 + rng.below(5)).map(|m| format!("{unit_code}-{:02}", m + 1)).collect();
        let members: Vec<MemberId> = member_codes.iter().map(|c| MemberId::of_code(c)).collect();
        for (member, code) in members.iter().zip(&member_codes) {
            let name = format!("{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN));
            let birth = date!(1960 - 01 - 01) + time::Duration::days(rng.below(30 * 365) as i64);
            let joined = date!(2005 - 01 - 01) + time::Duration::days(rng.below(6 * 365) as i64);
            let phone = format!("13{:09}", rng.below(1_000_000_000));
            let registered_at = unit_at.plus_minutes(30 + rng.below(3 * MINUTES_A_DAY) as i64);
            push(
                registered_at,
                MEMBER,
                rng.id(),
                Command::RegisterMember(RegisterMember {
                    member: *member,
                    unit,
                    joined_on: joined,
                    personal: PersonalData {
                        name: text(&name),
                        national_id: None,
                        phone: Some(phone),
                        birth_date: Some(birth),
                    },
                    code: Some(text(code)),
                }),
            );
            // Some are shown on the notice board, with their consent (亮身份).
            if rng.below(10) < 3 {
                push(
                    registered_at.plus_minutes(60),
                    MEMBER,
                    rng.id(),
                    Command::SetPublicCard(SetPublicCard {
                        member: *member,
                        shown: true,
                        post: Some(text(rng.pick::<&str>(&POSTS))),
                    }),
                );
            }
            if rng.below(10) < 6 {
                let public = 60 + rng.below(41) as i64;
                let leader = 60 + rng.below(41) as i64;
                let evaluated_on = date!(2011 - 06 - 28) + time::Duration::days(rng.below(8) as i64);
                push(
                    moment(evaluated_on, 9 * 60 + rng.below(480)),
                    EVALUATION,
                    rng.id(),
                    Command::RecordEvaluation(RecordEvaluation {
                        member: *member,
                        half_year: HalfYear::containing(date!(2011 - 06 - 30)),
                        public_score: Score::new("demo", public).expect("in range"),
                        leader_score: Score::new("demo", leader).expect("in range"),
                        note: None,
                    }),
                );
            }
        }
        // Each outing of a unit on a day of its own, so no member is double-booked.
        let outings = 3 + rng.below(3) as usize;
        let first_day = rng.below(30 - outings as u64) as i64;
        for k in 0..outings {
            let day: Date = date!(2011 - 06 - 01) + time::Duration::days(first_day + k as i64);
            let start = 8 + rng.below(8) as u16;
            let hours = 2 + rng.below(3) as u16;
            let span = TimeRange::new(
                "demo",
                ClockTime::from_minutes(start * 60).expect("in a day"),
                ClockTime::from_minutes((start + hours) * 60).expect("in a day"),
            )
            .expect("positive");
            let details = OutingDetails {
                date: day,
                span,
                place: text(rng.pick::<&str>(&PLACES)),
                category: text(rng.pick::<&str>(&CATEGORIES)),
                description: None,
                beneficiaries: 20 + rng.below(280) as u32,
            };
            let size = 2 + rng.below(4) as usize;
            let offset = rng.below(members.len() as u64) as usize;
            let participants: Vec<ParticipationInput> = (0..size.min(members.len()))
                .map(|j| ParticipationInput {
                    member: members[(offset + j) % members.len()],
                    span: None,
                    minutes: None,
                })
                .collect();
            let outing_code = format!("{unit_code}-H{}", k + 1);
            let outing = OutingId::of_code(&outing_code);
            // Usually written up within two days of the end; some weeks later.
            let ended = moment(day, u64::from(start + hours) * 60);
            let delay = if rng.below(100) < LATE_PERCENT {
                (14 + rng.below(15)) * MINUTES_A_DAY
            } else {
                30 + rng.below(2 * MINUTES_A_DAY)
            };
            let outing_at = ended.plus_minutes(delay as i64);
            push(
                outing_at,
                OUTING,
                rng.id(),
                Command::RegisterOuting(RegisterOuting {
                    outing,
                    unit,
                    details: details.clone(),
                    participants: participants.clone(),
                    code: Some(text(&outing_code)),
                }),
            );
            // Then what reviewers and clerks do with it: correct, void or verify.
            let fate = rng.below(100);
            let follow_up = if fate < 10 {
                let mut corrected = participants;
                corrected[0].minutes = Minutes::new((hours as u32) * 60 - 30);
                Command::AmendOuting(AmendOuting {
                    outing,
                    details,
                    participants: corrected,
                    reason: text("核对签到表后更正服务时长"),
                    expected_version: Some(0),
                })
            } else if fate < 13 {
                Command::VoidOuting(VoidOuting {
                    outing,
                    reason: text("活动因雨取消，误登记"),
                    expected_version: Some(0),
                })
            } else if fate < 60 {
                Command::VerifyOuting(VerifyOuting {
                    outing,
                    note: Some(text("经社区签字确认")),
                    expected_version: Some(0),
                })
            } else {
                continue;
            };
            push(outing_at.plus_minutes(60 + rng.below(7 * MINUTES_A_DAY) as i64), FOLLOW_UP, rng.id(), follow_up);
        }
    }
    commitment_loop(&mut commands, units, seed);
    evaluations(&mut commands, units, seed);
    commands.sort_by_key(|(at, kind, _)| (*at, *kind));
    Plan { commands: commands.into_iter().map(|(_, _, planned)| planned).collect(), seed }
}

/// The commitment loop of every unit, from a generator of its own (so the units,
/// members and outings are those of the same seed without it): items made when the
/// service month begins, for the first half of 2011; the city's look-back round from 20
/// June to 8 July, with opinions, assessments and renewals; summaries of June's weeks.
fn commitment_loop(commands: &mut Vec<(Timestamp, u8, Planned)>, units: usize, seed: u64) {
    let mut rng = Seeded(seed ^ 0x6c6f_6f6b_6261_636b); // "lookback"
    let mut push = |recorded_at: Timestamp, kind: u8, command_id: Uuid, command: Command| {
        commands.push((recorded_at, kind, Planned { command_id, recorded_at, command }));
    };
    let half_year = HalfYear::containing(date!(2011 - 06 - 30)).period();
    let round = RoundId(rng.id());
    let opened = moment(date!(2011 - 06 - 20), 9 * 60);
    let closed = moment(date!(2011 - 07 - 08), 17 * 60);
    push(
        opened,
        ROUND,
        rng.id(),
        Command::OpenRound(OpenRound {
            round,
            name: text("2011年上半年公开承诺回头看"),
            period: half_year,
            scope: RoundScope::All,
        }),
    );
    push(closed, ROUND, rng.id(), Command::CloseRound(CloseRound { round }));
    for u in 0..units {
        let unit_code = format!("SY-{:04}", u + 1);
        let unit = UnitId::of_code(&unit_code);
        // On the eve of the service month, once every unit and member is registered.
        let made_at = moment(date!(2011 - 05 - 31), 9 * 60 + rng.below(480));
        let first = rng.below(PROMISES.len() as u64) as usize;
        let mut items = Vec::new();
        for k in 0..2 + rng.below(3) as usize {
            let (category, promise, target) = PROMISES[(first + k) % PROMISES.len()];
            let code = format!("{unit_code}-C{}", k + 1);
            let commitment = CommitmentId::of_code(&code);
            // Now and then a member's own promise (the unit's first member).
            let member = (k == 0 && rng.below(3) == 0).then(|| MemberId::of_code(&format!("{unit_code}-01")));
            let content = CommitmentContent {
                category: text(category),
                text: text(promise),
                target: target.map(text),
                from: half_year.first,
                until: half_year.last,
                public: rng.below(10) < 9,
            };
            push(
                made_at.plus_minutes(k as i64),
                COMMITMENT,
                rng.id(),
                Command::MakeCommitment(MakeCommitment {
                    commitment,
                    unit,
                    member,
                    content,
                    renews: vec![],
                    code: Some(text(&code)),
                }),
            );
            items.push((commitment, code, category, promise));
        }
        // The public's opinions in the round, about the unit or one of its items.
        for _ in 0..rng.below(4) {
            let (said, rating) = *rng.pick(&OPINIONS);
            let about = match rng.below(2) {
                0 => OpinionAbout::Unit(unit),
                _ => OpinionAbout::Commitment(rng.pick(&items).0),
            };
            let citizen = (rng.below(10) < 3).then(|| PersonalData {
                name: text(&format!("{}{}", rng.pick(&SURNAMES), if rng.below(2) == 0 { "先生" } else { "女士" })),
                national_id: None,
                phone: Some(format!("13{:09}", rng.below(1_000_000_000))),
                birth_date: None,
            });
            push(
                opened.plus_minutes(60 + rng.below(14 * MINUTES_A_DAY) as i64),
                LOOK_BACK,
                rng.id(),
                Command::RecordOpinion(RecordOpinion {
                    opinion: OpinionId(rng.id()),
                    round,
                    about,
                    text: text(said),
                    rating,
                    channel: *rng.pick(&CHANNELS),
                    citizen,
                }),
            );
        }
        // Most units look back: each item assessed; those not kept, and half of those
        // partly kept, carried on by a new item for the second half-year.
        if rng.below(100) < LOOKED_BACK_PERCENT {
            for (k, (commitment, code, category, promise)) in items.iter().enumerate() {
                let assessed_at = opened.plus_minutes((MINUTES_A_DAY + rng.below(14 * MINUTES_A_DAY)) as i64);
                let fulfilment = match rng.below(100) {
                    0..75 => Fulfilment::Kept,
                    75..88 => Fulfilment::PartlyKept,
                    _ => Fulfilment::NotKept,
                };
                let evidence = match fulfilment {
                    Fulfilment::Kept => "群众评议满意，台账记录齐全",
                    Fulfilment::PartlyKept => "大部分做到，群众反映个别时段未落实",
                    Fulfilment::NotKept => "群众意见较多，未能兑现",
                };
                push(
                    assessed_at,
                    LOOK_BACK,
                    rng.id(),
                    Command::AssessCommitment(AssessCommitment {
                        commitment: *commitment,
                        fulfilment,
                        evidence: text(evidence),
                    }),
                );
                let renew = match fulfilment {
                    Fulfilment::NotKept => true,
                    Fulfilment::PartlyKept => rng.below(2) == 0,
                    Fulfilment::Kept => false,
                };
                if renew {
                    let code = format!("{code}-R");
                    let content = CommitmentContent {
                        category: text(category),
                        text: text(&format!("{promise}（整改后再承诺）")),
                        target: None,
                        from: date!(2011 - 07 - 01),
                        until: date!(2011 - 12 - 31),
                        public: true,
                    };
                    push(
                        assessed_at.plus_minutes(30 + k as i64),
                        LOOK_BACK,
                        rng.id(),
                        Command::MakeCommitment(MakeCommitment {
                            commitment: CommitmentId::of_code(&code),
                            unit,
                            member: None,
                            content,
                            renews: vec![*commitment],
                            code: Some(text(&code)),
                        }),
                    );
                }
            }
        }
        // June's weekly summaries, written on the week's Sunday or the Monday after.
        for week_start in [
            date!(2011 - 05 - 30),
            date!(2011 - 06 - 06),
            date!(2011 - 06 - 13),
            date!(2011 - 06 - 20),
            date!(2011 - 06 - 27),
        ] {
            if rng.below(100) < SUMMARY_MISSED_PERCENT {
                continue;
            }
            let written = moment(week_start + time::Duration::days(6), 16 * 60 + rng.below(20 * 60));
            push(
                written,
                SUMMARY,
                rng.id(),
                Command::SubmitSummary(SubmitSummary::new(
                    unit,
                    IsoWeek::containing(week_start),
                    SummaryText {
                        done: text(&format!("本周开展志愿服务，落实承诺事项{}项", items.len())),
                        learnt: (rng.below(2) == 0).then(|| text("提前公示、预约服务，群众更满意")),
                        next: Some(text("继续做好窗口服务和承诺事项回头看")),
                    },
                )),
            );
        }
    }
}

/// What a few ballots say besides their rating.
const BALLOT_COMMENTS: [&str; 4] = ["服务热情，办事效率高", "等候时间偏长", "首问负责落实到位", "午间无人值守"];
/// The members of each unit the member evaluation covers by ballot (every unit has at
/// least eight members), and those the leaders review.
const MEMBERS_BALLOTED: u32 = 1;
const MEMBERS_REVIEWED: u32 = 4;

/// The half-year's evaluations (一诺双评), from a generator of their own: the units'
/// and the members' evaluations open with the look-back round and close with it; each
/// unit's 8 to 16 ballots spread by the unit's own standing (most are satisfied with
/// most windows: 55 to 95 in a hundred satisfied, one in twenty "don't know", the rest
/// three to one fairly satisfied), a leaders' review of every unit; five supervisors'
/// ballots for each unit's first member and a leaders' review of its first four.
fn evaluations(commands: &mut Vec<(Timestamp, u8, Planned)>, units: usize, seed: u64) {
    let mut rng = Seeded(seed ^ 0x7069_6e67_7969_0000); // "pingyi"
    let mut push = |recorded_at: Timestamp, kind: u8, command_id: Uuid, command: Command| {
        commands.push((recorded_at, kind, Planned { command_id, recorded_at, command }));
    };
    let half_year = HalfYear::containing(date!(2011 - 06 - 30));
    let opened = moment(date!(2011 - 06 - 20), 9 * 60);
    let closed = moment(date!(2011 - 07 - 08), 17 * 60);
    let mut open = |rng: &mut Seeded, name: &str, subject| {
        let evaluation = EvaluationId(rng.id());
        let command = OpenEvaluation { evaluation, name: text(name), half_year, subject, scope: RoundScope::All };
        push(opened, ROUND, rng.id(), Command::OpenEvaluation(command));
        push(closed, ROUND, rng.id(), Command::CloseEvaluation(CloseEvaluation { evaluation }));
        evaluation
    };
    let of_units = open(&mut rng, "2011年上半年群众评议（窗口单位）", EvaluationSubject::Units);
    let of_members = open(&mut rng, "2011年上半年群众评议（党员）", EvaluationSubject::Members);
    let during = |rng: &mut Seeded| opened.plus_minutes(60 + rng.below(17 * MINUTES_A_DAY) as i64);
    for u in 0..units {
        let unit_code = format!("SY-{:04}", u + 1);
        let unit = UnitId::of_code(&unit_code);
        let satisfied = 55 + rng.below(41);
        for _ in 0..8 + rng.below(9) {
            let roll = rng.below(100);
            let rating = if roll < satisfied {
                Some(Rating::Satisfied)
            } else if roll < 95 {
                Some(if rng.below(4) < 3 { Rating::FairlySatisfied } else { Rating::Dissatisfied })
            } else {
                None
            };
            // Citizens served at the window mostly; public supervisors and conduct
            // assessors the rest.
            let voter = match rng.below(100) {
                0..70 => Voter::Citizen,
                70..90 => Voter::Supervisor,
                _ => Voter::Assessor,
            };
            let comment = (rng.below(10) == 0).then(|| text(rng.pick::<&str>(&BALLOT_COMMENTS)));
            let ballot = CastBallot {
                ballot: BallotId(rng.id()),
                evaluation: of_units,
                rated: Rated::Unit(unit),
                voter,
                rating,
                scores: vec![],
                comment,
            };
            push(during(&mut rng), LOOK_BACK, rng.id(), Command::CastBallot(ballot));
        }
        let review = |rng: &mut Seeded, evaluation, rated| ReviewAsLeader {
            evaluation,
            rated,
            score: Score::new("demo", 70 + rng.below(30) as i64).expect("in range"),
            comment: None,
        };
        let unit_review = review(&mut rng, of_units, Rated::Unit(unit));
        push(during(&mut rng), LOOK_BACK, rng.id(), Command::ReviewAsLeader(unit_review));
        for m in 1..=MEMBERS_REVIEWED {
            let member = Rated::Member(MemberId::of_code(&format!("{unit_code}-{m:02}")));
            if m <= MEMBERS_BALLOTED {
                for _ in 0..5 {
                    let rating =
                        Some(if rng.below(100) < satisfied { Rating::Satisfied } else { Rating::FairlySatisfied });
                    let ballot = CastBallot {
                        ballot: BallotId(rng.id()),
                        evaluation: of_members,
                        rated: member,
                        voter: Voter::Supervisor,
                        rating,
                        scores: vec![],
                        comment: None,
                    };
                    push(during(&mut rng), LOOK_BACK, rng.id(), Command::CastBallot(ballot));
                }
            }
            let member_review = review(&mut rng, of_members, member);
            push(during(&mut rng), LOOK_BACK, rng.id(), Command::ReviewAsLeader(member_review));
        }
    }
}

/// Applies `plan` through `ledger`, in order and in batches; `progress` hears how many
/// commands are done. Commands already in the log (the same command ids) are answered
/// from it and write nothing.
pub async fn load<S: EventStore>(ledger: &Ledger<S>, plan: Plan, progress: impl Fn(usize)) -> Result<usize, AppError> {
    let secret: Arc<[u8]> = Arc::from(plan.seed.to_le_bytes().as_slice());
    let batch = plan
        .commands
        .into_iter()
        .map(|planned| {
            let context = CommandContext {
                command_id: planned.command_id,
                recorded_at: Some(planned.recorded_at),
                key_secret: Some(secret.clone()),
                ..CommandContext::new(Actor::OPERATOR)
            };
            (context, planned.command)
        })
        .collect();
    ledger.run_in_order(batch, progress).await
}
