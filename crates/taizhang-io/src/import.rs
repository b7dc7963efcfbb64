//! CSV import: read, check every row, then write — or write nothing.
//!
//! 1. [`read`] decodes the file (UTF-8 with or without BOM, or GBK), checks the header
//!    against the kind's [`Layout`](crate::Layout) and every field's form, and turns
//!    rows into commands. Ids come from the `id`/`outing` column: a taizhang id (a UUID)
//!    is used as it is, any other code becomes a name-based UUID (v5), so a code always
//!    names the same record. Each command's id is derived from its rows' content.
//! 2. [`Import::check`] drops the commands already in the log (a re-import writes
//!    nothing) and rehearses the rest through the domain's own rules, in the order
//!    they will be written, against the log plus the earlier rows: a missing unit, a
//!    member over 24 hours a day, overlapping outings are found before anything is
//!    written, each at its file, line and column.
//! 3. [`Import::write`] sends the commands through the command path in batches, in
//!    the order checked (parent units before their children, otherwise the file's).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use taizhang_app::{AppError, CommandContext, Ledger};
use taizhang_core::*;
use taizhang_store::{EventStore, StoreError};
use uuid::Uuid;

use crate::{Kind, Problem};

/// The longest record accepted, in bytes: a line beyond it is not a spreadsheet row.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The namespace of the command ids of imported rows.
const NAMESPACE: Uuid = Uuid::from_u128(0x7a1c_7a5e_1d0c_4b3e_9c61_6a2d_1f00_2011);

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Encoding {
    #[default]
    Utf8,
    Gbk,
}

impl std::str::FromStr for Encoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "gbk" | "gb2312" | "gb18030" => Ok(Encoding::Gbk),
            other => Err(format!("unknown encoding {other:?}: utf-8 or gbk")),
        }
    }
}

/// The id a code in a file names: a UUID as it is, anything else name-based.
pub fn id_for(kind: &str, code: &str) -> Uuid {
    Uuid::try_parse(code).unwrap_or_else(|_| id_of_code(kind, code))
}

/// A row a command came from: its line and, for an outing, its participant.
#[derive(Clone, Copy, Debug)]
struct Row {
    line: u64,
    member: Option<MemberId>,
}

struct Planned {
    command_id: Uuid,
    command: Command,
    /// A correction of a record in the log, which a changed row asks for.
    correction: bool,
    /// Depth below units not in the file: parents are written before their children.
    phase: usize,
    rows: Vec<Row>,
}

/// A file read and checked: the commands to write and every problem found.
pub struct Import {
    pub kind: Kind,
    /// Data rows read (not counting the header and blank lines).
    pub rows: usize,
    pub problems: Vec<Problem>,
    /// Where each column of the layout is in the file (its field number from 1).
    columns: Vec<usize>,
    planned: Vec<Planned>,
    /// Commands with a problem: never written.
    invalid: HashSet<usize>,
    /// Commands found already in the log, and their rows.
    pub already_imported: usize,
    already_rows: usize,
    /// The records the file names by a code of its own, by the id the code names: a
    /// problem names them as the file does.
    codes: HashMap<Uuid, String>,
    /// With a reason, a changed row of a record already registered is read as the
    /// corrections it asks for ([`Import::amend`]).
    amend: Option<Text>,
    /// The corrections found, each at its line, to be shown before they are written.
    pub amendments: Vec<Amendment>,
}

/// The correction a changed row asks for: its line, its record and every value it
/// changes, the records named by their codes. Shown as `SY-0001: name 旧 → 新; …`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Amendment {
    pub line: u64,
    pub record: String,
    pub changes: Vec<Change>,
}

impl std::fmt::Display for Amendment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.record)?;
        for (i, c) in self.changes.iter().enumerate() {
            let blank = |v: &str| if v.is_empty() { "(empty)".to_owned() } else { v.to_owned() };
            let separator = if i == 0 { ": " } else { "; " };
            write!(f, "{separator}{} {} → {}", c.field, blank(&c.from), blank(&c.to))?;
        }
        Ok(())
    }
}

/// What a write did.
#[derive(Debug, PartialEq, Eq)]
pub struct Written {
    /// Commands applied now (a command is a unit, a member, or an outing with its rows,
    /// or a correction of one).
    pub commands: usize,
    /// Of those, corrections of records in the log.
    pub corrections: usize,
    /// Rows left out because they had problems (`--skip-invalid`).
    pub skipped_rows: usize,
}

fn problem(line: u64, column: usize, header: Option<&'static str>, message: impl Into<String>) -> Problem {
    Problem { line, column, header, message: message.into() }
}

/// The line of a record at `position` in `text`. The CSV reader places a record after a
/// CR LF at the LF (it ends a line at the CR), one line too early; the record's line is
/// that of its first byte past the line ends.
fn record_line(text: &[u8], position: &csv::Position) -> u64 {
    let offset = usize::try_from(position.byte()).unwrap_or(usize::MAX).min(text.len());
    let line_ends = text[offset..].iter().take_while(|b| matches!(b, b'\r' | b'\n'));
    position.line() + line_ends.filter(|b| **b == b'\n').count() as u64
}

/// Line and character column of byte `offset` in `bytes`.
fn place(bytes: &[u8], offset: usize) -> (u64, usize) {
    let before = &bytes[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

/// The file's text, or where its encoding breaks.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<String, Problem> {
    match encoding {
        Encoding::Utf8 => {
            let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            std::str::from_utf8(body).map(str::to_owned).map_err(|e| {
                let (line, column) = place(body, e.valid_up_to());
                problem(
                    line,
                    column,
                    None,
                    "not valid UTF-8 (saved as GBK by a Chinese Windows spreadsheet? add --encoding gbk)",
                )
            })
        }
        // A file of Chinese text saved as GBK is almost never valid UTF-8 as a whole,
        // while a UTF-8 file read as GBK becomes plausible-looking nonsense that the log
        // would keep for good: a file that reads as UTF-8 is refused as GBK.
        Encoding::Gbk if !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok() => Err(problem(
            1,
            0,
            None,
            "the file is UTF-8, not GBK: its Chinese would be garbled; import it without --encoding gbk",
        )),
        Encoding::Gbk => {
            let mut decoder = encoding_rs::GBK.new_decoder_without_bom_handling();
            let mut text = String::with_capacity(bytes.len() * 3 / 2);
            let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
            match result {
                encoding_rs::DecoderResult::InputEmpty => Ok(text),
                encoding_rs::DecoderResult::Malformed(bad, _) => {
                    let (line, column) = place(bytes, read.saturating_sub(bad as usize));
                    Err(problem(line, column, None, "not valid GBK"))
                }
                encoding_rs::DecoderResult::OutputFull => unreachable!("decode_to_string grows the string"),
            }
        }
    }
}

/// One data row's fields by layout column, with where they are.
struct Fields<'a> {
    line: u64,
    values: Vec<&'a str>,
    kind: Kind,
    columns: &'a [usize],
    problems: Vec<Problem>,
}

/// The column of a field the domain names as the API does: `personal.nationalId` is
/// `national_id`.
fn column_name(field: &str) -> String {
    let last = field.rsplit('.').next().unwrap_or(field);
    let mut name = String::with_capacity(last.len() + 2);
    for c in last.chars() {
        if c.is_ascii_uppercase() {
            name.push('_');
            name.push(c.to_ascii_lowercase());
        } else {
            name.push(c);
        }
    }
    name
}

/// A domain error's words without the field it names: a problem names its column.
fn reason(e: &DomainError) -> String {
    let text = e.to_string();
    match e.field().and_then(|field| text.strip_prefix(field)).and_then(|rest| rest.strip_prefix(": ")) {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> &'a str {
        self.values[self.kind.layout().index(name)]
    }

    fn report(&mut self, name: &str, message: impl Into<String>) {
        let i = self.kind.layout().index(name);
        self.problems.push(problem(self.line, self.columns[i], Some(self.kind.layout().columns[i].name), message));
    }

    /// The value, or a problem when a required one is empty.
    fn required(&mut self, name: &str) -> Option<&'a str> {
        let value = self.get(name);
        if value.is_empty() {
            self.report(name, "is empty; a value is required");
            None
        } else {
            Some(value)
        }
    }

    /// A value the domain parses; its error, which names the field, becomes the problem.
    fn parse<T>(&mut self, name: &str, parse: impl FnOnce(&str, &'a str) -> Result<T, DomainError>) -> Option<T> {
        let value = self.required(name)?;
        parse(name, value).map_err(|e| self.report(name, reason(&e))).ok()
    }

    fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str, &'a str) -> Result<T, DomainError>,
    ) -> Option<Option<T>> {
        let value = self.get(name);
        if value.is_empty() {
            return Some(None);
        }
        parse(name, value).map(Some).map_err(|e| self.report(name, reason(&e))).ok()
    }

    fn id(&mut self, name: &str, kind: &str) -> Option<Uuid> {
        self.required(name).map(|code| id_for(kind, code))
    }

    /// The record's own code in column `name`, kept with it: none when the column holds
    /// a taizhang id (a UUID) or is empty.
    fn code(&mut self, name: &str) -> Option<Text> {
        let value = self.get(name);
        if value.is_empty() || Uuid::try_parse(value).is_ok() {
            return None;
        }
        Text::parse(name, value).map_err(|e| self.report(name, reason(&e))).ok()
    }
}

/// The codes (or ids) written in a cell of `column`: `renews` lists several.
fn listed_codes<'a>(column: &str, cell: &'a str) -> Vec<&'a str> {
    let codes: Vec<&str> = if column == "renews" { cell.split([';', '；']).collect() } else { vec![cell] };
    codes.into_iter().map(str::trim).filter(|c| !c.is_empty()).collect()
}

/// 是 or 否, as the export writes them, or yes / no, true / false, 1 / 0.
fn parse_yes_no(field: &str, text: &str) -> Result<bool, DomainError> {
    match text.trim().to_lowercase().as_str() {
        "是" | "yes" | "y" | "true" | "1" => Ok(true),
        "否" | "no" | "n" | "false" | "0" => Ok(false),
        _ => Err(DomainError::InvalidValue {
            field: field.to_owned(),
            reason: format!("{text:?} is neither 是 nor 否"),
        }),
    }
}

/// A voter's standing as a ballot file writes it ([`crate::VOTERS`]).
fn parse_voter(field: &str, text: &str) -> Result<Voter, DomainError> {
    let text = text.trim();
    let found =
        crate::VOTERS.iter().find(|(_, chinese, english)| text == *chinese || text.eq_ignore_ascii_case(english));
    found.map(|(voter, ..)| *voter).ok_or_else(|| DomainError::InvalidValue {
        field: field.to_owned(),
        reason: format!("{text:?} is none of 群众, 群众监督员, 行风评议员 (citizen, supervisor, assessor)"),
    })
}

/// A rating as a ballot file writes it ([`crate::RATINGS`]); 不了解 is `None`.
fn parse_rating(field: &str, text: &str) -> Result<Option<Rating>, DomainError> {
    let text = text.trim();
    let found =
        crate::RATINGS.iter().find(|(_, chinese, english)| text == *chinese || text.eq_ignore_ascii_case(english));
    found.map(|(rating, ..)| *rating).ok_or_else(|| DomainError::InvalidValue {
        field: field.to_owned(),
        reason: format!("{text:?} is none of 满意, 基本满意, 不满意, 不了解"),
    })
}

/// `服务态度:90;办事效率:85`: criteria with their scores (a full-width ：or ；too), as a
/// ballot's scores are written in a file and in the console's form.
pub fn parse_scores(field: &str, text: &str) -> Result<Vec<CriterionScore>, DomainError> {
    let bad = |reason: String| DomainError::InvalidValue { field: field.to_owned(), reason };
    text.split([';', '；'])
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (criterion, score) =
                pair.split_once([':', '：']).ok_or_else(|| bad(format!("{pair:?} is not criterion:score")))?;
            let score: i64 = score.trim().parse().map_err(|_| bad(format!("{score:?} is not a whole score")))?;
            Ok(CriterionScore { criterion: Text::parse(field, criterion.trim())?, score: Score::new(field, score)? })
        })
        .collect()
}

/// Reads `bytes` as a CSV file of `kind` and checks every row's form.
pub fn read(kind: Kind, bytes: &[u8], encoding: Encoding) -> Import {
    let mut import = Import {
        kind,
        rows: 0,
        problems: Vec::new(),
        columns: Vec::new(),
        planned: Vec::new(),
        invalid: HashSet::new(),
        already_imported: 0,
        already_rows: 0,
        codes: HashMap::new(),
        amend: None,
        amendments: Vec::new(),
    };
    let text = match decode(bytes, encoding) {
        Ok(text) => text,
        Err(p) => {
            import.problems.push(p);
            return import;
        }
    };
    let layout = kind.layout();
    let expected: Vec<&str> = layout.columns.iter().map(|c| c.name).collect();
    if text.trim().is_empty() {
        let message = format!("the file is empty; its first line must name the columns: {}", expected.join(","));
        import.problems.push(problem(1, 0, None, message));
        return import;
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut records = reader.records();

    // The header: every column known, none twice, every required one present.
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            import.problems.push(problem(1, 0, None, format!("unreadable header: {e}")));
            return import;
        }
        None => unreachable!("the text is not empty"),
    };
    let mut columns = vec![0usize; layout.columns.len()];
    for (i, cell) in header.iter().enumerate() {
        let cell = cell.trim();
        match layout.columns.iter().position(|c| c.heads(cell)) {
            Some(c) if columns[c] != 0 => {
                let message = format!("column {} appears twice (also field {})", layout.columns[c].name, columns[c]);
                import.problems.push(problem(1, i + 1, None, message));
            }
            Some(c) => columns[c] = i + 1,
            None => {
                let known: Vec<String> = layout.columns.iter().map(|c| format!("{} ({})", c.name, c.chinese)).collect();
                let message =
                    format!("unknown column {cell:?}; the columns of {} are {}", kind.name(), known.join(", "));
                import.problems.push(problem(1, i + 1, None, message));
            }
        }
    }
    for (c, column) in layout.columns.iter().enumerate() {
        if columns[c] == 0 && column.required {
            import.problems.push(problem(1, 0, None, format!("missing column {} ({})", column.name, column.chinese)));
        }
    }
    if !import.problems.is_empty() {
        return import;
    }

    let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| record_line(text.as_bytes(), p));
                import.problems.push(problem(line, 0, None, format!("unreadable row: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| record_line(text.as_bytes(), p));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        import.rows += 1;
        if record.as_slice().len() > MAX_LINE_BYTES {
            let message = format!("the row is longer than {MAX_LINE_BYTES} bytes");
            import.problems.push(problem(line, 0, None, message));
            continue;
        }
        if record.len() != header.len() {
            let message = format!("the row has {} fields; the header has {}", record.len(), header.len());
            import.problems.push(problem(line, 0, None, message));
            continue;
        }
        let values = columns.iter().map(|&c| {
            if c == 0 {
                String::new()
            } else {
                crate::unneutralise(record[c - 1].trim()).to_owned()
            }
        });
        rows.push((line, values.collect()));
    }
    import.columns = columns;
    for &(column, record) in kind.coded_columns() {
        let i = layout.index(column);
        // A code is named once: a unit's code stands on each of its ballots or outings,
        // and its id is a digest worth computing once.
        let mut seen = HashSet::new();
        for (_, values) in &rows {
            for code in listed_codes(column, &values[i]) {
                if seen.insert(code) && Uuid::try_parse(code).is_err() {
                    import.codes.entry(id_for(record, code)).or_insert_with(|| code.to_owned());
                }
            }
        }
    }
    match kind {
        Kind::Units => import.plan_units(&rows),
        Kind::Members => import.plan_members(&rows),
        Kind::Outings => import.plan_outings(&rows),
        Kind::Verifications => import.plan_verifications(&rows),
        Kind::Commitments => import.plan_commitments(&rows),
        Kind::Ballots => import.plan_ballots(&rows),
    }
    import
}

/// Whether each command of `ids` is in the log already.
async fn imported<S: EventStore>(store: Arc<S>, ids: Vec<Uuid>) -> Result<Vec<bool>, StoreError> {
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        found.push(store.command_outcome(id).await?.is_some());
    }
    Ok(found)
}

/// The ids (hyphenated UUIDs) written in `text`.
fn uuids_in(text: &str) -> Vec<Uuid> {
    const LENGTH: usize = 36;
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(LENGTH - 1))
        .filter(|&i| i == 0 || !bytes[i - 1].is_ascii_hexdigit())
        .filter_map(|i| text.get(i..i + LENGTH).and_then(|c| Uuid::try_parse(c).ok()))
        .collect()
}

/// A command id from the content of the rows it comes from.
fn command_id(kind: Kind, rows: &[&Vec<String>]) -> Uuid {
    let mut content = String::from(kind.name());
    for row in rows {
        for value in row.iter() {
            content.push('\u{1f}');
            content.push_str(value);
        }
        content.push('\u{1e}');
    }
    Uuid::new_v5(&NAMESPACE, content.as_bytes())
}

fn fields<'a>(kind: Kind, columns: &'a [usize], line: u64, values: &'a [String]) -> Fields<'a> {
    let values = values.iter().map(String::as_str).collect();
    Fields { line, values, kind, columns, problems: Vec::new() }
}

impl Import {
    /// Plans the command read from the file's `values` (its rows), under the id their
    /// content gives it.
    fn plan(&mut self, command: Command, values: &[&Vec<String>], rows: Vec<Row>) {
        let command_id = command_id(self.kind, values);
        self.planned.push(Planned { command_id, command, correction: false, phase: 0, rows });
    }

    /// Adds `problems`; true when there were none.
    fn absorb(&mut self, problems: Vec<Problem>) -> bool {
        let clean = problems.is_empty();
        self.problems.extend(problems);
        clean
    }

    fn duplicate(&mut self, seen: &mut HashMap<Uuid, u64>, id: Uuid, line: u64, name: &'static str) -> bool {
        match seen.insert(id, line) {
            Some(first) => {
                let column = self.columns[self.kind.layout().index(name)];
                let message = format!("the same {name} as line {first}");
                self.problems.push(problem(line, column, Some(name), message));
                true
            }
            None => false,
        }
    }

    fn plan_units(&mut self, rows: &[(u64, Vec<String>)]) {
        let columns = self.columns.clone();
        let mut seen = HashMap::new();
        let mut parents = HashMap::new();
        for (line, values) in rows {
            let mut f = fields(self.kind, &columns, *line, values);
            let unit = f.id("id", "unit").map(UnitId);
            let code = f.code("id");
            let name = f.parse("name", Text::parse);
            let industry = f.parse("industry", Text::parse);
            let region = f.parse("region", Text::parse);
            let parent = (!f.get("parent").is_empty()).then(|| UnitId(id_for("unit", f.get("parent"))));
            let problems = std::mem::take(&mut f.problems);
            let (Some(unit), Some(name), Some(industry), Some(region), true) =
                (unit, name, industry, region, self.absorb(problems))
            else {
                continue;
            };
            if self.duplicate(&mut seen, unit.0, *line, "id") {
                continue;
            }
            parents.insert(unit, parent);
            let command = Command::RegisterUnit(RegisterUnit { unit, name, industry, region, parent, code });
            self.plan(command, &[values], vec![Row { line: *line, member: None }]);
        }
        // Parents in the file first: a unit's phase is its depth below units not in it.
        for planned in &mut self.planned {
            let Command::RegisterUnit(c) = &planned.command else { continue };
            let mut depth = 0;
            let mut next = c.parent;
            while let Some(parent) = next.filter(|p| parents.contains_key(p)) {
                depth += 1;
                if depth > parents.len() {
                    break; // a loop: the rehearsal names it
                }
                next = parents[&parent];
            }
            planned.phase = depth;
        }
        self.planned.sort_by_key(|p| p.phase);
    }

    fn plan_commitments(&mut self, rows: &[(u64, Vec<String>)]) {
        let columns = self.columns.clone();
        let mut seen = HashMap::new();
        let mut in_file = HashSet::new();
        for (line, values) in rows {
            let mut f = fields(self.kind, &columns, *line, values);
            let commitment = f.id("id", "commitment").map(CommitmentId);
            let code = f.code("id");
            let unit = f.id("unit", "unit").map(UnitId);
            let member = f.get("member");
            let member = (!member.is_empty()).then(|| MemberId(id_for("member", member)));
            let category = f.parse("category", Text::parse);
            let text = f.parse("text", Text::parse);
            let target = f.optional("target", Text::parse);
            let from = f.parse("from", parse_date);
            let until = f.parse("until", parse_date);
            let public = f.optional("public", parse_yes_no).map(|p| p.unwrap_or(true));
            let renews: Vec<CommitmentId> = listed_codes("renews", f.get("renews"))
                .into_iter()
                .map(|r| CommitmentId(id_for("commitment", r)))
                .collect();
            let problems = std::mem::take(&mut f.problems);
            let (Some(commitment), Some(unit), Some(category), Some(text), Some(target), Some(from), Some(until)) =
                (commitment, unit, category, text, target, from, until)
            else {
                self.absorb(problems);
                continue;
            };
            let (Some(public), true) = (public, self.absorb(problems)) else { continue };
            if self.duplicate(&mut seen, commitment.0, *line, "id") {
                continue;
            }
            in_file.insert(commitment);
            let content = CommitmentContent { category, text, target, from, until, public };
            let command = MakeCommitment { commitment, unit, member, content, renews, code };
            self.plan(Command::MakeCommitment(command), &[values], vec![Row { line: *line, member }]);
        }
        // A renewal after the items of the file it renews.
        for planned in &mut self.planned {
            let Command::MakeCommitment(c) = &planned.command else { continue };
            planned.phase = usize::from(c.renews.iter().any(|r| in_file.contains(r)));
        }
        self.planned.sort_by_key(|p| p.phase);
    }

    fn plan_members(&mut self, rows: &[(u64, Vec<String>)]) {
        let columns = self.columns.clone();
        let mut seen = HashMap::new();
        for (line, values) in rows {
            let mut f = fields(self.kind, &columns, *line, values);
            let member = f.id("id", "member").map(MemberId);
            let code = f.code("id");
            let unit = f.id("unit", "unit").map(UnitId);
            let joined_on = f.parse("joined_on", parse_date);
            let name = f.parse("name", Text::parse);
            let birth_date = f.optional("birth_date", parse_date);
            let (national_id, phone) = (f.get("national_id"), f.get("phone"));
            let problems = std::mem::take(&mut f.problems);
            let (Some(member), Some(unit), Some(joined_on), Some(name), Some(birth_date), true) =
                (member, unit, joined_on, name, birth_date, self.absorb(problems))
            else {
                continue;
            };
            if self.duplicate(&mut seen, member.0, *line, "id") {
                continue;
            }
            let personal = PersonalData {
                name,
                national_id: (!national_id.is_empty()).then(|| national_id.to_owned()),
                phone: (!phone.is_empty()).then(|| phone.to_owned()),
                birth_date,
            };
            let command = Command::RegisterMember(RegisterMember { member, unit, joined_on, personal, code });
            self.plan(command, &[values], vec![Row { line: *line, member: Some(member) }]);
        }
    }

    fn plan_outings(&mut self, rows: &[(u64, Vec<String>)]) {
        let columns = self.columns.clone();
        // Rows by outing, in the order outings first appear.
        let mut order: Vec<Uuid> = Vec::new();
        let mut groups: HashMap<Uuid, Vec<&(u64, Vec<String>)>> = HashMap::new();
        let outing_column = self.kind.layout().index("outing");
        for row in rows {
            let code = &row.1[outing_column];
            if code.is_empty() {
                let mut f = fields(self.kind, &columns, row.0, &row.1);
                f.required("outing");
                let problems = f.problems;
                self.absorb(problems);
                continue;
            }
            let id = id_for("outing", code);
            let group = groups.entry(id).or_default();
            if group.is_empty() {
                order.push(id);
            }
            group.push(row);
        }
        // The outing's own columns, which every row of an outing repeats.
        let shared = ["unit", "date", "start", "end", "place", "category", "description", "beneficiaries"];
        for outing in order {
            let group = &groups[&outing];
            let (first_line, first) = (group[0].0, &group[0].1);
            let mut problems = Vec::new();
            let mut f = fields(self.kind, &columns, first_line, first);
            let code = f.code("outing");
            let unit = f.id("unit", "unit").map(UnitId);
            let date = f.parse("date", parse_date);
            let start = f.parse("start", ClockTime::parse);
            let end = f.parse("end", ClockTime::parse);
            let span = match (start, end) {
                (Some(s), Some(e)) => TimeRange::new("end", s, e).map_err(|e| f.report("end", e.to_string())).ok(),
                _ => None,
            };
            let place = f.parse("place", Text::parse);
            let category = f.parse("category", Text::parse);
            let description = f.optional("description", Text::parse);
            let beneficiaries = f.optional("beneficiaries", |field, v| {
                v.parse::<u32>().map_err(|_| DomainError::InvalidValue {
                    field: field.into(),
                    reason: format!("{v:?} is not a whole number of people"),
                })
            });
            problems.append(&mut f.problems);
            let mut participants = Vec::new();
            let mut members_seen: HashMap<MemberId, u64> = HashMap::new();
            let mut outing_rows = Vec::new();
            for (line, values) in group.iter().map(|r| (r.0, &r.1)) {
                let mut f = fields(self.kind, &columns, line, values);
                for name in shared {
                    let i = self.kind.layout().index(name);
                    if values[i] != first[i] {
                        f.report(name, format!("differs from line {first_line} of the same outing"));
                    }
                }
                let member = f.id("member", "member").map(MemberId);
                let minutes = f.optional("hours", Minutes::parse_hours);
                if let Some(member) = member {
                    if let Some(earlier) = members_seen.insert(member, line) {
                        f.report("member", format!("is in this outing already, on line {earlier}"));
                    }
                }
                problems.append(&mut f.problems);
                outing_rows.push(Row { line, member });
                if let (Some(member), Some(minutes)) = (member, minutes) {
                    participants.push(ParticipationInput { member, span: None, minutes });
                }
            }
            let clean = self.absorb(problems);
            let (Some(unit), Some(date), Some(span), Some(place), Some(category), Some(description), Some(b), true) =
                (unit, date, span, place, category, description, beneficiaries, clean)
            else {
                continue;
            };
            let details = OutingDetails { date, span, place, category, description, beneficiaries: b.unwrap_or(0) };
            let command =
                Command::RegisterOuting(RegisterOuting { outing: OutingId(outing), unit, details, participants, code });
            let rows: Vec<&Vec<String>> = group.iter().map(|r| &r.1).collect();
            self.plan(command, &rows, outing_rows);
        }
    }

    fn plan_ballots(&mut self, rows: &[(u64, Vec<String>)]) {
        let columns = self.columns.clone();
        let mut seen = HashMap::new();
        for (line, values) in rows {
            let mut f = fields(self.kind, &columns, *line, values);
            let ballot = f.id("id", "ballot").map(BallotId);
            let evaluation = f.id("evaluation", "evaluation").map(EvaluationId);
            let rated = match (f.get("unit"), f.get("member")) {
                (unit, "") if !unit.is_empty() => Some(Rated::Unit(UnitId(id_for("unit", unit)))),
                ("", member) if !member.is_empty() => Some(Rated::Member(MemberId(id_for("member", member)))),
                (_, "") => {
                    f.report("unit", "is empty, and so is member: a ballot rates a unit or a member");
                    None
                }
                _ => {
                    f.report("member", "a ballot rates a unit or a member, not both: leave unit empty");
                    None
                }
            };
            let voter = f.parse("voter", parse_voter);
            let rating = f.parse("rating", parse_rating);
            let scores = f.optional("scores", parse_scores).map(Option::unwrap_or_default);
            let comment = f.optional("comment", Text::parse);
            let problems = std::mem::take(&mut f.problems);
            let (Some(ballot), Some(evaluation), Some(rated), Some(voter), Some(rating), Some(scores), Some(comment)) =
                (ballot, evaluation, rated, voter, rating, scores, comment)
            else {
                self.absorb(problems);
                continue;
            };
            if !self.absorb(problems) || self.duplicate(&mut seen, ballot.0, *line, "id") {
                continue;
            }
            let member = match rated {
                Rated::Member(m) => Some(m),
                Rated::Unit(_) => None,
            };
            let command = CastBallot { ballot, evaluation, rated, voter, rating, scores, comment };
            self.plan(Command::CastBallot(command), &[values], vec![Row { line: *line, member }]);
        }
    }

    fn plan_verifications(&mut self, rows: &[(u64, Vec<String>)]) {
        let columns = self.columns.clone();
        let mut seen = HashMap::new();
        for (line, values) in rows {
            let mut f = fields(self.kind, &columns, *line, values);
            let outing = f.id("outing", "outing").map(OutingId);
            let expected_version = f.optional("version", |field, v| {
                v.parse::<u64>().map_err(|_| DomainError::InvalidValue {
                    field: field.into(),
                    reason: format!("{v:?} is not a version (0, 1, 2…)"),
                })
            });
            let note = f.optional("note", Text::parse);
            let problems = std::mem::take(&mut f.problems);
            let (Some(outing), Some(expected_version), Some(note), true) =
                (outing, expected_version, note, self.absorb(problems))
            else {
                continue;
            };
            if self.duplicate(&mut seen, outing.0, *line, "outing") {
                continue;
            }
            let command = Command::VerifyOuting(VerifyOuting { outing, note, expected_version });
            self.plan(command, &[values], vec![Row { line: *line, member: None }]);
        }
    }

    /// `message` with every id that has a code named by that code.
    fn name_codes(&self, message: String) -> String {
        let mut named = message.clone();
        for id in uuids_in(&message) {
            if let Some(code) = self.codes.get(&id) {
                named = named.replace(&id.to_string(), code);
            }
        }
        named
    }

    /// Where a rule broken by `planned` is in the file, its ids named by the file's
    /// codes.
    fn locate(&self, planned: &Planned, error: &DomainError) -> Problem {
        let mut located = self.locate_in_file(planned, error);
        located.message = self.name_codes(located.message);
        located
    }

    fn locate_in_file(&self, planned: &Planned, error: &DomainError) -> Problem {
        let layout = self.kind.layout();
        let at = |line: u64, name: &'static str| {
            problem(line, self.columns[layout.index(name)], Some(name), error.to_string())
        };
        let first = planned.rows[0].line;
        let row_of =
            |member: &MemberId| planned.rows.iter().find(|r| r.member == Some(*member)).map_or(first, |r| r.line);
        let id_column = match self.kind {
            Kind::Outings | Kind::Verifications => "outing",
            Kind::Units | Kind::Members | Kind::Commitments | Kind::Ballots => "id",
        };
        use DomainError::*;
        match error {
            Empty { field } | TooLong { field, .. } | InvalidValue { field, .. } | InvalidHours { field, .. } => {
                // The domain names fields as the API does (`personal.nationalId`); the
                // file's columns are snake_case (`national_id`).
                match layout.columns.iter().find(|c| c.name == column_name(field)) {
                    Some(c) => problem(first, self.columns[layout.index(c.name)], Some(c.name), reason(error)),
                    None => problem(first, 0, None, error.to_string()),
                }
            }
            AlreadyExists { .. } => {
                let mut p = at(first, id_column);
                // The log is append-only: a record changes by a correction, not by a row.
                let correction = match self.kind {
                    Kind::Units => "renameUnit, moveUnit or reclassifyUnit",
                    Kind::Members => "correctPersonalData or transferMember",
                    Kind::Outings | Kind::Verifications => "amendOuting or amendParticipation",
                    Kind::Commitments => "amendCommitment, withdrawCommitment or renewCommitment",
                    Kind::Ballots => "a ballot is cast once; give a new one its own number",
                };
                p.message = format!(
                    "{}: imported before with other values, or registered another way; to change it, import the \
                     file again with --amend REASON (it shows what would change first), or correct it ({correction})",
                    p.message
                );
                p
            }
            UnitNotFound(unit) => match &planned.command {
                Command::RegisterUnit(c) if c.parent == Some(*unit) => at(first, "parent"),
                _ => at(first, "unit"),
            },
            UnitCycle { .. } => at(first, "parent"),
            MemberNotFound(m)
            | MemberErased { member: m }
            | DuplicateParticipant { member: m }
            | MemberNotInUnit { member: m, .. }
            | DailyLimitExceeded { member: m, .. }
            | OverlappingOuting { member: m, .. } => match self.kind {
                Kind::Outings => at(row_of(m), "member"),
                Kind::Commitments | Kind::Ballots => at(first, "member"),
                _ => at(first, "id"),
            },
            EvaluationNotFound(_) | EvaluationClosed { .. } if self.kind == Kind::Ballots => at(first, "evaluation"),
            OutsideEvaluation { .. } if self.kind == Kind::Ballots => match planned.rows[0].member {
                Some(_) => at(first, "member"),
                None => at(first, "unit"),
            },
            CommitmentNotFound(_) | RenewsAnotherUnit { .. } if self.kind == Kind::Commitments => at(first, "renews"),
            CommitmentWithdrawn { .. } | CommitmentAssessed { .. } if self.kind == Kind::Commitments => at(first, "id"),
            HoursExceedSpan { member, .. } | ParticipationOutsideOuting { member, .. } => at(row_of(member), "hours"),
            OutingNotFound(_) | OutingVoided { .. } | AlreadyVerified { .. } if self.kind == Kind::Verifications => {
                at(first, "outing")
            }
            StaleVersion { .. } if self.kind == Kind::Verifications => at(first, "version"),
            _ => problem(first, 0, None, error.to_string()),
        }
    }

    /// Drops what the log already holds and rehearses the rest; adds the problems found.
    /// `scope`, a clerk's units: rows for other units are problems at their `unit`
    /// column, found before anything is written (the command path would refuse them
    /// one by one, after the rows before them were written).
    pub async fn check<S: EventStore>(&mut self, ledger: &Ledger<S>, scope: Option<&[UnitId]>) -> Result<(), AppError> {
        if let Some(scope) = scope {
            self.check_scope(scope);
        }
        let rehearsed = match self.amend.clone() {
            None => {
                // The commands' ids are looked up in the log on another worker while
                // every command is rehearsed as if none were there: a file imported for
                // the first time (the common case) is checked in the time of the longer
                // of the two. Commands found in the log are left out, and the rest
                // rehearsed again without them.
                let ids: Vec<Uuid> = self.planned.iter().map(|p| p.command_id).collect();
                let lookups = tokio::spawn(imported(ledger.store().clone(), ids));
                let rehearsed = ledger.rehearse(&self.commands()).await?;
                let found = lookups.await.map_err(|e| StoreError::Backend(format!("command lookups: {e}")))??;
                if found.iter().any(|f| *f) {
                    self.leave_out_imported(&found);
                    ledger.rehearse(&self.commands()).await?
                } else {
                    rehearsed
                }
            }
            Some(reason) => {
                let ids = self.planned.iter().map(|p| p.command_id).collect();
                let found = imported(ledger.store().clone(), ids).await?;
                self.leave_out_imported(&found);
                self.plan_corrections(ledger, &reason).await?;
                ledger.rehearse(&self.commands()).await?
            }
        };
        for (i, problems) in rehearsed.into_iter().enumerate() {
            if !problems.is_empty() {
                self.invalid.insert(i);
            }
            for e in problems {
                self.learn_codes(ledger, &e.to_string()).await?;
                let p = self.locate(&self.planned[i], &e);
                self.problems.push(p);
            }
        }
        self.problems.sort_by_key(|p| (p.line, p.column));
        Ok(())
    }

    /// The planned commands, in order.
    fn commands(&self) -> Vec<Command> {
        self.planned.iter().map(|p| p.command.clone()).collect()
    }

    /// Leaves out the planned commands `found` in the log (one flag each, in order),
    /// counting them and their rows as imported before.
    fn leave_out_imported(&mut self, found: &[bool]) {
        let planned = std::mem::take(&mut self.planned);
        for (planned, found) in planned.into_iter().zip(found) {
            if *found {
                self.already_imported += 1;
                self.already_rows += planned.rows.len();
            } else {
                self.planned.push(planned);
            }
        }
    }

    /// Reads the rows that register a record already registered, with other values,
    /// as the corrections they ask for ([`taizhang_core::corrections`], with `reason`):
    /// each such row is planned as its corrections and listed in `amendments`; a row
    /// that reads as its record does is counted as already in the log; a difference no
    /// correction makes is a problem at its column.
    async fn plan_corrections<S: EventStore>(&mut self, ledger: &Ledger<S>, reason: &Text) -> Result<(), AppError> {
        let mut planned = Vec::with_capacity(self.planned.len());
        for registration in std::mem::take(&mut self.planned) {
            let found = match ledger.corrections(&registration.command, reason).await? {
                Ok(found) => found,
                Err(e) => {
                    self.learn_codes(ledger, &e.to_string()).await?;
                    let problem = self.locate(&registration, &e);
                    self.problems.push(problem);
                    continue;
                }
            };
            let Some((corrections, version)) = found else {
                planned.push(registration); // a new record
                continue;
            };
            if corrections.is_empty() {
                self.already_imported += 1;
                self.already_rows += registration.rows.len();
                continue;
            }
            let record = registration.command.subject().id;
            let mut changes = Vec::new();
            for correction in corrections {
                // One id per kind of correction, record version and rows: a retry after
                // part of the file was written reads the record again and plans only what
                // is left, under ids of its own.
                let name = format!("{}/{}/{version:?}", registration.command_id, correction.command.name());
                let command_id = Uuid::new_v5(&NAMESPACE, name.as_bytes());
                changes.extend(correction.changes);
                let rows = registration.rows.clone();
                let (command, phase) = (correction.command, registration.phase);
                planned.push(Planned { command_id, command, correction: true, phase, rows });
            }
            self.learn_codes(ledger, &record.to_string()).await?;
            for c in &changes {
                for text in [&c.field, &c.from, &c.to] {
                    self.learn_codes(ledger, text).await?;
                }
            }
            let changes = changes
                .into_iter()
                .map(|c| Change {
                    field: self.name_codes(c.field),
                    from: self.name_codes(c.from),
                    to: self.name_codes(c.to),
                })
                .collect();
            let record = self.name_codes(record.to_string());
            self.amendments.push(Amendment { line: registration.rows[0].line, record, changes });
        }
        self.planned = planned;
        Ok(())
    }

    /// Learns the code of every record named by id in `text` that the file does not
    /// name, from the log: messages name records as clerks know them.
    async fn learn_codes<S: EventStore>(&mut self, ledger: &Ledger<S>, text: &str) -> Result<(), AppError> {
        for id in uuids_in(text) {
            if let std::collections::hash_map::Entry::Vacant(unnamed) = self.codes.entry(id) {
                if let Some(code) = ledger.code_of(id).await? {
                    unnamed.insert(code.to_string());
                }
            }
        }
        Ok(())
    }

    /// Reads changed rows of records already registered as corrections, each recorded
    /// with `reason` (see [`Import::check`]).
    pub fn amend(&mut self, reason: Text) {
        self.amend = Some(reason);
    }

    /// Refuses the rows of units outside `scope`, at their `unit` column; a kind of
    /// record no clerk registers (units, verifications) is refused whole.
    fn check_scope(&mut self, scope: &[UnitId]) {
        for (i, planned) in self.planned.iter().enumerate() {
            let unit = match &planned.command {
                Command::RegisterMember(c) => c.unit,
                Command::RegisterOuting(c) => c.unit,
                Command::MakeCommitment(c) => c.unit,
                _ => {
                    let message = format!("a clerk's token does not import {}", self.kind.name());
                    self.problems.push(problem(planned.rows[0].line, 0, None, message));
                    self.invalid.insert(i);
                    continue;
                }
            };
            if !scope.contains(&unit) {
                let column = self.columns[self.kind.layout().index("unit")];
                let name = self.codes.get(&unit.0).cloned().unwrap_or_else(|| unit.to_string());
                let message = format!("unit {name} is not one of this token's units");
                self.problems.push(problem(planned.rows[0].line, column, Some("unit"), message));
                self.invalid.insert(i);
            }
        }
    }

    /// Commands that would be written.
    pub fn pending(&self) -> usize {
        self.planned.len() - self.invalid.len()
    }

    /// Writes every command without a problem, sent by `sender` (its actor and scope;
    /// each command keeps the id its rows give it); `progress` hears how many are done.
    /// Refused (nothing written) when there are problems, unless `skip_invalid`.
    pub async fn write<S: EventStore>(
        self,
        ledger: &Ledger<S>,
        sender: &CommandContext,
        skip_invalid: bool,
        progress: impl Fn(usize),
    ) -> Result<Written, AppError> {
        if !self.problems.is_empty() && !skip_invalid {
            return Ok(Written { commands: 0, corrections: 0, skipped_rows: 0 });
        }
        let planned: Vec<Planned> =
            self.planned.into_iter().enumerate().filter(|(i, _)| !self.invalid.contains(i)).map(|(_, p)| p).collect();
        // Rows read as several corrections count once.
        let mut counted = HashSet::new();
        let written_rows = planned
            .iter()
            .filter(|p| !p.correction || counted.insert(p.rows[0].line))
            .map(|p| p.rows.len())
            .sum::<usize>();
        let corrections = planned.iter().filter(|p| p.correction).count();
        let batch = planned
            .into_iter()
            .map(|p| (CommandContext { command_id: p.command_id, ..sender.clone() }, p.command))
            .collect();
        let commands = ledger.run_in_order(batch, progress).await?;
        let skipped_rows = self.rows.saturating_sub(written_rows + self.already_rows);
        Ok(Written { commands, corrections, skipped_rows })
    }
}
