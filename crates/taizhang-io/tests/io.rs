//! CSV import and the exports on a real sled store: a corpus of bad files, each refused
//! at its file:line:column with the log unchanged; a good import exported back to the
//! same rows; a re-import that writes nothing; the XLSX workbook read back by calamine.

use std::io::Cursor;
use std::sync::Arc;

use calamine::{Data, Reader, Xlsx};
use taizhang_app::{Ledger, Personal};
use taizhang_io::export::{self, ReportScope, ReportSheet, REPORT_HEADER, REPORT_SHEETS, TOTAL};
use taizhang_io::import::{self, id_for, Encoding};
use taizhang_io::{Kind, Located};
use taizhang_read::report::{Bucket, GroupBy, Scope};
use taizhang_read::{AsOf, Projector};
use taizhang_store::{EventStore, RawRecord, SledStore};
use tempfile::TempDir;
use time::macros::date;

struct World {
    ledger: Arc<Ledger<SledStore>>,
    _dir: TempDir,
}

impl World {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(dir.path()).unwrap());
        let ledger = Arc::new(Ledger::open(store, &dir.path().join("master.key")).await.unwrap());
        Self { ledger, _dir: dir }
    }

    async fn log(&self) -> Vec<RawRecord> {
        self.ledger.store().read_raw(1, usize::MAX).await.unwrap()
    }

    /// Reads and checks `text`; returns the problems as `file:line:column: …` lines.
    async fn problems(&self, kind: Kind, bytes: &[u8], encoding: Encoding) -> Vec<String> {
        let mut import = import::read(kind, bytes, encoding);
        import.check(&self.ledger, None).await.unwrap();
        import.problems.iter().map(|p| Located { file: "f.csv", problem: p }.to_string()).collect()
    }

    /// Imports a file that must be clean; returns the commands written.
    async fn import(&self, kind: Kind, text: &str) -> usize {
        let mut import = import::read(kind, text.as_bytes(), Encoding::Utf8);
        import.check(&self.ledger, None).await.unwrap();
        let shown: Vec<String> =
            import.problems.iter().map(|p| Located { file: "f.csv", problem: p }.to_string()).collect();
        assert!(shown.is_empty(), "{shown:?}");
        import.write(&self.ledger, &operator(), false, |_| {}).await.unwrap().commands
    }

    async fn model(&self) -> Arc<Projector<SledStore>> {
        Projector::open(self.ledger.store().clone(), None).await.unwrap()
    }

    /// The records of `kind` as exported as of `as_of`, as text without the BOM.
    async fn export(&self, kind: Kind, as_of: &AsOf) -> String {
        let projector = self.model().await;
        let bytes = export::records_file(&self.ledger, &projector, kind, as_of, |_, _| true).await.unwrap();
        String::from_utf8(bytes).unwrap().strip_prefix('\u{feff}').unwrap().to_owned()
    }
}

const UNITS: &str = "id,name,industry,region,parent
SY-0001,十堰市人民医院,医疗卫生,茅箭区,
SY-0002,茅箭区分院,医疗卫生,茅箭区,SY-0001
SY-0003,十堰市税务局,税务,张湾区,
";

const MEMBERS: &str = "id,unit,joined_on,name,national_id,phone,birth_date
M1,SY-0001,2011-01-01,王俊,,0719-8888888,1980-05-04
M2,SY-0001,2011-01-01,李娜,,,
M3,SY-0003,2011-01-01,陈七,,,1975-12-01
";

const OUTINGS: &str = "outing,unit,date,start,end,place,category,description,beneficiaries,member,hours
O1,SY-0001,2011-06-04,08:30,12:30,武当路社区,义诊,为老人测血压,120,M1,4
O1,SY-0001,2011-06-04,08:30,12:30,武当路社区,义诊,为老人测血压,120,M2,2.5
O2,SY-0003,2011-06-11,09:00,11:00,张湾区办税厅,便民服务,,30,M3,
";

async fn seeded() -> World {
    let w = World::new().await;
    assert_eq!(w.import(Kind::Units, UNITS).await, 3);
    assert_eq!(w.import(Kind::Members, MEMBERS).await, 3);
    assert_eq!(w.import(Kind::Outings, OUTINGS).await, 2);
    w
}

#[tokio::test]
async fn bad_files_are_refused_at_their_line_and_column_and_change_nothing() {
    let w = seeded().await;
    let before = w.log().await;
    let header = "outing,unit,date,start,end,place,category,description,beneficiaries,member,hours\n";
    let row = |s: &str| format!("{header}{s}\n");
    let long = format!("{header}O9,SY-0001,2011-06-05,08:00,09:00,{},义诊,,1,M1,1\n", "地".repeat(30_000));
    let gbk = encoding_rs::GBK.encode(&row("O9,SY-0001,2011-06-05,08:00,09:00,武当路社区,义诊,,1,M1,1")).0.into_owned();
    let cases: Vec<(&str, Kind, Vec<u8>, &[&str])> = vec![
        ("empty file", Kind::Units, b"".to_vec(), &["f.csv:1:0: the file is empty"]),
        ("wrong header", Kind::Units, b"id,name,trade,region\n".to_vec(), &[
            "f.csv:1:0: missing column industry (行业)",
            "f.csv:1:3: unknown column \"trade\"",
        ]),
        ("a column twice", Kind::Units, b"id,name,industry,region,name\n".to_vec(), &["f.csv:1:5: column name appears twice"]),
        ("bad date", Kind::Outings, row("O9,SY-0001,2011-06-31,08:00,09:00,社区,义诊,,1,M1,1").into_bytes(), &["f.csv:2:3: date: "]),
        ("negative hours", Kind::Outings, row("O9,SY-0001,2011-06-05,08:00,09:00,社区,义诊,,1,M1,-1").into_bytes(), &["f.csv:2:11: hours: "]),
        ("end before start", Kind::Outings, row("O9,SY-0001,2011-06-05,10:00,09:00,社区,义诊,,1,M1,").into_bytes(), &["f.csv:2:5: end: "]),
        ("unknown unit", Kind::Members, "id,unit,joined_on,name\nM9,SY-9999,2011-01-01,周八\n".as_bytes().to_vec(), &["f.csv:2:2: unit: unit SY-9999 "]),
        ("unknown member", Kind::Outings, row("O9,SY-0001,2011-06-05,08:00,09:00,社区,义诊,,1,M404,1").into_bytes(), &["f.csv:2:10: member: member M404 "]),
        ("duplicate rows", Kind::Members, "id,unit,joined_on,name\nM9,SY-0001,2011-01-01,周八\nM9,SY-0001,2011-01-01,周八\n".as_bytes().to_vec(), &["f.csv:3:1: id: the same id as line 2"]),
        ("a participant twice", Kind::Outings, format!("{header}O9,SY-0001,2011-06-05,08:00,09:00,社区,义诊,,1,M1,1\nO9,SY-0001,2011-06-05,08:00,09:00,社区,义诊,,1,M1,1\n").into_bytes(), &["f.csv:3:10: member: is in this outing already, on line 2"]),
        ("rows of one outing disagree", Kind::Outings, format!("{header}O9,SY-0001,2011-06-05,08:00,09:00,社区,义诊,,1,M1,1\nO9,SY-0001,2011-06-06,08:00,09:00,社区,义诊,,1,M2,1\n").into_bytes(), &["f.csv:3:3: date: differs from line 2"]),
        ("overlapping outing", Kind::Outings, row("O9,SY-0001,2011-06-04,10:00,11:00,社区,义诊,,1,M1,1").into_bytes(), &["f.csv:2:10: member: member M1 already serves in outing O1 "]),
        // Every participant at fault, each at their own row, in one pass.
        ("two participants at fault", Kind::Outings, format!("{header}O9,SY-0001,2011-06-05,08:00,09:00,社区,义诊,,1,M404,1\nO9,SY-0001,2011-06-05,08:00,09:00,社区,义诊,,1,M3,1\nO9,SY-0001,2011-06-05,08:00,09:00,社区,义诊,,1,M1,1\n").into_bytes(), &["f.csv:2:10: member: member M404 does not exist", "f.csv:3:10: member: member M3 "]),
        // A changed row of a record already in the log says how to change it.
        ("a changed row", Kind::Units, "id,name,industry,region\nSY-0001,十堰市第一人民医院,医疗卫生,茅箭区\n".as_bytes().to_vec(), &["f.csv:2:1: id: unit-SY-0001 already exists: imported before with other values, or registered another way; to change it, import the file again with --amend REASON (it shows what would change first), or correct it (renameUnit, moveUnit or reclassifyUnit)"]),
        ("too many fields", Kind::Units, b"id,name,industry,region\nU9,a,b,c,d\n".to_vec(), &["f.csv:2:0: the row has 5 fields; the header has 4"]),
        ("broken encoding", Kind::Units, b"id,name,industry,region\nU9,\xff\xfe,b,c\n".to_vec(), &["f.csv:2:4: not valid UTF-8"]),
        ("GBK read as UTF-8", Kind::Outings, gbk.clone(), &["f.csv:2:"]),
        ("huge line", Kind::Outings, long.into_bytes(), &["f.csv:2:0: the row is longer than 65536 bytes"]),
        // Saved by Excel on Windows: lines end in CR LF, and the line numbers are the file's.
        ("CRLF lines", Kind::Members, "id,unit,joined_on,name\r\nM8,SY-0001,2011-01-01,周七\r\nM9,SY-0001,2011-01-01,周八\r\nM9,SY-0001,2011-01-01,周八\r\n".as_bytes().to_vec(), &["f.csv:4:1: id: the same id as line 3"]),
        ("a day that does not exist", Kind::Members, "id,unit,joined_on,name\nM9,SY-0001,1975-02-30,周八\n".as_bytes().to_vec(), &["f.csv:2:3: joined_on: 1975-02-30 is not a day of the calendar"]),
        ("national id and birth date disagree", Kind::Members, "id,unit,joined_on,name,national_id,birth_date\nM9,SY-0001,2011-01-01,周八,110105198005040028,1981-05-04\n".as_bytes().to_vec(), &["f.csv:2:5: national_id: "]),
        ("not a date", Kind::Members, "id,unit,joined_on,name\nM9,SY-0001,六月一日,周八\n".as_bytes().to_vec(), &["f.csv:2:3: joined_on: \"六月一日\" is not a date (YYYY-MM-DD, or YYYY/M/D as spreadsheets write it)"]),
    ];
    for (name, kind, bytes, expected) in cases {
        let problems = w.problems(kind, &bytes, Encoding::Utf8).await;
        assert_eq!(problems.len(), expected.len(), "{name}: {problems:?}");
        for (problem, start) in problems.iter().zip(expected) {
            assert!(problem.starts_with(start), "{name}: {problem:?} should start with {start:?}");
        }
        let mut import = import::read(kind, &bytes, Encoding::Utf8);
        import.check(&w.ledger, None).await.unwrap();
        assert_eq!(import.write(&w.ledger, &operator(), false, |_| {}).await.unwrap().commands, 0, "{name}");
        assert_eq!(w.log().await, before, "{name}: a refused file must not change the log");
    }
    // The GBK file is fine when said to be GBK; a UTF-8 file said to be GBK is refused
    // (its Chinese would be garbled into the log for good).
    assert_eq!(w.problems(Kind::Outings, &gbk, Encoding::Gbk).await, Vec::<String>::new());
    let utf8 = row("O9,SY-0001,2011-06-05,08:00,09:00,武当路社区,义诊,,1,M1,1");
    let refused = w.problems(Kind::Outings, utf8.as_bytes(), Encoding::Gbk).await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].starts_with("f.csv:1:0: the file is UTF-8, not GBK"), "{refused:?}");
    // Dates as Chinese Excel writes them, in a file saved with CR LF.
    let excel = "outing,unit,date,start,end,place,category,description,beneficiaries,member,hours\r\n\
                 O9,SY-0001,2011/6/5,8:00,9:00,武当路社区,义诊,,1,M1,1\r\n";
    assert_eq!(w.problems(Kind::Outings, excel.as_bytes(), Encoding::Utf8).await, Vec::<String>::new());
}

#[tokio::test]
async fn with_skip_invalid_the_good_rows_are_written() {
    let w = seeded().await;
    let text = "id,unit,joined_on,name\nM7,SY-0003,2011-01-01,赵六\nM8,SY-0404,2011-01-01,钱五\n";
    let mut import = import::read(Kind::Members, text.as_bytes(), Encoding::Utf8);
    import.check(&w.ledger, None).await.unwrap();
    assert_eq!(import.problems.len(), 1);
    let written = import.write(&w.ledger, &operator(), true, |_| {}).await.unwrap();
    assert_eq!((written.commands, written.skipped_rows), (1, 1));
    let personal = w.ledger.personal(taizhang_core::MemberId(id_for("member", "M7"))).await.unwrap();
    assert!(matches!(personal, Personal::Known(p) if p.name.as_str() == "赵六"));
}

#[tokio::test]
async fn a_reimport_writes_nothing_and_an_export_gives_back_the_rows() {
    let w = seeded().await;
    let before = w.log().await;
    for (kind, text, records) in [(Kind::Units, UNITS, 3), (Kind::Members, MEMBERS, 3), (Kind::Outings, OUTINGS, 2)] {
        let mut import = import::read(kind, text.as_bytes(), Encoding::Utf8);
        import.check(&w.ledger, None).await.unwrap();
        assert!(import.problems.is_empty(), "{:?}", import.problems);
        assert_eq!(import.already_imported, records, "{kind:?}");
        assert_eq!(import.write(&w.ledger, &operator(), false, |_| {}).await.unwrap().commands, 0);
    }
    assert_eq!(w.log().await, before, "importing the same files again writes nothing");

    // The export writes the file's own codes, in the import's layout and in code order.
    let elsewhere = World::new().await;
    for (kind, text) in [(Kind::Units, UNITS), (Kind::Members, MEMBERS), (Kind::Outings, OUTINGS)] {
        let exported = w.export(kind, &AsOf::now()).await;
        // The same rows in the same order (the file is in code order); hours with two
        // decimals.
        let mut want: Vec<String> = text.lines().map(str::to_owned).collect();
        if kind == Kind::Outings {
            let hours = text.replace(",4\n", ",4.00\n").replace(",2.5\n", ",2.50\n").replace(",\n", ",2.00\n");
            want = hours.lines().map(str::to_owned).collect();
        }
        let mut got: Vec<String> = exported.lines().map(str::to_owned).collect();
        // Headed in Chinese and English, each the file's English column.
        let bilingual: Vec<String> = kind.layout().columns.iter().map(|c| c.bilingual()).collect();
        assert_eq!(got.remove(0), bilingual.join(","), "{kind:?} header");
        assert_eq!(want.remove(0), kind.layout().columns.iter().map(|c| c.name).collect::<Vec<_>>().join(","));
        assert_eq!(got, want, "{kind:?}");
        // The export, headers and all, imports into another store (units, then members,
        // then outings) without a problem.
        let mut again = import::read(kind, exported.as_bytes(), Encoding::Utf8);
        again.check(&elsewhere.ledger, None).await.unwrap();
        assert!(again.problems.is_empty(), "{kind:?}: {:?}", again.problems);
        assert!(again.write(&elsewhere.ledger, &operator(), false, |_| {}).await.unwrap().commands > 0, "{kind:?}");
    }
}

#[tokio::test]
async fn the_report_workbook_opens_with_its_sheets_headers_and_totals() {
    let w = seeded().await;
    let projector = w.model().await;
    let period = taizhang_core::Period::new(date!(2011 - 06 - 01), date!(2011 - 06 - 30)).unwrap();
    let scope = ReportScope { period, scope: Scope::All, as_of: AsOf::now() };
    let bytes = export::reports_xlsx(&projector, &scope).unwrap();

    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes.clone())).unwrap();
    let names: Vec<&str> = REPORT_SHEETS.iter().map(|s| s.name).collect();
    assert_eq!(workbook.sheet_names(), names);
    let by_unit = workbook.worksheet_range("按单位 by unit").unwrap();
    let rows: Vec<&[Data]> = by_unit.rows().collect();
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    // By unit: where each unit is, after its name; the other columns as every report.
    assert_eq!(header[..4], [REPORT_HEADER[0], REPORT_HEADER[1], "区域 region", "行业 industry"]);
    assert_eq!(header[4..], REPORT_HEADER[2..]);
    // Three units; then the totals: 2 outings, 4 + 2.5 + 2 = 8.5 recorded hours.
    assert_eq!(rows.len(), 5);
    let total: Vec<Data> = [&rows[4][..2], &rows[4][4..]].concat();
    assert_eq!(total[0], Data::String(TOTAL.into()));
    assert_eq!(total[4], Data::Float(2.0));
    assert_eq!(total[6], Data::Float(8.5));
    assert_eq!(total[7], Data::Float(0.0));
    // The totals row is the report of the whole scope: people counted once, members,
    // and the participation rate, as the CSV report grouped by total gives them.
    let whole = ReportSheet { name: TOTAL, group_by: GroupBy::Total, bucket: Bucket::Period };
    let expected = export::report_rows(&projector, &scope, &whole).unwrap();
    let expected = &projector.read(|m| export::report_csv_rows(m, &scope, GroupBy::Total, &expected))[0];
    for column in [5, 8, 9, 10] {
        let (Data::Float(written), Ok(wanted)) = (&total[column], expected[column].parse::<f64>()) else {
            panic!("column {column}: {:?} against {:?}", total[column], expected[column]);
        };
        assert!((written - wanted).abs() < 0.005, "column {column}: {written} against {wanted}");
    }
    assert!(matches!(total[5], Data::Float(v) if v > 0.0), "{:?}", total[5]);
    // Dates are dates, not text.
    assert!(matches!(rows[1][4], Data::DateTime(_)), "{:?}", rows[1][4]);
    // Every sheet keeps its header row in view.
    let mut parts = zip::ZipArchive::new(Cursor::new(&bytes)).unwrap();
    for n in 1..=REPORT_SHEETS.len() {
        let mut sheet = String::new();
        std::io::Read::read_to_string(&mut parts.by_name(&format!("xl/worksheets/sheet{n}.xml")).unwrap(), &mut sheet)
            .unwrap();
        assert!(
            sheet.contains(r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#),
            "{sheet}"
        );
    }
    // Numbers are numbers; the hospital's row has its 6.5 hours.
    let hospital = rows.iter().find(|r| r[1] == Data::String("十堰市人民医院".into())).unwrap();
    assert_eq!((hospital[6].clone(), hospital[8].clone()), (Data::Float(1.0), Data::Float(6.5)));
    assert_eq!(
        (hospital[2].clone(), hospital[3].clone()),
        (Data::String("茅箭区".into()), Data::String("医疗卫生".into()))
    );
    let by_region = workbook.worksheet_range("按区域 by region").unwrap();
    assert_eq!(by_region.rows().count(), 4, "two regions, header and totals");
}

/// A name a spreadsheet would run as a formula is exported with a leading apostrophe
/// (shown as text, not run), and the export imports again as the same values.
#[tokio::test]
async fn formula_cells_are_exported_as_text_and_import_again() {
    let w = World::new().await;
    let units = "id,name,industry,region,parent\nSY-0009,\"=HYPERLINK(\"\"http://x\"\",\"\"点击\"\")\",@医疗,-区,\n";
    assert_eq!(w.import(Kind::Units, units).await, 1);
    let exported = w.export(Kind::Units, &AsOf::now()).await;
    let row = exported.lines().nth(1).unwrap();
    assert!(row.contains(r#","'=HYPERLINK(""http://x"",""点击"")",'@医疗,'-区,"#), "{row}");

    // Imported elsewhere, the export gives the same unit, names as typed.
    let elsewhere = World::new().await;
    assert_eq!(elsewhere.import(Kind::Units, &exported).await, 1);
    assert_eq!(elsewhere.export(Kind::Units, &AsOf::now()).await, exported);
    let unit = w.model().await.read(|m| m.units.values().next().unwrap().last().unwrap().clone());
    assert_eq!(
        [unit.name.as_str(), unit.industry.as_str(), unit.region.as_str()],
        [r#"=HYPERLINK("http://x","点击")"#, "@医疗", "-区"]
    );
}

/// The members export names each member as their latest correction has it, and an
/// export as of before the correction as the registration did.
#[tokio::test]
async fn the_members_export_shows_corrected_personal_data() {
    let w = seeded().await;
    let li = taizhang_core::MemberId(id_for("member", "M2"));
    let before = w.ledger.store().head();
    let correction = taizhang_core::CorrectPersonalData {
        member: li,
        personal: taizhang_core::PersonalData {
            name: taizhang_core::Text::parse("name", "李娜娜").unwrap(),
            national_id: None,
            phone: Some("13907190000".into()),
            birth_date: None,
        },
        reason: taizhang_core::Text::parse("reason", "姓名有误").unwrap(),
    };
    let context = taizhang_app::CommandContext::new(taizhang_core::Actor::OPERATOR);
    w.ledger.execute(context, taizhang_core::Command::CorrectPersonalData(correction)).await.unwrap();
    let row_of_li = |exported: String| -> Vec<String> {
        let line = exported.lines().find(|l| l.starts_with("M2,")).unwrap().to_owned();
        line.split(',').map(str::to_owned).collect()
    };
    let now = row_of_li(w.export(Kind::Members, &AsOf::now()).await);
    assert_eq!((now[3].as_str(), now[5].as_str()), ("李娜娜", "13907190000"));
    let then = row_of_li(w.export(Kind::Members, &AsOf::at_position(before)).await);
    assert_eq!((then[3].as_str(), then[5].as_str()), ("李娜", ""));
}

/// A changed row of a record in the log, imported with a reason, is read as the
/// corrections it asks for: shown with every value it changes before anything is
/// written, written as corrections (the registration stays in the history), and
/// imported again it writes nothing more. A difference no correction makes is a
/// problem at its column, and the file writes nothing.
#[tokio::test]
async fn changed_rows_are_read_as_corrections_shown_before_they_are_written() {
    let w = seeded().await;
    let reason = taizhang_core::Text::parse("reason", "核对台账更正").unwrap();
    let check = |kind: Kind, text: String| {
        let (w, reason) = (&w, reason.clone());
        async move {
            let mut import = import::read(kind, text.as_bytes(), Encoding::Utf8);
            import.amend(reason);
            import.check(&w.ledger, None).await.unwrap();
            import
        }
    };
    let units =
        UNITS.replace("SY-0003,十堰市税务局,税务,张湾区,", "SY-0003,十堰市税务局张湾分局,税务服务,张湾区,SY-0001");
    let members = MEMBERS.replace("M2,SY-0001,2011-01-01,李娜,,,", "M2,SY-0001,2011-01-01,李娜娜,,13907190000,");
    let outings = OUTINGS.replace("M2,2.5", "M2,2").replace(",120,", ",150,");
    let before = w.log().await;
    let mut found = Vec::new();
    for (kind, text) in [(Kind::Units, &units), (Kind::Members, &members), (Kind::Outings, &outings)] {
        let import = check(kind, text.clone()).await;
        assert!(import.problems.is_empty(), "{:?}", import.problems);
        found.extend(import.amendments.iter().map(|a| format!("{}: {a}", a.line)));
    }
    assert_eq!(
        found,
        [
            "4: SY-0003: name 十堰市税务局 → 十堰市税务局张湾分局; parent (empty) → SY-0001; industry 税务 → 税务服务",
            "3: M2: name 李娜 → 李娜娜; phone (empty) → 13907190000",
            "2: O1: beneficiaries 120 → 150; member M2 hours 2.50 → 2.00",
        ]
    );
    assert_eq!(w.log().await, before, "checking writes nothing");

    for (kind, text) in [(Kind::Units, &units), (Kind::Members, &members), (Kind::Outings, &outings)] {
        let import = check(kind, text.clone()).await;
        let written = import.write(&w.ledger, &operator(), false, |_| {}).await.unwrap();
        let corrections = if kind == Kind::Units { 3 } else { 1 };
        assert_eq!((written.commands, written.corrections), (corrections, corrections), "{kind:?}");
    }
    assert_eq!(
        w.export(Kind::Units, &AsOf::now()).await.lines().nth(3).unwrap(),
        "SY-0003,十堰市税务局张湾分局,税务服务,张湾区,SY-0001"
    );
    assert!(w.export(Kind::Members, &AsOf::now()).await.contains("M2,SY-0001,2011-01-01,李娜娜,,13907190000,"));
    let outings_now = w.export(Kind::Outings, &AsOf::now()).await;
    assert!(outings_now.contains(",150,M2,2.00"), "{outings_now}");
    let written = w.ledger.store().read_all(before.len() as u64 + 1, usize::MAX).await.unwrap();
    let reasons: Vec<&str> = written
        .iter()
        .filter_map(|e| match &e.payload {
            taizhang_core::DomainEvent::UnitReclassified(e) => Some(e.reason.as_str()),
            taizhang_core::DomainEvent::PersonalDataCorrected(e) => Some(e.reason.as_str()),
            taizhang_core::DomainEvent::OutingAmended(e) => Some(e.reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons, ["核对台账更正"; 3],
        "the reclassification, the personal data and the amendment keep the reason"
    );

    let after = w.log().await;
    for (kind, text) in [(Kind::Units, &units), (Kind::Members, &members), (Kind::Outings, &outings)] {
        let import = check(kind, text.clone()).await;
        assert!(import.amendments.is_empty() && import.problems.is_empty(), "{kind:?}");
        assert_eq!(import.write(&w.ledger, &operator(), false, |_| {}).await.unwrap().commands, 0);
    }
    assert_eq!(w.log().await, after, "imported again, the corrected file writes nothing");

    // When a member joined, and the unit of an outing, are not corrected by a row.
    let joined = members.replace("M1,SY-0001,2011-01-01", "M1,SY-0001,2011-02-01");
    let import = check(Kind::Members, joined).await;
    let shown: Vec<String> =
        import.problems.iter().map(|p| Located { file: "f.csv", problem: p }.to_string()).collect();
    assert_eq!(
        shown,
        ["f.csv:2:3: joined_on: the member joined on 2011-01-01 by the log; the day a member joined is not corrected"]
    );
    let moved = outings.replace("O2,SY-0003", "O2,SY-0001");
    let import = check(Kind::Outings, moved).await;
    assert!(
        import.problems.iter().any(|p| p.line == 4 && p.header == Some("unit") && p.message.contains("unit SY-0003's")),
        "{:?}",
        import.problems
    );
    assert_eq!(w.log().await, after);
}

/// The operator at the command line, who imports these files.
fn operator() -> taizhang_app::CommandContext {
    taizhang_app::CommandContext::new(taizhang_core::Actor::OPERATOR)
}

const COMMITMENTS: &str = "id,unit,member,category,text,target,from,until,public,renews
CN-01,SY-0001,,办结时限,即办件当场办结,≤ 3 个工作日,2011-01-01,2011-06-30,是,
CN-02,SY-0001,M1,岗位承诺,每月参加志愿服务不少于 4 小时,,2011-01-01,2011-06-30,否,
CN-03,SY-0001,,办结时限,即办件当场办结，网上预约,,2011-07-01,2011-12-31,是,CN-01
";

/// A unit's list of commitments: each row checked first, named at its column; a
/// renewal written after the item it carries on even when listed first; a re-import
/// writes nothing; the export gives the rows back; a changed row under `--amend` is an
/// amendment, shown first.
#[tokio::test]
async fn a_units_commitments_are_imported_exported_and_amended() {
    let w = seeded().await;
    let before = w.log().await;
    let bad = "id,unit,member,category,text,target,from,until,public,renews
CN-09,SY-0001,,办结时限,承诺,,2011-07-01,2011-06-30,是,
CN-10,SY-0001,,办结时限,承诺,,2011-01-01,2011-06-30,也许,
CN-11,SY-0001,M3,办结时限,承诺,,2011-01-01,2011-06-30,,
CN-12,SY-0001,,办结时限,承诺,,2011-01-01,2011-06-30,,CN-99
CN-13,SY-0003,,办结时限,承诺,,2011-01-01,2011-06-30,,CN-01
CN-01,SY-0001,,办结时限,即办件当场办结,≤ 3 个工作日,2011-01-01,2011-06-30,是,
";
    let problems = w.problems(Kind::Commitments, bad.as_bytes(), Encoding::Utf8).await;
    assert_eq!(
        problems,
        [
            "f.csv:2:8: until: the term ends on 2011-06-30 before it begins on 2011-07-01",
            "f.csv:3:9: public: \"也许\" is neither 是 nor 否",
            "f.csv:4:3: member: member M3 does not belong to unit SY-0001 on 2011-01-01",
            "f.csv:5:10: renews: commitment CN-99 does not exist",
            "f.csv:6:10: renews: commitment CN-01 belongs to unit SY-0001; a renewal carries on its own unit's items only",
        ]
    );
    assert_eq!(w.log().await, before, "a file with problems writes nothing");

    // The renewal listed first is written after the item it renews.
    let lines: Vec<&str> = COMMITMENTS.lines().collect();
    let reordered = format!("{}\n{}\n{}\n{}\n", lines[0], lines[3], lines[1], lines[2]);
    assert_eq!(w.import(Kind::Commitments, &reordered).await, 3);
    let mut again = import::read(Kind::Commitments, COMMITMENTS.as_bytes(), Encoding::Utf8);
    again.check(&w.ledger, None).await.unwrap();
    assert_eq!((again.problems.len(), again.already_imported), (0, 3));
    let exported = w.export(Kind::Commitments, &AsOf::now()).await;
    let mut got: Vec<&str> = exported.lines().collect();
    got.remove(0);
    assert_eq!(got, COMMITMENTS.lines().skip(1).collect::<Vec<_>>(), "the export gives back the rows, in code order");

    // A changed row under --amend: an amendment of the item, shown before it is written.
    let changed = COMMITMENTS.replace("≤ 3 个工作日", "≤ 2 个工作日");
    let mut amend = import::read(Kind::Commitments, changed.as_bytes(), Encoding::Utf8);
    amend.amend(taizhang_core::Text::parse("reason", "承诺提标").unwrap());
    amend.check(&w.ledger, None).await.unwrap();
    assert!(amend.problems.is_empty(), "{:?}", amend.problems);
    let shown: Vec<String> = amend.amendments.iter().map(|a| format!("{}: {a}", a.line)).collect();
    assert_eq!(shown, ["2: CN-01: target ≤ 3 个工作日 → ≤ 2 个工作日"]);
    let written = amend.write(&w.ledger, &operator(), false, |_| {}).await.unwrap();
    assert_eq!((written.commands, written.corrections), (1, 1));
}

/// A unit's public list (承诺事项公示表) holds its standing public items with their
/// findings and renewals; a round's report, as CSV of one grouping and as a workbook
/// of every grouping and the units not looked back, counts what the round saw.
#[tokio::test]
async fn the_public_list_and_a_rounds_report_are_written_for_spreadsheets() {
    use taizhang_core::*;
    let w = seeded().await;
    let round = RoundId::new();
    let run = async |cmd: Command| w.ledger.execute(operator(), cmd).await.unwrap();
    // CN-01 and CN-02 are made before the round; CN-03, renewing CN-01, within it.
    let lines: Vec<&str> = COMMITMENTS.lines().collect();
    assert_eq!(w.import(Kind::Commitments, &lines[..3].join("\n")).await, 2);
    let period = Period::new(date!(2011 - 01 - 01), date!(2011 - 06 - 30)).unwrap();
    let name = Text::parse("name", "上半年回头看").unwrap();
    run(Command::OpenRound(OpenRound { round, name, period, scope: RoundScope::All })).await;
    let evidence = Text::parse("evidence", "群众意见").unwrap();
    let cn01 = CommitmentId(id_for("commitment", "CN-01"));
    run(Command::AssessCommitment(AssessCommitment { commitment: cn01, fulfilment: Fulfilment::PartlyKept, evidence }))
        .await;
    assert_eq!(w.import(Kind::Commitments, &format!("{}\n{}\n", lines[0], lines[3])).await, 1);

    let projector = w.model().await;
    let unit = UnitId(id_for("unit", "SY-0001"));
    let bytes = projector.read(|m| export::public_list_xlsx(m, unit)).unwrap();
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let rows: Vec<Vec<Data>> = workbook.worksheet_range_at(0).unwrap().unwrap().rows().map(<[Data]>::to_vec).collect();
    assert_eq!(rows.len(), 3, "the header, CN-01 and CN-03 (CN-02 is not public): {rows:?}");
    assert_eq!(
        rows[1].iter().map(ToString::to_string).collect::<Vec<_>>()[..4],
        ["CN-01", "十堰市人民医院", "办结时限", "即办件当场办结"]
    );
    assert_eq!((rows[1][7].to_string(), rows[1][8].to_string()), ("部分兑现 partly kept".into(), "CN-03".into()));
    assert!(matches!(rows[1][5], Data::DateTime(_)), "{:?}", rows[1][5]);

    let csv = projector.read(|m| export::round_report_file(m, round, Some("unit"))).unwrap().unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let hospital = csv.lines().find(|l| l.starts_with("SY-0001,")).unwrap();
    // units 1, looked back 0 (CN-02 not assessed), due 2, assessed 1, kept 0, partly 1,
    // not kept 0, kept % 0, new 1, renewals 1, no opinions.
    assert_eq!(hospital, "SY-0001,十堰市人民医院,1,0,2,1,0,1,0,0.00,1,1,0,0,0,0,0");
    assert!(csv.lines().last().unwrap().starts_with(&format!("{TOTAL},,3,0,2,1,")), "{csv}");
    assert_eq!(projector.read(|m| export::round_report_file(m, round, Some("weekly"))).unwrap(), None);

    let bytes = projector.read(|m| export::round_report_file(m, round, None)).unwrap().unwrap();
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    assert_eq!(
        workbook.sheet_names(),
        ["按单位 by unit", "按区域 by region", "按行业 by industry", "未回头看 not looked back"]
    );
    let behind = workbook.worksheet_range("未回头看 not looked back").unwrap();
    let behind: Vec<String> = behind.rows().skip(1).map(|r| r[0].to_string()).collect();
    assert_eq!(behind, ["SY-0001"]);
}

/// The public's ballots in bulk: each row checked first and named at its column (an
/// unknown standing, a ballot rating both or neither, a bad score, a member in an
/// evaluation of units); a clean file written, again writes nothing; the export lists
/// them with their ratings as the file wrote them.
#[tokio::test]
async fn ballots_are_imported_in_bulk_checked_row_by_row_and_exported() {
    use taizhang_core::*;
    let w = seeded().await;
    let evaluation = EvaluationId::new();
    let open = OpenEvaluation {
        evaluation,
        name: Text::parse("name", "2011年上半年群众评议").unwrap(),
        half_year: HalfYear { year: 2011, half: 1 },
        subject: EvaluationSubject::Units,
        scope: RoundScope::All,
    };
    w.ledger.execute(operator(), Command::OpenEvaluation(open)).await.unwrap();
    let before = w.log().await;
    let header = "id,evaluation,unit,member,voter,rating,scores,comment\n";
    let bad = format!(
        "{header}B-1,{evaluation},SY-0001,,居民,满意,,\n\
         B-2,{evaluation},SY-0001,M1,群众,满意,,\n\
         B-3,{evaluation},,,群众,满意,,\n\
         B-4,{evaluation},SY-0001,,群众,很好,服务态度:90,\n\
         B-5,{evaluation},SY-0001,,群众,满意,服务态度:120,\n\
         B-6,{evaluation},,M1,群众,满意,,\n\
         B-7,{},SY-0001,,群众,满意,,\n",
        EvaluationId::new()
    );
    let problems = w.problems(Kind::Ballots, bad.as_bytes(), Encoding::Utf8).await;
    let expected_problems = [
        "f.csv:2:5: voter: \"居民\" is none of 群众, 群众监督员, 行风评议员 (citizen, supervisor, assessor)",
        "f.csv:3:4: member: a ballot rates a unit or a member, not both: leave unit empty",
        "f.csv:4:3: unit: is empty, and so is member: a ballot rates a unit or a member",
        "f.csv:5:6: rating: \"很好\" is none of 满意, 基本满意, 不满意, 不了解",
    ];
    assert_eq!(problems[..4], expected_problems, "{problems:#?}");
    assert!(problems[4].starts_with("f.csv:6:7: scores: "), "{problems:#?}");
    assert!(problems[5].starts_with("f.csv:7:4: member: member M1 is not evaluated in evaluation"), "{problems:#?}");
    assert!(problems[6].starts_with("f.csv:8:2: evaluation: evaluation ") && problems[6].ends_with("does not exist"));
    assert_eq!(problems.len(), 7, "{problems:#?}");
    assert_eq!(w.log().await, before, "a file with problems writes nothing");

    let good = format!(
        "{header}B-1,{evaluation},SY-0001,,群众,满意,服务态度:90;办事效率:85,服务热情\n\
         B-2,{evaluation},SY-0001,,supervisor,fairly_satisfied,,\n\
         B-3,{evaluation},SY-0003,,行风评议员,不了解,,\n"
    );
    assert_eq!(w.import(Kind::Ballots, &good).await, 3);
    let mut again = import::read(Kind::Ballots, good.as_bytes(), Encoding::Utf8);
    again.check(&w.ledger, None).await.unwrap();
    assert_eq!((again.problems.len(), again.already_imported), (0, 3));
    let exported = w.export(Kind::Ballots, &AsOf::now()).await;
    let mut rows: Vec<Vec<String>> =
        exported.lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect();
    // By rating, as text: 不了解, 基本满意, 满意.
    rows.sort_by(|a, b| a[5].cmp(&b[5]));
    let shown: Vec<Vec<&str>> = rows.iter().map(|r| r[2..].iter().map(String::as_str).collect()).collect();
    assert_eq!(
        shown,
        [
            vec!["SY-0003", "", "行风评议员", "不了解", "", ""],
            vec!["SY-0001", "", "群众监督员", "基本满意", "", ""],
            vec!["SY-0001", "", "群众", "满意", "服务态度:90;办事效率:85", "服务热情"],
        ]
    );
    assert!(rows.iter().all(|r| r[1] == evaluation.to_string()));
}
