//! The W3C test vectors of the `eddsa-jcs-2022` cryptosuite (Data Integrity EdDSA
//! Cryptosuites v1.0, `TestVectors/eddsa-jcs-2022/`), checked byte for byte: each
//! intermediate result of signing, and the signed document.

use serde_json::{Map, Value};
use taizhang_credential::jcs::canonical;
use taizhang_credential::*;

fn text(name: &str) -> String {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")).trim_end().to_owned()
}

fn json(name: &str) -> Map<String, Value> {
    match serde_json::from_str(&text(name)).unwrap() {
        Value::Object(map) => map,
        other => panic!("{name} is not an object: {other}"),
    }
}

fn key() -> IssuerKey {
    let pair = json("keyPair.json");
    let key = IssuerKey::from_multibase(pair["privateKeyMultibase"].as_str().unwrap()).unwrap();
    assert_eq!(key.public().multibase(), pair["publicKeyMultibase"].as_str().unwrap());
    assert_eq!(key.to_multibase(), pair["privateKeyMultibase"].as_str().unwrap());
    key
}

#[test]
fn every_step_of_signing_gives_the_published_bytes() {
    let key = key();
    let unsigned = json("unsigned.json");
    let published_config = json("proofConfigJCS.json");
    let created = published_config["created"].as_str().unwrap();

    assert_eq!(canonical(&Value::Object(unsigned.clone())), text("canonDocJCS.txt"));
    let config = proof_config(&unsigned, &key.public(), created);
    assert_eq!(config, published_config);
    assert_eq!(canonical(&Value::Object(config.clone())), text("proofCanonJCS.txt"));

    let hashed = hash_data(&unsigned, &config);
    assert_eq!(hex::encode(&hashed[..32]), text("proofHashJCS.txt"));
    assert_eq!(hex::encode(&hashed[32..]), text("docHashJCS.txt"));
    assert_eq!(hex::encode(hashed), text("combinedHashJCS.txt"));

    let signed = sign(unsigned, &key, created).unwrap();
    let proof_value = signed["proof"]["proofValue"].as_str().unwrap();
    assert_eq!(proof_value, text("sigBTC58JCS.txt"));
    let signature = multibase::from_base58btc(proof_value).unwrap();
    assert_eq!(hex::encode(signature), text("sigHexJCS.txt"));

    // The same document as published, and the same bytes once canonical.
    let published = json("signedJCS.json");
    assert_eq!(signed, published);
    assert_eq!(canonical(&Value::Object(signed)), canonical(&Value::Object(published)));
}

#[test]
fn the_published_signed_document_verifies_and_any_change_is_named() {
    let key = key();
    let published = Value::Object(json("signedJCS.json"));
    let verified = verify(&published, Some(&key.public())).unwrap();
    assert_eq!((verified.key, verified.created.as_str()), (key.public(), "2023-02-24T23:36:38Z"));
    // Whitespace and member order do not matter: the canonical form is signed.
    let compact: Value = serde_json::from_str(&serde_json::to_string(&published).unwrap()).unwrap();
    assert!(verify(&compact, None).is_ok());

    let mut changed = published.clone();
    changed["credentialSubject"]["alumniOf"] = "The School of Samples".into();
    assert_eq!(verify(&changed, None).unwrap_err(), VerifyError::BadSignature);

    let mut proof_changed = published.clone();
    proof_changed["proof"]["created"] = "2023-02-24T23:36:39Z".into();
    assert_eq!(verify(&proof_changed, None).unwrap_err(), VerifyError::BadSignature);

    let other = IssuerKey::from_seed([9; 32]).public();
    assert!(matches!(verify(&published, Some(&other)).unwrap_err(), VerifyError::OtherKey { .. }));

    let mut unsigned = published.clone();
    unsigned.as_object_mut().unwrap().remove("proof");
    assert_eq!(verify(&unsigned, None).unwrap_err(), VerifyError::Unsigned);

    let mut bad_value = published;
    bad_value["proof"]["proofValue"] = "z0000".into();
    assert!(matches!(verify(&bad_value, None).unwrap_err(), VerifyError::Proof(_)));
}
