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
