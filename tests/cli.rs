//! The `taizhang` binary end to end: data written through the ledger, then `verify`,
//! `export` and `restore` run as a user runs them, as separate processes.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command as Process, Output};
use std::sync::Arc;

use taizhang_app::{CommandContext, Ledger, Personal};
use taizhang_core::*;
use taizhang_store::SledStore;
use time::macros::date;

fn taizhang(data: &Path, args: &[&str]) -> Output {
    Process::new(env!("CARGO_BIN_EXE_taizhang"))
        .arg("--data")
        .arg(data)
        .env("TAIZHANG_MASTER_KEY_FILE", data.join("master.key"))
        .args(args)
        .output()
        .expect("run taizhang")
}

fn text(s: &str) -> Text {
    Text::parse("t", s).unwrap()
}

/// A unit, a member with personal data, and an outing with its booking: 4 events.
async fn sample(data: &Path) -> MemberId {
    let ledger = Ledger::open(Arc::new(SledStore::open(data).unwrap()), &data.join("master.key")).await.unwrap();
    let run = |cmd| ledger.execute(CommandContext::new(Actor::OPERATOR), cmd);
    let (unit, member) = (UnitId::new(), MemberId::new());
    run(Command::RegisterUnit(RegisterUnit {
        unit,
        name: text("十堰市张湾区地方税务局办税服务厅"),
        industry: text("税务"),
        region: text("张湾区"),
        parent: None,
        code: None,
    }))
    .await
    .unwrap();
    run(Command::RegisterMember(RegisterMember {
        member,
        unit,
        joined_on: date!(2010 - 07 - 01),
        personal: PersonalData { name: text("王俊"), national_id: None, phone: None, birth_date: None },
        code: None,
    }))
    .await
    .unwrap();
    let span =
        TimeRange::new("s", ClockTime::parse("t", "09:00").unwrap(), ClockTime::parse("t", "11:00").unwrap()).unwrap();
    run(Command::RegisterOuting(RegisterOuting {
        outing: OutingId::new(),
        unit,
        details: OutingDetails {
            date: date!(2011 - 06 - 18),
            span,
            place: text("张湾区红卫街道"),
            category: text("政策宣讲"),
            description: None,
            beneficiaries: 120,
        },
        participants: vec![ParticipationInput { member, span: None, minutes: None }],
        code: None,
    }))
    .await
    .unwrap();
    member
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn export_restore_and_verify_keep_the_chain_and_the_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let (data, copy) = (dir.path().join("data"), dir.path().join("copy"));
    let member = sample(&data).await;

    let verified = taizhang(&data, &["verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    let summary = stdout(&verified);
    assert!(summary.starts_with("ok: 4 events, head hash "), "{summary}");

    let backup = dir.path().join("backup.jsonl");
    let keys = dir.path().join("keys.jsonl");
    let exported = taizhang(&data, &["export", "-o", backup.to_str().unwrap(), "--keys", keys.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&backup).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["type"], "UnitRegistered");
    assert_eq!(lines[0]["payload"]["name"], "十堰市张湾区地方税务局办税服务厅", "Chinese text is kept as text");
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    let backup_text = std::fs::read_to_string(&backup).unwrap();
    assert!(!backup_text.contains("王俊"), "personal data leaves only sealed");

    let master = data.join("master.key");
    let restored = Process::new(env!("CARGO_BIN_EXE_taizhang"))
        .arg("--data")
        .arg(&copy)
        .arg("--master-key-file")
        .arg(&master)
        .args(["restore", backup.to_str().unwrap(), "--keys", keys.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(restored.status.success(), "{}", stderr(&restored));
    let head_hash = summary.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(stdout(&restored).trim().ends_with(&head_hash), "same chain head after restore");
    assert_eq!(stdout(&taizhang(&copy, &["verify"])), summary);

    let ledger = Ledger::open(Arc::new(SledStore::open(&copy).unwrap()), &master).await.unwrap();
    assert!(matches!(ledger.personal(member).await.unwrap(), Personal::Known(p) if p.name.as_str() == "王俊"));
    drop(ledger);

    // A restore never mixes into existing data.
    let again = taizhang(&copy, &["restore", backup.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("needs an empty store"), "{}", stderr(&again));
}

#[tokio::test]
async fn a_tampered_backup_is_refused_at_the_damaged_position() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    sample(&data).await;
    let backup = dir.path().join("backup.jsonl");
    let exported = taizhang(&data, &["export", "-o", backup.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", stderr(&exported));

    // Change one hex digit of the third record's bytes, past its header.
    let mut lines: Vec<String> = std::fs::read_to_string(&backup).unwrap().lines().map(str::to_owned).collect();
    let mut value: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
    let mut record = value["record"].as_str().unwrap().to_owned();
    let at = record.len() - 3;
    let flipped = if &record[at..at + 1] == "0" { "1" } else { "0" };
    record.replace_range(at..at + 1, flipped);
    value["record"] = record.into();
    lines[2] = value.to_string();
    std::fs::write(&backup, lines.join("\n")).unwrap();

    let target = dir.path().join("target");
    let restored = taizhang(&target, &["restore", backup.to_str().unwrap()]);
    assert!(!restored.status.success());
    assert!(stderr(&restored).contains("position 3"), "{}", stderr(&restored));
    assert!(stdout(&taizhang(&target, &["verify"])).starts_with("ok: 0 events"), "nothing was restored");

    // The record whole, its readable payload edited: refused too, naming the field.
    let mut lines: Vec<String> = std::fs::read_to_string(&backup).unwrap().lines().map(str::to_owned).collect();
    let original: Vec<String> = taizhang(&data, &["export"]).stdout.lines().map(|l| l.unwrap()).collect();
    lines[2] = original[2].clone();
    let mut value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    value["payload"]["name"] = "改过的名字".into();
    lines[0] = value.to_string();
    std::fs::write(&backup, lines.join("\n")).unwrap();
    let restored = taizhang(&target, &["restore", backup.to_str().unwrap()]);
    assert!(!restored.status.success());
    let err = stderr(&restored);
    assert!(err.contains("line 1") && err.contains("readable payload disagrees"), "{err}");
    assert!(stdout(&taizhang(&target, &["verify"])).starts_with("ok: 0 events"), "nothing was restored");
}

#[tokio::test]
async fn rebuild_reports_equal_digests_and_leaves_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    sample(&data).await;
    for _ in 0..2 {
        // The second run starts from the first run's checkpoint.
        let out = taizhang(&data, &["rebuild"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("ok: the rebuilt projections equal the live ones"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("outings ")), "{text}");
        assert!(data.join("read-model.ckpt").exists());
    }
}

#[test]
fn policies_are_listed_and_a_bad_file_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = taizhang(&data, &["policies"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Each level with its criteria: metric, window and threshold.
    let listed = stdout(&out);
    assert!(listed.contains("star-volunteer v1: Star volunteer (星级志愿者) (of members)"), "{listed}");
    assert!(
        listed.contains(
            "  level 3 三星级志愿者:\n    verified_hours over every date up to the period's end, at least 600.00\n"
        ),
        "{listed}"
    );

    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    let mine = "name = \"mine\"\nversion = 2\ntitle = \"t\"\nsubject = \"member\"\n[[levels]]\nname = \"a\"\n\
                criteria = [{ metric = \"recorded_hours\", window = \"12 months\", at_least = 2.5, below = 40.25 }]\n";
    std::fs::write(policies.join("mine.toml"), mine).unwrap();
    let out = taizhang(&data, &["--policy-dir", policies.to_str().unwrap(), "policies"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&out);
    assert!(
        listed.contains("    recorded_hours over the 12 months to the period's end, at least 2.50, below 40.25\n"),
        "{listed}"
    );

    std::fs::write(policies.join("mine.toml"), "name = \"mine\"\nversion = 1\ntitle = \"t\"\nsubject = \"crowd\"\n")
        .unwrap();
    let out = taizhang(&data, &["--policy-dir", policies.to_str().unwrap(), "policies"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("mine.toml:4:") && err.contains("crowd"), "{err}");
}

/// sled → JSON Lines → PostgreSQL → JSON Lines → sled: the same records, the same chain,
/// the same member keys.
#[tokio::test]
async fn backups_move_between_sled_and_postgresql_with_the_chain_intact() {
    let url = taizhang_store::conformance::postgres_url();
    let schema = format!("taizhang_cli_{}", uuid::Uuid::new_v4().simple());
    if let Err(e) = taizhang_store::PgStore::connect(&url, &schema).await {
        if std::env::var_os("CI").is_some() {
            panic!("PostgreSQL at {url} is required under CI: {e}");
        }
        eprintln!("skipped: PostgreSQL at {url} is not reachable ({e})");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data, back) = (dir.path().join("data"), dir.path().join("back"));
    sample(&data).await;
    let first = dir.path().join("from-sled.jsonl");
    let sled_keys = dir.path().join("sled-keys.jsonl");
    let exported = taizhang(&data, &["export", "-o", first.to_str().unwrap(), "--keys", sled_keys.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", stderr(&exported));

    let on_pg = |args: &[&str]| {
        let mut all = vec!["--store", url.as_str(), "--pg-schema", schema.as_str()];
        all.extend_from_slice(args);
        taizhang(&data, &all)
    };
    // The member keys move too (PostgreSQL keeps them in the schema's key table).
    let restored = on_pg(&["restore", first.to_str().unwrap(), "--keys", sled_keys.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", stderr(&restored));
    let second = dir.path().join("from-pg.jsonl");
    let pg_keys = dir.path().join("pg-keys.jsonl");
    let exported = on_pg(&["export", "-o", second.to_str().unwrap(), "--keys", pg_keys.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert_eq!(std::fs::read(&first).unwrap(), std::fs::read(&second).unwrap(), "byte-identical backups");
    let sled_keys = std::fs::read_to_string(&sled_keys).unwrap();
    assert!(!sled_keys.is_empty());
    assert_eq!(sled_keys, std::fs::read_to_string(&pg_keys).unwrap(), "the same wrapped keys");

    assert!(taizhang(&back, &["restore", second.to_str().unwrap()]).status.success());
    assert_eq!(stdout(&taizhang(&back, &["verify"])), stdout(&on_pg(&["verify"])));
    assert_eq!(stdout(&taizhang(&back, &["verify"])), stdout(&taizhang(&data, &["verify"])));
    taizhang_store::PgStore::drop_schema(&url, &schema).await.unwrap();
}

/// `import` as a user runs it: problems on standard error as file:line:column, exit 1
/// and nothing written; then the fixed file, a re-import that writes nothing, and the
/// exports of what it wrote.
#[test]
fn import_names_each_problem_then_writes_once_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("units.csv");
    let head = |data: &Path| String::from_utf8(taizhang(data, &["verify"]).stdout).unwrap();
    std::fs::write(&file, "编号,名称,行业,区域\nSY-1,十堰市人民医院,医疗卫生,\nSY-2,,税务,张湾区\n").unwrap();
    let refused = taizhang(&data, &["import", "units", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    let name = file.display();
    assert!(stderr.contains(&format!("{name}:2:4: region: is empty")), "{stderr}");
    assert!(stderr.contains(&format!("{name}:3:2: name: is empty")), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(head(&data).contains("ok: 0 events"), "{}", head(&data));

    std::fs::write(&file, "编号,名称,行业,区域\nSY-1,十堰市人民医院,医疗卫生,茅箭区\nSY-2,十堰市税务局,税务,张湾区\n")
        .unwrap();
    for written in ["2 units written, 0 already", "0 units written, 2 already"] {
        let output = taizhang(&data, &["import", "units", file.to_str().unwrap()]);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(output.status.success() && stderr.contains(written), "{stderr}");
    }
    assert!(head(&data).contains("ok: 2 events"), "{}", head(&data));

    let exported = String::from_utf8(taizhang(&data, &["export", "units"]).stdout).unwrap();
    assert!(
        exported.starts_with("\u{feff}编号 id,名称 name,行业 industry,区域 region,上级单位 parent\n"),
        "{exported}"
    );
    assert!(exported.contains(",十堰市税务局,税务,张湾区,\n"), "{exported}");
    // A unit given to an export of every unit's records is refused, not ignored.
    let output = taizhang(&data, &["export", "units", "--unit", "SY-2"]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!output.status.success() && stderr.contains("not those of SY-2"), "{stderr}");
    let xlsx = dir.path().join("reports.xlsx");
    let args = ["export", "reports", "--format", "xlsx", "--from", "2011-06-01", "--to", "2011-06-30", "-o"];
    let output = taizhang(&data, &[&args[..], &[xlsx.to_str().unwrap()]].concat());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK"), "an XLSX file is a zip archive");

    // What may hold personal data is its owner's only, whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    let members = dir.path().join("members.csv");
    std::fs::write(&members, "").unwrap();
    std::fs::set_permissions(&members, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(taizhang(&data, &["export", "members", "-o", members.to_str().unwrap()]).status.success());
    let backup = dir.path().join("backup.log");
    assert!(taizhang(&data, &["export", "-o", backup.to_str().unwrap()]).status.success());
    assert!(taizhang(&data, &["rebuild"]).status.success());
    for (path, expected) in [
        (data.clone(), 0o700),
        (data.join("log"), 0o700),
        (members, 0o600),
        (xlsx, 0o600),
        (backup, 0o600),
        (data.join("master.key"), 0o600),
        (data.join("member-keys"), 0o600),
        (data.join("read-model.ckpt"), 0o600),
    ] {
        assert_eq!(mode(&path), expected, "{}", path.display());
    }
}

/// A master key other than the store's is refused at start, before anything is sealed
/// under it; the right one still opens everything.
#[test]
fn a_wrong_master_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("units.csv");
    std::fs::write(&file, "id,name,industry,region\nSY-1,十堰市人民医院,医疗卫生,茅箭区\n").unwrap();
    assert!(taizhang(&data, &["import", "units", file.to_str().unwrap()]).status.success());
    let right = std::fs::read(data.join("master.key")).unwrap();
    let wrong: Vec<u8> = right.iter().map(|b| b ^ 0x5a).collect();
    std::fs::write(data.join("master.key"), &wrong).unwrap();
    std::fs::write(&file, "id,name,industry,region\nSY-2,十堰市税务局,税务,张湾区\n").unwrap();
    let refused = taizhang(&data, &["import", "units", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(stderr.contains("the master key does not open this store's keys"), "{stderr}");
    let head = String::from_utf8(taizhang(&data, &["verify"]).stdout).unwrap();
    assert!(head.contains("ok: 1 events"), "nothing written under the wrong key: {head}");
    std::fs::write(data.join("master.key"), &right).unwrap();
    assert!(taizhang(&data, &["import", "units", file.to_str().unwrap()]).status.success());
}

/// A command that only reads, given a data directory that does not exist, says so and
/// creates nothing (a typo in `--data` used to open a new empty store and print an
/// empty report); the log backup is not poured onto a terminal; a report of an unknown
/// region is refused, not empty.
#[test]
fn a_missing_data_directory_and_a_terminal_are_refused_before_anything_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("taizhang-dta");
    for args in [&["verify"][..], &["export", "reports", "-o", "r.csv"], &["token", "list"]] {
        let output = taizhang(&typo, args);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("there is no data directory") && stderr.contains("--data"), "{args:?}: {stderr}");
        assert!(!typo.exists(), "{args:?} created the directory");
    }

    let data = dir.path().join("data");
    let file = dir.path().join("units.csv");
    std::fs::write(&file, "id,name,industry,region\nSY-1,十堰市人民医院,医疗卫生,茅箭区\n").unwrap();
    assert!(taizhang(&data, &["import", "units", file.to_str().unwrap()]).status.success());
    // `script` runs the command with a terminal as its standard output.
    let command = format!("{} --data {} export", env!("CARGO_BIN_EXE_taizhang"), data.display());
    let output = Process::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TAIZHANG_MASTER_KEY_FILE", data.join("master.key"))
        .output()
        .expect("script (util-linux) runs");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("write it to a file with -o FILE"), "{shown}");
    assert!(!shown.contains("UnitRegistered"), "{shown}");
    let piped = taizhang(&data, &["export"]);
    assert!(String::from_utf8_lossy(&piped.stdout).contains("UnitRegistered"), "a pipe still gets the log");

    // A region the log does not know is named with those it does, not answered empty.
    let report = dir.path().join("r.csv");
    let output = taizhang(&data, &["export", "reports", "--region", "茅剑区", "-o", report.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no unit is in the region \"茅剑区\"") && stderr.contains("茅箭区"), "{stderr}");
    assert!(!report.exists());
}

/// Help keeps the options every command shares apart from the command's own, and a
/// mistyped command is answered with the one meant.
#[test]
fn help_groups_the_global_options_and_a_typo_gets_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let help = stdout(&taizhang(dir.path(), &["export", "--help"]));
    let (own, global) = help.split_once("Global options:").expect("a global options section");
    assert!(own.contains("--output") && !own.contains("--data"), "{help}");
    assert!(global.contains("--data") && global.contains("--master-key-file"), "{help}");
    let typo = taizhang(dir.path(), &["serv"]);
    assert!(!typo.status.success());
    assert!(stderr(&typo).contains("a similar subcommand exists: 'serve'"), "{}", stderr(&typo));
}

/// The award list of a region: a row per member of its units, with their name, the
/// level they reached and the actual value of each criterion, the level agreeing with
/// the policy's thresholds on every row; written for its owner only. A unit's ledger
/// names who served.
#[test]
fn the_award_list_of_a_region_gives_every_member_with_level_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(taizhang(&data, &["demo", "--scale", "0.05"]).status.success());
    let list = dir.path().join("award.csv");
    let args = ["export", "eligibility", "--policy", "service-month-default", "--from", "2011-06-01"];
    let args = [&args[..], &["--to", "2011-06-30", "--region", "张湾区", "-o", list.to_str().unwrap()]].concat();
    let output = taizhang(&data, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(mode(&list), 0o600);
    let text = std::fs::read_to_string(&list).unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next().unwrap(),
        "单位 unit,单位名称 unit name,区域 region,党员 member,姓名 name,等级 level,verified_outings (the period),verified_hours (the period)"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 20, "{} rows", rows.len());
    let mut awarded = 0;
    for row in &rows {
        assert_eq!(row[2], "张湾区", "{row:?}");
        let (outings, hours): (f64, f64) = (row[6].parse().unwrap(), row[7].parse().unwrap());
        let meets = outings >= 2.0 && hours >= 8.0;
        assert_eq!(row[5] == "岗位先锋", meets, "{row:?}");
        awarded += usize::from(meets);
    }
    assert!(awarded > 0 && awarded < rows.len(), "{awarded} of {}", rows.len());
    assert!(rows.iter().filter(|r| !r[4].is_empty()).count() > rows.len() / 2, "names are there");

    // A unit's ledger names who served, with their hours.
    let unit = rows[0][0];
    let ledger = dir.path().join("ledger.csv");
    let output = taizhang(&data, &["export", "ledger", "--unit", unit, "-o", ledger.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(mode(&ledger), 0o600);
    let text = std::fs::read_to_string(&ledger).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().contains(",参与人数 participants,参与者 who (hours),"));
    let first: Vec<&str> = lines.next().expect("an outing").split(',').collect();
    let who: Vec<&str> = first[7].split('、').collect();
    assert_eq!(who.len().to_string(), first[6], "{first:?}");
    let names: Vec<&str> = rows.iter().filter(|r| r[0] == unit).map(|r| r[4]).collect();
    for served in who {
        let (name, hours) = served.rsplit_once(' ').unwrap();
        assert!(names.contains(&name), "{name} is a member of the unit: {names:?}");
        assert!(hours.parse::<f64>().unwrap() > 0.0, "{served}");
    }

    let unknown = taizhang(&data, &["export", "eligibility", "--policy", "no-such", "-o", "x.csv"]);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("service-month-default"), "{}", stderr(&unknown));
}

/// The permission bits of a file or directory.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// By default the master key is made in the user's configuration directory, not in the
/// data directory; a key left in the data directory by an earlier layout is refused
/// with the way out, and nothing is written.
#[test]
fn the_master_key_lives_apart_from_the_data_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let (data, home) = (dir.path().join("data"), dir.path().join("home"));
    let file = dir.path().join("units.csv");
    std::fs::write(&file, "id,name,industry,region\nSY-1,十堰市人民医院,医疗卫生,茅箭区\n").unwrap();
    let run = |data: &Path| {
        Process::new(env!("CARGO_BIN_EXE_taizhang"))
            .arg("--data")
            .arg(data)
            .args(["import", "units", file.to_str().unwrap()])
            .env_remove("TAIZHANG_MASTER_KEY_FILE")
            .env_remove("XDG_CONFIG_HOME")
            .env("HOME", &home)
            .output()
            .unwrap()
    };
    let output = run(&data);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let key = home.join(".config/taizhang/master.key");
    assert!(String::from_utf8_lossy(&output.stderr).contains(&format!("created the master key {}", key.display())));
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(key.parent().unwrap()), 0o700);
    assert!(!data.join("master.key").exists());

    let old_layout = dir.path().join("old");
    std::fs::create_dir(&old_layout).unwrap();
    std::fs::write(old_layout.join("master.key"), [7u8; 32]).unwrap();
    let refused = run(&old_layout);
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(stderr.contains("is inside the data directory") && stderr.contains("--master-key-file"), "{stderr}");
    assert!(!old_layout.join("log").exists(), "nothing was written");
}

/// A full disk: on a 16 MiB tmpfs of its own (a private mount namespace, as root), a
/// store that cannot write at opening says so (or opens, whole), and opens again by
/// itself, whole, once space is freed, with every amount of space left from none to
/// half a megabyte.
#[test]
fn a_store_on_a_full_disk_opens_again_once_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("units.csv");
    let rows: String =
        (0..300).map(|i| format!("SY-{i},十堰市第{i}医院{},医疗卫生,茅箭区\n", "院".repeat(i % 40))).collect();
    std::fs::write(&file, format!("id,name,industry,region\n{rows}")).unwrap();
    assert!(taizhang(&data, &["import", "units", file.to_str().unwrap()]).status.success());
    let whole = String::from_utf8(taizhang(&data, &["verify"]).stdout).unwrap();
    assert!(whole.starts_with("ok: 300 events"), "{whole}");

    let script = r#"set -eu
        mount -t tmpfs -o size=16m tmpfs "$MNT"
        for free in 0 4 16 64 256 512; do
            rm -rf "$MNT/data" "$MNT/fill"
            cp -r "$DATA" "$MNT/data"
            dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null || true
            [ "$free" -gt 0 ] && truncate -s "-${free}K" "$MNT/fill"
            echo "full $free: $("$BIN" --data "$MNT/data" verify 2>&1 | tail -n 1)"
            rm "$MNT/fill"
            echo "freed $free: $("$BIN" --data "$MNT/data" verify 2>&1 | tail -n 1)"
        done"#;
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let output = std::process::Command::new("unshare")
        .args(["--mount", "sh", "-c", script])
        .env("MNT", &mnt)
        .env("DATA", &data)
        .env("TAIZHANG_MASTER_KEY_FILE", data.join("master.key"))
        .env("BIN", env!("CARGO_BIN_EXE_taizhang"))
        .output()
        .expect("unshare runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && (stderr.contains("Operation not permitted") || stderr.contains("permission denied"))
    {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root and must run this test: {stderr}");
        eprintln!("skipped: a private mount namespace needs root ({stderr})");
        return;
    }
    assert!(output.status.success(), "{stderr}");
    // On the full disk: whole, or refused saying why (whether opening must write
    // depends on what the last opening left); once freed: whole, every time.
    let report = String::from_utf8(output.stdout).unwrap();
    for line in report.lines() {
        let whole_again = line.ends_with(whole.trim());
        let refused = line.starts_with("full") && line.contains("No space left on device");
        assert!(whole_again || refused, "{line}\n(expected {whole})");
    }
    assert_eq!(report.lines().filter(|l| l.starts_with("freed")).count(), 6, "{report}");
}

/// A reviewer's worksheet: `export verifications` lists the outings awaiting
/// verification; she keeps the rows she vouches for and imports them. A row whose
/// outing changed since the worksheet was written is refused at its line and column,
/// and nothing is written; the rows she kept are then verified, once, and leave the
/// worksheet.
#[test]
fn a_reviewer_verifies_the_outings_of_a_worksheet() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(taizhang(&data, &["demo", "--scale", "0.01"]).status.success());
    let worksheet = |name: &str| {
        let path = dir.path().join(name);
        let output = taizhang(&data, &["export", "verifications", "-o", path.to_str().unwrap()]);
        assert!(output.status.success(), "{}", stderr(&output));
        let text = std::fs::read_to_string(&path).unwrap();
        text.trim_start_matches('\u{feff}').lines().map(str::to_owned).collect::<Vec<_>>()
    };
    let before = worksheet("before.csv");
    assert!(before[0].starts_with("活动编号 outing,版本 version,核实意见 note,单位 unit,"), "{}", before[0]);
    assert!(before.len() > 10, "{} rows", before.len());

    // She vouches for three; the second's version is not the one the log holds.
    let with = |row: &str, version: Option<&str>| {
        let mut cells: Vec<&str> = row.split(',').collect();
        cells[1] = version.unwrap_or(cells[1]);
        cells[2] = "核实无误";
        cells.join(",")
    };
    let kept: Vec<String> = before[1..4].iter().map(|row| with(row, None)).collect();
    let mut stale = kept.clone();
    stale[1] = with(&before[2], Some("7"));
    let file = dir.path().join("checked.csv");
    std::fs::write(&file, [&before[..1], &stale[..]].concat().join("\r\n")).unwrap();
    let head = |data: &Path| taizhang(data, &["verify"]);
    let chain_before = head(&data).stdout;
    let refused = taizhang(&data, &["import", "verifications", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("checked.csv:3:2: version: "), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("expected version 7"), "{}", stderr(&refused));
    assert_eq!(head(&data).stdout, chain_before, "nothing was written");

    std::fs::write(&file, [&before[..1], &kept[..]].concat().join("\r\n")).unwrap();
    let written = taizhang(&data, &["import", "verifications", file.to_str().unwrap()]);
    assert!(written.status.success(), "{}", stderr(&written));
    assert!(stderr(&written).contains("3 verifications written"), "{}", stderr(&written));
    let again = taizhang(&data, &["import", "verifications", file.to_str().unwrap()]);
    assert!(stderr(&again).contains("0 verifications written, 3 already in the log"), "{}", stderr(&again));

    let after = worksheet("after.csv");
    assert_eq!(after.len(), before.len() - 3);
    for row in &kept {
        let outing = row.split(',').next().unwrap();
        assert!(!after.iter().any(|r| r.starts_with(outing)), "{outing} is verified");
    }
}

/// `taizhang` as a user who may read a data directory but not write it: as itself when
/// not root, as `nobody` (through `setpriv`) when root, whom no permission stops.
fn taizhang_read_only(data: &Path, args: &[&str]) -> Output {
    let mut command = if running_as_root() {
        let mut c = Process::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_taizhang")]);
        c
    } else {
        Process::new(env!("CARGO_BIN_EXE_taizhang"))
    };
    let key = data.parent().unwrap().join("master.key");
    command.args(["--data", data.to_str().unwrap()]).args(args);
    command.env("TAIZHANG_MASTER_KEY_FILE", key).env("TMPDIR", "/tmp").output().expect("taizhang runs")
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// A data directory its user may not write: `verify` checks a copy of its log and says
/// so; a command that writes names the path it cannot use, and so does a data directory
/// that cannot be created.
#[test]
fn a_read_only_data_directory_is_verified_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(taizhang(&data, &["demo", "--scale", "0.01"]).status.success());
    let own = taizhang(&data, &["verify"]);
    assert!(own.status.success(), "{}", stderr(&own));
    // Readable by everyone, writable by no one.
    let chmod = Process::new("chmod").args(["-R", "a+rX,a-w", data.to_str().unwrap()]).status().unwrap();
    assert!(chmod.success());
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let copy = taizhang_read_only(&data, &["verify"]);
    assert!(copy.status.success(), "{}", stderr(&copy));
    assert_eq!(copy.stdout, own.stdout, "the same chain, the same head");
    assert!(stderr(&copy).contains("cannot be written"), "{}", stderr(&copy));

    let import = dir.path().join("units.csv");
    std::fs::write(&import, "id,name,industry,region\nSY-1,十堰市人民医院,医疗卫生,茅箭区\n").unwrap();
    let refused = taizhang_read_only(&data, &["import", "units", import.to_str().unwrap()]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(message.contains(&format!("{} cannot be read and written by this user", data.display())), "{message}");

    let fresh = dir.path().join("fresh");
    let refused = taizhang_read_only(&fresh, &["import", "units", import.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains(&format!("creating {}", fresh.join("log").display())), "{}", stderr(&refused));
    let restore = Process::new("chmod").args(["-R", "u+w", dir.path().to_str().unwrap()]).status().unwrap();
    assert!(restore.success());
}
