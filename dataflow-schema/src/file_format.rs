//! The version stamp of the files dataflow writes for people to commit and review
//! (`schema.json`, `plan.json`): an older file is still read, a newer one is refused
//! with a clear error instead of being half-understood.

use serde::de::{DeserializeOwned, Error as _};
use serde::Serialize;

/// The format this build writes. Raise it when a change makes files unreadable by older
/// builds (a field they would misread); adding a field with a default does not need it.
/// Files without `format_version` predate it and are format 1.
pub const FORMAT_VERSION: u64 = 1;

#[derive(Serialize)]
struct Stamped<'a, T> {
    format_version: u64,
    #[serde(flatten)]
    body: &'a T,
}

/// `value` as pretty JSON with `"format_version"` as its first key.
pub fn to_stamped_json<T: Serialize>(value: &T) -> String {
    // Serialising plain data structures with string keys cannot fail.
    serde_json::to_string_pretty(&Stamped { format_version: FORMAT_VERSION, body: value })
        .unwrap_or_default()
}

/// Reads a file written by [`to_stamped_json`] (or by a build before the stamp); `what`
/// names the file in the error, e.g. `"schema.json"`.
pub fn from_stamped_json<T: DeserializeOwned>(
    text: &str,
    what: &str,
) -> Result<T, serde_json::Error> {
    from_stamped_value(serde_json::from_str(text)?, what)
}

/// [`from_stamped_json`] of JSON already parsed.
pub fn from_stamped_value<T: DeserializeOwned>(
    mut value: serde_json::Value,
    what: &str,
) -> Result<T, serde_json::Error> {
    if let Some(object) = value.as_object_mut() {
        if let Some(stamp) = object.remove("format_version") {
            let version = stamp.as_u64().ok_or_else(|| {
                serde_json::Error::custom(format!(
                    "{what}: format_version is {stamp}, expected a whole number"
                ))
            })?;
            if version == 0 {
                return Err(serde_json::Error::custom(format!(
                    "{what}: format_version 0 was never written by dataflow (the first is 1)"
                )));
            }
            if version > FORMAT_VERSION {
                return Err(serde_json::Error::custom(format!(
                    "{what} was written by a newer dataflow (file format {version}; this \
                     build reads up to {FORMAT_VERSION}): upgrade dataflow to read it"
                )));
            }
        }
    }
    serde_json::from_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_stamp_comes_first_and_is_read_back() {
        let body = BTreeMap::from([("tables".to_owned(), 2)]);
        let json = to_stamped_json(&body);
        assert!(json.starts_with("{\n  \"format_version\": 1,"), "{json}");
        let back: BTreeMap<String, i32> = from_stamped_json(&json, "schema.json").unwrap();
        assert_eq!(back, body);
    }

    #[test]
    fn files_without_a_stamp_are_read_and_newer_ones_refused() {
        let old: BTreeMap<String, i32> = from_stamped_json(r#"{"tables": 2}"#, "x").unwrap();
        assert_eq!(old["tables"], 2);
        let newer = from_stamped_json::<BTreeMap<String, i32>>(
            r#"{"format_version": 2, "tables": 2}"#,
            "plan.json",
        )
        .unwrap_err()
        .to_string();
        assert!(
            newer.contains("plan.json was written by a newer dataflow (file format 2"),
            "{newer}"
        );
        let odd = from_stamped_json::<BTreeMap<String, i32>>(r#"{"format_version": "x"}"#, "a")
            .unwrap_err()
            .to_string();
        assert!(odd.contains("format_version is \"x\""), "{odd}");
    }
}
