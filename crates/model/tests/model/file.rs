//! File hashes: validation, normalisation, links.

use proptest::prelude::*;
use threatintel_model::{FileHash, FileHashError, FileHashes, FileHashesError, HashKind};

proptest! {
    /// Any 16, 20 or 32 bytes written as hex in any case read back as one lower-case hash of
    /// the kind their length says, whose bytes are the input's.
    #[test]
    fn hashes_normalise_and_round_trip(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 16),
            proptest::collection::vec(any::<u8>(), 20),
            proptest::collection::vec(any::<u8>(), 32),
        ],
        upper in any::<bool>(),
    ) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let written = if upper { hex.to_ascii_uppercase() } else { hex.clone() };
        let hash = FileHash::parse(&format!(" {written}\t")).unwrap();
        prop_assert_eq!(hash.as_str(), hex.as_str());
        prop_assert_eq!(hash.kind(), HashKind::of_len(bytes.len()).unwrap());
        prop_assert_eq!(hash.to_bytes(), bytes.clone());
        prop_assert_eq!(FileHash::from_bytes(&bytes).unwrap(), hash.clone());
        let json = serde_json::to_string(&hash).unwrap();
        prop_assert_eq!(serde_json::from_str::<FileHash>(&json).unwrap(), hash);
    }

    /// Hex of any other length, or text with a non-hex character, is refused.
    #[test]
    fn other_text_is_refused(s in "\\PC{0,70}") {
        let t = s.trim();
        let valid = matches!(t.len(), 32 | 40 | 64) && t.chars().all(|c| c.is_ascii_hexdigit());
        prop_assert_eq!(FileHash::parse(&s).is_ok(), valid);
    }
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(
        FileHash::parse("abc"),
        Err(FileHashError::Length("abc".into(), 3))
    );
    assert_eq!(
        FileHash::parse(&format!("{}g", "0".repeat(31))),
        Err(FileHashError::NotHex(format!("{}g", "0".repeat(31)), 'g'))
    );
    assert!(FileHash::from_bytes(&[0; 17]).is_err());
}

#[test]
fn hashes_of_one_file_link_at_most_one_of_each_kind() {
    let md5 = FileHash::parse(&"a".repeat(32)).unwrap();
    let other_md5 = FileHash::parse(&"b".repeat(32)).unwrap();
    let sha256 = FileHash::parse(&"c".repeat(64)).unwrap();
    let both = FileHashes::new([sha256.clone(), md5.clone(), md5.clone()]).unwrap();
    assert_eq!(both.strongest(), &sha256);
    assert_eq!(both.iter().collect::<Vec<_>>(), [&md5, &sha256]);
    assert_eq!(both.get(HashKind::Sha1), None);
    assert_eq!(
        FileHashes::new([md5.clone(), other_md5.clone()]),
        Err(FileHashesError::Conflict(
            HashKind::Md5,
            md5.clone(),
            other_md5
        ))
    );
    assert_eq!(FileHashes::new([]), Err(FileHashesError::Empty));
    let json = serde_json::to_string(&both).unwrap();
    assert_eq!(
        json,
        format!("{{\"md5\":\"{md5}\",\"sha256\":\"{sha256}\"}}")
    );
    assert_eq!(serde_json::from_str::<FileHashes>(&json).unwrap(), both);
    assert!(serde_json::from_str::<FileHashes>(&format!("{{\"sha1\":\"{md5}\"}}")).is_err());
    assert!(serde_json::from_str::<FileHashes>("{}").is_err());
}
