//! A certificate and a status list against the published JSON-LD contexts they name
//! (vendored in `contexts/`): every property must be a term defined where it is used,
//! as JSON-LD 1.1 resolves terms — the contexts' own terms, a node's type-scoped
//! context (for that node only), a property's scoped context (for its value and what
//! is nested in it). The VC context maps any other name to its "issuer-dependent"
//! vocabulary; a term that lands there is a mistake in the document.

use serde_json::{Map, Value};
use taizhang_credential::status::{encode_list, list_credential, StatusPurpose};
use taizhang_credential::*;

type Context = Map<String, Value>;

fn context(file: &str) -> Context {
    let path = format!("{}/tests/contexts/{file}", env!("CARGO_MANIFEST_DIR"));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    json["@context"].as_object().unwrap().clone()
}

/// `base` with `scoped`'s terms over it.
fn merged(base: &Context, scoped: Option<&Value>) -> Context {
    let mut out = base.clone();
    if let Some(Value::Object(terms)) = scoped {
        out.extend(terms.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out
}

/// Every undefined property of `node` and what it holds, as paths.
fn undefined(node: &Value, inherited: &Context, path: &str, found: &mut Vec<String>) {
    match node {
        Value::Array(items) => items.iter().for_each(|item| undefined(item, inherited, path, found)),
        Value::Object(members) => {
            let mut types: Vec<&str> = match members.get("type") {
                Some(Value::String(t)) => vec![t],
                Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            types.sort_unstable();
            let mut here = inherited.clone();
            for t in &types {
                match inherited.get(*t) {
                    Some(definition) => here = merged(&here, definition.get("@context")),
                    None => found.push(format!("{path}: type {t}")),
                }
            }
            for (name, value) in members {
                if matches!(name.as_str(), "@context" | "id" | "type") {
                    continue;
                }
                let Some(definition) = here.get(name) else {
                    found.push(format!("{path}.{name}"));
                    continue;
                };
                if definition.get("@type").and_then(Value::as_str) == Some("@vocab") {
                    let scoped = merged(&here, definition.get("@context"));
                    for term in value
                        .as_str()
                        .into_iter()
                        .chain(value.as_array().into_iter().flatten().filter_map(Value::as_str))
                    {
                        if !scoped.contains_key(term) {
                            found.push(format!("{path}.{name}: value {term}"));
                        }
                    }
                }
                undefined(value, &merged(inherited, definition.get("@context")), &format!("{path}.{name}"), found);
            }
        }
        _ => {}
    }
}

fn check(document: &Value) -> Vec<String> {
    let contexts = document["@context"].as_array().unwrap();
    let mut active = Context::new();
    for url in contexts {
        let file = match url.as_str().unwrap() {
            certificate::VC_CONTEXT => "credentials-v2.json",
            certificate::OB_CONTEXT => "ob-3.0.3.json",
            other => panic!("a context not vendored: {other}"),
        };
        active = merged(&active, Some(&Value::Object(context(file))));
    }
    let mut found = Vec::new();
    undefined(document, &active, "$", &mut found);
    found
}

fn sample() -> Certificate {
    let line = |outing: &str, date: &str| Line {
        outing: format!("urn:uuid:{outing}"),
        date: date.to_owned(),
        span: "09:00–11:00".to_owned(),
        place: "武当路社区".to_owned(),
        category: "义诊".to_owned(),
        minutes: 120,
    };
    Certificate {
        id: "urn:uuid:0193a5c4-0000-7000-8000-000000000001".to_owned(),
        number: "2026-000001".to_owned(),
        check_url: "https://taizhang.example/certificates/2026-000001".to_owned(),
        status_url: "https://taizhang.example/certificates/status/2026".to_owned(),
        status_index: 0,
        issuer_did: IssuerKey::from_seed([1; 32]).public().did(),
        unit_name: "十堰市人民医院".to_owned(),
        person_in_charge: "王主任".to_owned(),
        contact: "0719-8888888".to_owned(),
        holder_name: "王俊".to_owned(),
        volunteer_number: "SY-0001-01".to_owned(),
        first: "2011-06-01".to_owned(),
        last: "2011-06-30".to_owned(),
        issued_at: "2026-07-01T00:00:00Z".to_owned(),
        lines: vec![
            line("0193a5c4-0000-7000-8000-000000000002", "2011-06-10"),
            line("0193a5c4-0000-7000-8000-000000000003", "2011-06-12"),
        ],
    }
}

#[test]
fn every_property_of_a_signed_certificate_is_a_term_of_its_contexts() {
    let key = IssuerKey::from_seed([1; 32]);
    let signed = Value::Object(sign(sample().document(), &key, "2026-07-01T00:00:00Z").unwrap());
    assert_eq!(check(&signed), Vec::<String>::new());
    // The check finds what it looks for: a property of our own, a type unknown (and so
    // the evidence's genre, which only the Evidence type defines).
    let mut extra = signed.clone();
    extra["credentialSubject"]["hoursServed"] = "4".into();
    extra["evidence"][0]["type"] = serde_json::json!(["Proof"]);
    assert_eq!(check(&extra), ["$.credentialSubject.hoursServed", "$.evidence: type Proof", "$.evidence.genre"]);
}

#[test]
fn every_property_of_a_status_list_is_a_term_of_its_context() {
    let key = IssuerKey::from_seed([1; 32]);
    let url = "https://taizhang.example/certificates/status/2026/revocation";
    let list = list_credential(
        url,
        &key.public().did(),
        StatusPurpose::Revocation,
        "2026-07-01T00:00:00Z",
        encode_list([3], 0),
    );
    let signed = Value::Object(sign(list, &key, "2026-07-01T00:00:00Z").unwrap());
    assert_eq!(check(&signed), Vec::<String>::new());
}

#[test]
fn the_certificate_has_what_open_badges_requires() {
    // What the Open Badges 3.0 data model makes required, where the context cannot say.
    let document = Value::Object(sample().document());
    for field in ["id", "type", "issuer", "validFrom", "name", "credentialSubject"] {
        assert!(document.get(field).is_some(), "{field}");
    }
    let subject = &document["credentialSubject"];
    let achievement = &subject["achievement"];
    for field in ["id", "type", "criteria", "description", "name"] {
        assert!(achievement.get(field).is_some(), "achievement.{field}");
    }
    assert!(subject["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| { ["type", "hashed", "identityHash", "identityType"].iter().all(|f| i.get(*f).is_some()) }));
    assert!(document["issuer"]["id"].as_str().unwrap().starts_with("did:key:z6Mk"));
    assert_eq!(document["issuer"]["type"], serde_json::json!(["Profile"]));
}
