//! Spreadsheets in and out: CSV import of units, members, outings, verifications and
//! commitments
//! (validated in full
//! before anything is written), and CSV and XLSX exports of the same records, of
//! reports and of ledgers; and the sample campaign's recognitions, made from the read
//! side ([`sample`]).
//!
//! One [`Layout`] per kind of record names its columns, in English and in Chinese; the
//! import reads either name, the exports write the same columns, so an export can be
//! imported again.
#![forbid(unsafe_code)]

pub mod certificate;
pub mod export;
pub mod import;
pub mod sample;

use std::borrow::Cow;

use std::fmt;
use taizhang_core::{Rating, Voter};

/// What a spreadsheet reads as the start of a formula in a CSV cell.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV cell a spreadsheet would run as a formula (a name such as `=HYPERLINK(…)`
/// typed by a clerk, opened by a reviewer), written with a leading apostrophe, which
/// spreadsheets take as "text" and do not show. Numbers (`-1.5`) are left as they are.
fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) && cell.parse::<f64>().is_err() {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The cell [`neutralise`] was given, so that an export imports again unchanged.
fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

/// What a CSV file holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Units,
    Members,
    Outings,
    /// A reviewer's worksheet: outings to verify, one per row.
    Verifications,
    /// A unit's list of public commitments (承诺事项).
    Commitments,
    /// The public's ballots of a half-year evaluation (群众评议票), entered in bulk.
    Ballots,
}

impl Kind {
    pub const ALL: [Kind; 6] =
        [Kind::Units, Kind::Members, Kind::Outings, Kind::Verifications, Kind::Commitments, Kind::Ballots];

    pub fn layout(self) -> &'static Layout {
        match self {
            Kind::Units => &UNITS,
            Kind::Members => &MEMBERS,
            Kind::Outings => &OUTINGS,
            Kind::Verifications => &VERIFICATIONS,
            Kind::Commitments => &COMMITMENTS,
            Kind::Ballots => &BALLOTS,
        }
    }

    /// The columns holding codes of records, each with the kind of record it names
    /// (`renews` holds several, separated by `;`).
    pub fn coded_columns(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Units => &[("id", "unit"), ("parent", "unit")],
            Kind::Members => &[("id", "member"), ("unit", "unit")],
            Kind::Outings => &[("outing", "outing"), ("unit", "unit"), ("member", "member")],
            Kind::Verifications => &[("outing", "outing")],
            Kind::Commitments => {
                &[("id", "commitment"), ("unit", "unit"), ("member", "member"), ("renews", "commitment")]
            }
            Kind::Ballots => &[("id", "ballot"), ("unit", "unit"), ("member", "member")],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Units => "units",
            Kind::Members => "members",
            Kind::Outings => "outings",
            Kind::Verifications => "verifications",
            Kind::Commitments => "commitments",
            Kind::Ballots => "ballots",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            format!("unknown kind {s:?}: {}", known.join(", "))
        })
    }
}

/// One column: its English and Chinese headers, and whether a value is required.
pub struct Column {
    pub name: &'static str,
    pub chinese: &'static str,
    pub required: bool,
    pub meaning: &'static str,
}

impl Column {
    /// The header an export writes, Chinese then English (`编号 id`), as the reports
    /// head their columns.
    pub fn bilingual(&self) -> String {
        format!("{} {}", self.chinese, self.name)
    }

    /// Whether a file's header cell names this column: in English (any case), in
    /// Chinese, or both as an export writes them.
    pub fn heads(&self, cell: &str) -> bool {
        let both = cell.split_once(' ').is_some_and(|(chinese, english)| {
            chinese == self.chinese && english.trim().eq_ignore_ascii_case(self.name)
        });
        self.name.eq_ignore_ascii_case(cell) || self.chinese == cell || both
    }
}

pub struct Layout {
    pub columns: &'static [Column],
}

impl Layout {
    /// The column's position in the layout.
    pub fn index(&self, name: &str) -> usize {
        self.columns.iter().position(|c| c.name == name).expect("a column of the layout")
    }
}

const fn col(name: &'static str, chinese: &'static str, required: bool, meaning: &'static str) -> Column {
    Column { name, chinese, required, meaning }
}

pub static UNITS: Layout = Layout {
    columns: &[
        col("id", "编号", true, "the unit's code in your records, or a taizhang id"),
        col("name", "名称", true, "e.g. 十堰市人民医院"),
        col("industry", "行业", true, "e.g. 医疗卫生"),
        col("region", "区域", true, "county or district, e.g. 茅箭区"),
        col("parent", "上级单位", false, "the code or id of the unit it reports to"),
    ],
};

pub static MEMBERS: Layout = Layout {
    columns: &[
        col("id", "编号", true, "the member's code in your records, or a taizhang id"),
        col("unit", "单位", true, "the code or id of their unit"),
        col("joined_on", "加入日期", true, "YYYY-MM-DD or YYYY/M/D"),
        col("name", "姓名", true, ""),
        col("national_id", "身份证号", false, "18 characters"),
        col("phone", "电话", false, ""),
        col("birth_date", "出生日期", false, "YYYY-MM-DD or YYYY/M/D"),
    ],
};

pub static OUTINGS: Layout = Layout {
    columns: &[
        col("outing", "活动编号", true, "the outing's code; one row per participant, the outing's columns alike"),
        col("unit", "单位", true, "the code or id of the unit"),
        col("date", "日期", true, "YYYY-MM-DD or YYYY/M/D"),
        col("start", "开始", true, "HH:MM"),
        col("end", "结束", true, "HH:MM"),
        col("place", "地点", true, ""),
        col("category", "类别", true, "e.g. 义诊, 便民服务"),
        col("description", "内容", false, ""),
        col("beneficiaries", "服务人数", false, "a whole number; 0 when empty"),
        col("member", "党员", true, "the code or id of the participant"),
        col("hours", "时长", false, "2, 2.5 or 2:30; empty: the outing's span"),
    ],
};

/// The outings a reviewer verifies: `export verifications` writes those awaiting it,
/// with what a reviewer checks them by; she keeps the rows she vouches for, and
/// `import verifications` verifies each, as of the version she saw.
pub static VERIFICATIONS: Layout = Layout {
    columns: &[
        col("outing", "活动编号", true, "the outing's code or id"),
        col("version", "版本", false, "the version checked; empty: as it stands"),
        col("note", "核实意见", false, "the verification's note"),
        col("unit", "单位", false, "shown for the reviewer; not read"),
        col("date", "日期", false, "shown for the reviewer; not read"),
        col("place", "地点", false, "shown for the reviewer; not read"),
        col("category", "类别", false, "shown for the reviewer; not read"),
        col("participants", "参与人数", false, "shown for the reviewer; not read"),
        col("hours", "时长", false, "shown for the reviewer; not read"),
    ],
};

/// A unit's commitments: the list it keeps and publishes (承诺事项公示表). A row
/// naming earlier items in `renews` is their renewal (再承诺).
pub static COMMITMENTS: Layout = Layout {
    columns: &[
        col("id", "编号", true, "the item's code in your list, or a taizhang id"),
        col("unit", "单位", true, "the code or id of the unit"),
        col("member", "党员", false, "for a member's own commitment: the member's code or id"),
        col("category", "类别", true, "e.g. 办结时限, 便民措施"),
        col("text", "承诺内容", true, ""),
        col("target", "目标", false, "e.g. ≤ 3 个工作日"),
        col("from", "起始日期", true, "YYYY-MM-DD or YYYY/M/D"),
        col("until", "截止日期", true, "YYYY-MM-DD or YYYY/M/D"),
        col("public", "公开", false, "是 or 否 (yes or no); empty: 是"),
        col("renews", "接续", false, "the codes or ids of the items it renews, separated by ;"),
    ],
};

/// The ballots of an evaluation: one row a ballot, rating a unit or, with `member`,
/// one of its members.
pub static BALLOTS: Layout = Layout {
    columns: &[
        col("id", "编号", true, "the ballot's number in your records, or a taizhang id"),
        col("evaluation", "评议", true, "the evaluation's id"),
        col("unit", "单位", false, "the code or id of the unit rated; empty when the ballot rates a member"),
        col("member", "党员", false, "the code or id of the member rated; empty when it rates a unit"),
        col("voter", "评议人", true, "群众, 群众监督员 or 行风评议员 (citizen, supervisor, assessor)"),
        col(
            "rating",
            "评价",
            true,
            "满意, 基本满意, 不满意 or 不了解 (satisfied, fairly_satisfied, dissatisfied, dont_know)",
        ),
        col("scores", "分项评分", false, "criterion:score pairs separated by ;, e.g. 服务态度:90;办事效率:85"),
        col("comment", "意见", false, ""),
    ],
};

/// How each voter's standing is written: in Chinese (as exports write it), in English.
pub const VOTERS: [(Voter, &str, &str); 3] = [
    (Voter::Citizen, "群众", "citizen"),
    (Voter::Supervisor, "群众监督员", "supervisor"),
    (Voter::Assessor, "行风评议员", "assessor"),
];

/// How each rating is written, "don't know" (不了解) as `None`.
pub const RATINGS: [(Option<Rating>, &str, &str); 4] = [
    (Some(Rating::Satisfied), "满意", "satisfied"),
    (Some(Rating::FairlySatisfied), "基本满意", "fairly_satisfied"),
    (Some(Rating::Dissatisfied), "不满意", "dissatisfied"),
    (None, "不了解", "dont_know"),
];

/// How `public` is written: 是 or 否.
pub fn yes_no(value: bool) -> &'static str {
    if value {
        "是"
    } else {
        "否"
    }
}

/// A problem with an input file, where it is: `file:line:column: message`. The column
/// is the field's number, counted from 1 (0 when the problem is the whole line or
/// file), and `header` names it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Problem {
    pub line: u64,
    pub column: usize,
    pub header: Option<&'static str>,
    pub message: String,
}

/// A [`Problem`] shown with its file name.
pub struct Located<'a> {
    pub file: &'a str,
    pub problem: &'a Problem,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.problem;
        write!(f, "{}:{}:{}: ", self.file, p.line, p.column)?;
        if let Some(header) = p.header {
            write!(f, "{header}: ")?;
        }
        f.write_str(&p.message)
    }
}

/// The README's table of CSV layouts, generated from the layouts (a test checks the
/// README's copy): required columns in bold, each with its Chinese header.
pub fn layouts_markdown() -> String {
    let mut out = String::from("| file | columns (required in bold) |\n|---|---|\n");
    for kind in Kind::ALL {
        let columns: Vec<String> = kind
            .layout()
            .columns
            .iter()
            .map(|c| {
                let name = if c.required { format!("**{}**", c.name) } else { c.name.to_owned() };
                let meaning = if c.meaning.is_empty() { String::new() } else { format!(" ({})", c.meaning) };
                format!("{name} {}{meaning}", c.chinese)
            })
            .collect();
        out.push_str(&format!("| {} | {} |\n", kind.name(), columns.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_restored() {
        for formula in ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\tx", "\rx"] {
            let written = neutralise(formula);
            assert!(written.starts_with('\''), "{formula:?}");
            assert_eq!(unneutralise(&written), formula);
        }
        for plain in ["十堰市人民医院", "-1.5", "2011-06-01", "'quoted", "a=b"] {
            assert_eq!(neutralise(plain), plain);
            assert_eq!(unneutralise(plain), plain);
        }
    }
}
