//! The `csv` scenario: a city's units, members and outings imported from CSV files
//! through `taizhang_io::import`, as `taizhang import` does; then 116,000 ballots of an
//! evaluation of its units.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use taizhang_io::import::{self, Encoding};
use taizhang_io::Kind;
use taizhang_store::SledStore;

use crate::{rate, report};

const UNITS: usize = 5_800;
const MEMBERS_PER_UNIT: usize = 10;
const OUTINGS_PER_UNIT: usize = 4;
const PARTICIPANTS: usize = 3;
/// Ballots of the public's evaluation per unit: 116,000 in all.
const BALLOTS_PER_UNIT: usize = 20;

/// The three files, with codes (not ids) as a unit's spreadsheet has them.
fn files() -> [(Kind, String); 3] {
    let regions = ["茅箭区", "张湾区", "郧阳区", "丹江口市", "郧西县", "竹山县", "竹溪县", "房县"];
    let industries = ["医疗卫生", "民政", "税务", "通信", "档案", "便民服务"];
    let (mut units, mut members, mut outings) = (
        String::from("id,name,industry,region,parent\n"),
        String::from("id,unit,joined_on,name,national_id,phone,birth_date\n"),
        String::from("outing,unit,date,start,end,place,category,description,beneficiaries,member,hours\n"),
    );
    for u in 0..UNITS {
        let (region, industry) = (regions[u % regions.len()], industries[u % industries.len()]);
        writeln!(units, "SY-{u:05},{region}{industry}服务窗口{u},{industry},{region},").unwrap();
        for m in 0..MEMBERS_PER_UNIT {
            writeln!(members, "SY-{u:05}-{m:02},SY-{u:05},2011-01-01,党员{u}号{m},,0719-{u:05}{m:02},1980-05-04")
                .unwrap();
        }
        for o in 0..OUTINGS_PER_UNIT {
            for p in 0..PARTICIPANTS {
                let member = (o * PARTICIPANTS + p) % MEMBERS_PER_UNIT;
                writeln!(
                    outings,
                    "SY-{u:05}-O{o},SY-{u:05},2011-06-{:02},09:00,11:30,{region}社区,便民服务,为群众办实事,40,SY-{u:05}-{member:02},2",
                    1 + o * 7
                )
                .unwrap();
            }
        }
    }
    [(Kind::Units, units), (Kind::Members, members), (Kind::Outings, outings)]
}

pub async fn csv(dir: &Path) -> Result<()> {
    let store = Arc::new(SledStore::open(&dir.join("csv"))?);
    let (mut rows, mut commands, mut total) = (0, 0, Duration::ZERO);
    for (kind, text) in files() {
        // A ledger per file, as each `taizhang import` is a process of its own: no
        // command-side cache carried from one file to the next.
        let ledger = taizhang_app::Ledger::open(store.clone(), &dir.join("master.key")).await?;
        let started = Instant::now();
        let mut file = import::read(kind, text.as_bytes(), Encoding::Utf8);
        file.check(&ledger, None).await?;
        ensure!(file.problems.is_empty(), "the generated {} file has problems: {:?}", kind.name(), &file.problems[..1]);
        let read_rows = file.rows;
        let checked = started.elapsed();
        let operator = taizhang_app::CommandContext::new(taizhang_core::Actor::OPERATOR);
        let written = file.write(&ledger, &operator, false, |_| {}).await?;
        let elapsed = started.elapsed();
        report(&format!("csv.{}.read_and_check", kind.name()), checked.as_secs_f64(), "s", None);
        report(&format!("csv.{}", kind.name()), rate(read_rows, elapsed), "rows/s", None);
        rows += read_rows;
        commands += written.commands;
        total += elapsed;
    }
    report("csv.rows", rows as f64, "rows", None);
    report("csv.seconds", total.as_secs_f64(), "s", None);
    let raw = crate::raw_appends(&dir.join("raw"), commands).await?;
    report("csv.commands", rate(commands, total), "commands/s", Some(raw));
    report("csv", rate(rows, total), "rows/s", None);
    ballots(dir, &store).await
}

/// A city's ballots of an evaluation of its units, as a campaign office enters the
/// paper ballots: read, checked and written as `taizhang import ballots` does;
/// baseline: as many single-event durable appends from 64 writers, same run.
async fn ballots(dir: &Path, store: &Arc<SledStore>) -> Result<()> {
    use taizhang_core::*;
    let ledger = taizhang_app::Ledger::open(store.clone(), &dir.join("master.key")).await?;
    let evaluation = EvaluationId::new();
    let open = OpenEvaluation {
        evaluation,
        name: Text::parse("name", "2011年上半年群众评议")?,
        half_year: HalfYear { year: 2011, half: 1 },
        subject: EvaluationSubject::Units,
        scope: RoundScope::All,
    };
    ledger.execute(taizhang_app::CommandContext::new(Actor::OPERATOR), Command::OpenEvaluation(open)).await?;
    let (voters, ratings) =
        (["群众", "群众", "群众监督员", "行风评议员"], ["满意", "满意", "满意", "基本满意", "不满意", "不了解"]);
    let mut text = String::from("id,evaluation,unit,member,voter,rating,scores,comment\n");
    for u in 0..UNITS {
        for b in 0..BALLOTS_PER_UNIT {
            let (voter, rating) = (voters[(u + b) % voters.len()], ratings[(u * 7 + b) % ratings.len()]);
            let comment = if b % 10 == 0 { "服务热情，办事效率高" } else { "" };
            writeln!(text, "P-{u:05}-{b:02},{evaluation},SY-{u:05},,{voter},{rating},服务态度:{},{comment}", 70 + b)
                .unwrap();
        }
    }
    let ledger = taizhang_app::Ledger::open(store.clone(), &dir.join("master.key")).await?;
    let started = Instant::now();
    let mut file = import::read(Kind::Ballots, text.as_bytes(), Encoding::Utf8);
    file.check(&ledger, None).await?;
    ensure!(file.problems.is_empty(), "the generated ballots have problems: {:?}", &file.problems[..1]);
    let checked = started.elapsed();
    let operator = taizhang_app::CommandContext::new(Actor::OPERATOR);
    let written = file.write(&ledger, &operator, false, |_| {}).await?;
    let elapsed = started.elapsed();
    ensure!(written.commands == UNITS * BALLOTS_PER_UNIT, "{} ballots written", written.commands);
    let raw = crate::raw_appends(&dir.join("raw-ballots"), written.commands).await?;
    report("csv.ballots.read_and_check", checked.as_secs_f64(), "s", None);
    report("csv.ballots", rate(written.commands, elapsed), "ballots/s", Some(raw));
    Ok(())
}
