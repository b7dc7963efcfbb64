//! The checked-in schema is what clients code against: it must be what the code serves.

#[test]
fn checked_in_schema_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/schema.graphql");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == taizhang_api::sdl(),
        "schema/schema.graphql is stale; regenerate it with `cargo run -- schema > schema/schema.graphql`"
    );
}

#[test]
fn checked_in_event_schemas_are_current() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/events"));
    let regenerate = "regenerate them with `cargo run -- schema --events schema/events`";
    let expected = taizhang_api::event_schemas();
    for (file, json) in &expected {
        let checked_in = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(&checked_in == json, "schema/events/{file} is stale; {regenerate}");
    }
    let mut present: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    present.sort();
    let mut wanted: Vec<String> = expected.into_iter().map(|(file, _)| file).collect();
    wanted.sort();
    assert_eq!(present, wanted, "schema/events holds other files than the event types; {regenerate}");
}

/// The schemas describe what the log's JSON form really holds: a registered outing
/// as the API and the backup show it has exactly the fields its schema names.
#[test]
fn event_schemas_name_the_fields_events_have() {
    let schemas = taizhang_api::event_schemas();
    let (_, outing) = schemas.iter().find(|(f, _)| f == "OutingRegistered.json").expect("OutingRegistered");
    let schema: serde_json::Value = serde_json::from_str(outing).unwrap();
    let mut properties: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    properties.sort();
    assert_eq!(properties, ["code", "details", "outing", "participants", "unit"]);
    assert_eq!(schema["x-type-code"], 20);
    assert_eq!(schema["x-schema-version"], 3);
}

/// The README's role matrix is generated from the code's role table, which the access
/// tests check field by field against what the server does.
#[test]
fn readme_role_table_is_current() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let (begin, end) = ("<!-- role-table:begin -->\n", "<!-- role-table:end -->");
    let table =
        readme.split_once(begin).and_then(|(_, rest)| rest.split_once(end)).map(|(table, _)| table).unwrap_or_default();
    assert!(
        table == taizhang_api::access::role_table_markdown(),
        "the README's role table is stale; replace it (between the role-table markers) with the output of \
         `cargo run -- schema --roles`"
    );
}
