//! The one error a scenario file can produce: where, and what is allowed.

use std::fmt;
use std::ops::Range;

/// An invalid scenario. `line` and `column` count from 1 (column in
/// characters); both are 0 when the error concerns the whole file (it cannot
/// be read, it is too large).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl ScenarioError {
    /// An error at byte `offset` of `text`.
    pub fn at(file: &str, text: &str, offset: usize, message: impl Into<String>) -> ScenarioError {
        let (line, column) = line_column(text, offset);
        ScenarioError {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    pub fn at_span(
        file: &str,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::at(file, text, span.start, message)
    }

    pub fn whole_file(file: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: file.to_string(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(formatter, "{}: {}", self.file, self.message)
        } else {
            write!(
                formatter,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and character column of byte `offset` (clamped to the text,
/// and to a character boundary).
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_from_one_in_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (1, 5));
        assert_eq!(line_column(text, 6), (2, 1));
        // 'é' is two bytes, one column.
        assert_eq!(line_column(text, 9), (2, 3));
        // Inside 'é': clamped back to its start.
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 1000), (3, 1));
    }

    #[test]
    fn display_is_file_line_column_message() {
        let error = ScenarioError::at(
            "scenarios/x.toml",
            "\n\nloss = 1.5",
            9,
            "loss must be between 0 and 1, got 1.5",
        );
        assert_eq!(
            error.to_string(),
            "scenarios/x.toml:3:8: loss must be between 0 and 1, got 1.5"
        );
        assert_eq!(
            ScenarioError::whole_file("x.toml", "cannot read").to_string(),
            "x.toml: cannot read"
        );
    }
}
