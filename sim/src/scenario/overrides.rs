//! `--set KEY=VALUE`: a scenario file with some scalars replaced, validated
//! exactly as the file itself would be (an unknown key or a bad value is the
//! parser's own message, with the allowed keys or values).
//!
//! The file is read as a TOML document, each dotted key (`network.loss`,
//! `consensus.peer_selection`, `faults.0.at` — a number indexes an array of
//! tables) is set in it, missing tables on the way are created, and the
//! document is parsed again as a scenario. A value is read as a TOML value
//! (`0.05`, `16`, `true`, `"2s"`) when it is one, and as a string otherwise
//! (`2s`, `random`, `0..4`).

use super::{Scenario, ScenarioError};

/// One `KEY=VALUE` setting.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Setting {
    pub key: String,
    pub value: String,
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// The longest dotted key, and most values one `--set` lists.
const KEY_CHARS_MAX: usize = 256;
pub const VALUES_PER_KEY_MAX: usize = 1_000;

/// Reads one `KEY=V1,V2,...` argument: the key and its values, in order,
/// without duplicates.
pub fn parse_set_argument(text: &str) -> Result<(String, Vec<String>), String> {
    let Some((key, values)) = text.split_once('=') else {
        return Err(format!(
            "--set {text}: expected KEY=VALUE[,VALUE...], for example network.loss=0,0.05"
        ));
    };
    let key = key.trim();
    check_key(key).map_err(|problem| format!("--set {text}: {problem}"))?;
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    if values.iter().any(String::is_empty) {
        return Err(format!(
            "--set {text}: an empty value (values are separated by commas)"
        ));
    }
    if values.len() > VALUES_PER_KEY_MAX {
        return Err(format!(
            "--set {key}: {} values, at most {VALUES_PER_KEY_MAX}",
            values.len()
        ));
    }
    for (at, value) in values.iter().enumerate() {
        if values[..at].contains(value) {
            return Err(format!("--set {key}: the value {value} is listed twice"));
        }
    }
    Ok((key.to_string(), values))
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > KEY_CHARS_MAX {
        return Err(format!("a key is 1 to {KEY_CHARS_MAX} characters"));
    }
    if key.split('.').any(str::is_empty) {
        return Err(format!(
            "\"{key}\" has an empty part (keys are dotted: network.loss)"
        ));
    }
    if key == "seed" {
        return Err(
            "the seed is not a setting: runs take theirs from --seed or --seeds".to_string(),
        );
    }
    Ok(())
}

/// The scenario of `text` (read from `file`) with `settings` applied, in
/// order, and validated. An error names the settings and what the parser
/// said about the result.
pub fn with_settings(
    file: &str,
    text: &str,
    settings: &[Setting],
) -> Result<Scenario, ScenarioError> {
    if settings.is_empty() {
        return Scenario::parse(file, text);
    }
    let described: Vec<String> = settings.iter().map(Setting::to_string).collect();
    let failed = |message: String| {
        ScenarioError::whole_file(
            file,
            format!("with --set {}: {message}", described.join(" --set ")),
        )
    };
    let mut document: toml::Table = match text.parse() {
        Ok(document) => document,
        // The parser says what is wrong with the file itself, where.
        Err(_) => return Scenario::parse(file, text),
    };
    for setting in settings {
        check_key(&setting.key).map_err(&failed)?;
        set(&mut document, &setting.key, value_of(&setting.value)).map_err(&failed)?;
    }
    let rewritten = toml::to_string(&document)
        .map_err(|error| failed(format!("cannot write the scenario back: {error}")))?;
    Scenario::parse(file, &rewritten).map_err(|error| failed(error.message))
}

/// A command-line value as TOML: a TOML value when it reads as one, else a
/// string.
fn value_of(text: &str) -> toml::Value {
    let probe = format!("value = {text}");
    match probe.parse::<toml::Table>() {
        Ok(mut table) if table.len() == 1 => table.remove("value").expect("the one key"),
        _ => toml::Value::String(text.to_string()),
    }
}

/// Sets `key` (dotted) in `document` to `value`.
fn set(document: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let (last, path) = parts.split_last().expect("a checked key has a part");
    let mut table = document;
    for (depth, part) in path.iter().enumerate() {
        let walked = parts[..=depth].join(".");
        let next = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match next {
            toml::Value::Table(inner) => inner,
            toml::Value::Array(items) => {
                let index = parts
                    .get(depth + 1)
                    .and_then(|index| index.parse::<usize>().ok())
                    .ok_or_else(|| {
                        format!("{walked} is an array: give an index, as in {walked}.0.KEY")
                    })?;
                let count = items.len();
                match items.get_mut(index) {
                    Some(toml::Value::Table(inner)) => {
                        return set_in_item(inner, &parts[depth + 2..], &walked, index, value);
                    }
                    Some(_) => return Err(format!("{walked}.{index} is not a table")),
                    None => {
                        return Err(format!("{walked} has {count} entries: no index {index}"));
                    }
                }
            }
            other => return Err(format!("{walked} is a {}, not a table", other.type_str())),
        };
    }
    table.insert(last.to_string(), value);
    Ok(())
}

/// The rest of a key inside one entry of an array of tables.
fn set_in_item(
    item: &mut toml::Table,
    rest: &[&str],
    walked: &str,
    index: usize,
    value: toml::Value,
) -> Result<(), String> {
    if rest.is_empty() {
        return Err(format!("{walked}.{index} is a table: name a key in it"));
    }
    set(item, &rest.join("."), value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
name = "t"
seed = 3
duration = "10s"

[cells]
count = 8

[[faults]]
kind = "crash"
cells = [1]
at = "2s"
"#;

    fn setting(key: &str, value: &str) -> Setting {
        Setting {
            key: key.to_string(),
            value: value.to_string(),
        }
    }

    #[test]
    fn settings_replace_scalars_create_tables_and_index_arrays() {
        let scenario = with_settings(
            "t.toml",
            FILE,
            &[
                setting("cells.count", "16"),
                setting("network.loss", "0.05"),
                setting("faults.0.at", "5s"),
                setting("consensus.gossip_interval", "250ms"),
            ],
        )
        .unwrap();
        assert_eq!(scenario.cells.count, 16);
        assert_eq!(scenario.network.loss, 0.05);
        assert_eq!(scenario.consensus.gossip_interval_ns, 250_000_000);
        assert!(matches!(
            scenario.faults[0],
            super::super::Fault::Crash {
                at_ns: 5_000_000_000,
                ..
            }
        ));
        // No setting: the file as it is.
        assert_eq!(
            with_settings("t.toml", FILE, &[]).unwrap(),
            Scenario::parse("t.toml", FILE).unwrap()
        );
    }

    #[test]
    fn a_bad_key_or_value_is_the_parsers_message_with_the_settings() {
        let error = with_settings("t.toml", FILE, &[setting("network.los", "0.1")]).unwrap_err();
        assert!(
            error
                .message
                .starts_with("with --set network.los=0.1: unknown key `los`"),
            "{error}"
        );
        assert!(error.message.contains("allowed keys"), "{error}");
        let error = with_settings("t.toml", FILE, &[setting("network.loss", "2")]).unwrap_err();
        assert!(
            error.message.contains("loss must be between 0 and 1"),
            "{error}"
        );
        let error = with_settings("t.toml", FILE, &[setting("cells.count.x", "2")]).unwrap_err();
        assert!(
            error
                .message
                .contains("cells.count is a integer, not a table"),
            "{error}"
        );
        let error = with_settings("t.toml", FILE, &[setting("faults.3.at", "1s")]).unwrap_err();
        assert!(
            error.message.contains("faults has 1 entries: no index 3"),
            "{error}"
        );
        let error = with_settings("t.toml", FILE, &[setting("faults.at", "1s")]).unwrap_err();
        assert!(error.message.contains("give an index"), "{error}");
    }

    #[test]
    fn set_arguments_split_on_commas_and_refuse_what_cannot_be_a_grid() {
        assert_eq!(
            parse_set_argument("network.loss=0, 0.05,0.1").unwrap(),
            (
                "network.loss".to_string(),
                vec!["0".to_string(), "0.05".to_string(), "0.1".to_string()]
            )
        );
        for bad in [
            "network.loss",
            "=1",
            "network..loss=1",
            "x=1,,2",
            "seed=1,2",
            "a=1,1",
        ] {
            assert!(parse_set_argument(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_read_as_toml_when_they_are_and_as_strings_otherwise() {
        assert_eq!(value_of("16"), toml::Value::Integer(16));
        assert_eq!(value_of("0.5"), toml::Value::Float(0.5));
        assert_eq!(value_of("true"), toml::Value::Boolean(true));
        assert_eq!(value_of("\"2s\""), toml::Value::String("2s".into()));
        assert_eq!(value_of("2s"), toml::Value::String("2s".into()));
        assert_eq!(value_of("0..4"), toml::Value::String("0..4".into()));
    }
}
