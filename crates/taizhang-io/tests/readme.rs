//! The README's CSV layouts are the ones the import reads.

#[test]
fn readme_layouts_are_current() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let (begin, end) = ("<!-- csv-layouts:begin -->\n", "<!-- csv-layouts:end -->");
    let table = readme.split_once(begin).and_then(|(_, rest)| rest.split_once(end)).map(|(t, _)| t);
    assert!(
        table == Some(taizhang_io::layouts_markdown().as_str()),
        "the README's CSV layouts are stale; replace them (between the csv-layouts markers) with the output of \
         `cargo run -- schema --layouts`"
    );
}
