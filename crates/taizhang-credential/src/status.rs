//! Bitstring Status Lists (W3C, 2025): one bit per credential, index 0 the most
//! significant bit of the first byte, GZIP-compressed and written in multibase
//! base64url, inside a credential of its own that the issuer signs.

use std::io::{Read, Write};

use serde_json::{json, Map, Value};

use crate::multibase::{base64url, from_base64url};
use crate::VerifyError;

/// The smallest list the standard allows (16 KiB of bits): a list this long does not
/// tell an observer which of few credentials was looked up.
pub const MIN_BITS: usize = 131_072;

/// The two lists a certificate appears in: revoked by a reviewer, or superseded
/// because a record it covers changed since.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StatusPurpose {
    Revocation,
    Superseded,
}

impl StatusPurpose {
    /// The name in a URL and the standard's `statusPurpose`: revocation is the
    /// standard's own purpose; superseded is a `message` purpose of one bit.
    pub fn path(self) -> &'static str {
        match self {
            Self::Revocation => "revocation",
            Self::Superseded => "superseded",
        }
    }

    fn standard_purpose(self) -> &'static str {
        match self {
            Self::Revocation => "revocation",
            Self::Superseded => "message",
        }
    }

    /// What the entry in a certificate says about this list.
    pub fn entry(self, list_url: &str, index: u32) -> Value {
        let mut entry = json!({
            "id": format!("{list_url}#{index}"),
            "type": "BitstringStatusListEntry",
            "statusPurpose": self.standard_purpose(),
            "statusListIndex": index.to_string(),
            "statusListCredential": list_url,
        });
        if self == Self::Superseded {
            entry["statusSize"] = json!(1);
            entry["statusMessage"] = json!([
                {"status": "0x0", "message": "valid"},
                {"status": "0x1", "message": "superseded"},
            ]);
        }
        entry
    }
}

/// The list with the bits of `set` on, at least [`MIN_BITS`] long, encoded.
pub fn encode_list(set: impl IntoIterator<Item = u32>, length: usize) -> String {
    let mut bytes = vec![0u8; length.max(MIN_BITS).div_ceil(8)];
    for index in set {
        if let Some(byte) = bytes.get_mut(index as usize / 8) {
            *byte |= 0x80 >> (index % 8);
        }
    }
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&bytes).expect("writing into a Vec cannot fail");
    base64url(&gzip.finish().expect("writing into a Vec cannot fail"))
}

/// Whether bit `index` of an encoded list is on; an error when the list cannot be
/// read or is shorter than the index.
pub fn bit(encoded: &str, index: u32) -> Result<bool, VerifyError> {
    let compressed =
        from_base64url(encoded).ok_or_else(|| VerifyError::Status("encodedList is not base64url".into()))?;
    let mut bytes = Vec::new();
    // A list of a million credentials is 128 KiB: more is not a list we wrote.
    flate2::read::GzDecoder::new(&compressed[..])
        .take(1 << 24)
        .read_to_end(&mut bytes)
        .map_err(|_| VerifyError::Status("encodedList is not GZIP".into()))?;
    let byte = bytes
        .get(index as usize / 8)
        .ok_or_else(|| VerifyError::Status(format!("the list is shorter than index {index}")))?;
    Ok(byte & (0x80 >> (index % 8)) != 0)
}

/// The unsigned status list credential at `url`, issued by `issuer` (a `did:key`).
pub fn list_credential(
    url: &str,
    issuer: &str,
    purpose: StatusPurpose,
    valid_from: &str,
    encoded: String,
) -> Map<String, Value> {
    let document = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": format!("{url}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": purpose.standard_purpose(),
            "encodedList": encoded,
        },
    });
    crate::object(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_holds_exactly_the_bits_set_and_is_at_least_the_minimum_length() {
        let encoded = encode_list([0, 7, 8, 94_567], 10);
        for index in [0, 7, 8, 94_567] {
            assert!(bit(&encoded, index).unwrap(), "{index}");
        }
        for index in [1, 6, 9, 94_566, 131_071] {
            assert!(!bit(&encoded, index).unwrap(), "{index}");
        }
        assert!(bit(&encoded, 131_072).is_err(), "beyond the list");
        // The standard's example of an empty list of 131,072 bits.
        let empty = encode_list([], 0);
        assert!(!bit(&empty, 131_071).unwrap());
        assert!(bit("uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA", 131_071).is_ok());
    }
}
