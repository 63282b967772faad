//! Mechanical rules, checked on every test run (TigerBeetle's `tidy`): no wall
//! clock, OS randomness, unpinned RNG, printing or hash-ordered collections in
//! the protocol (`core/src`) and simulation (`sim/src`) code.
//!
//! The whole of every file is checked, except the bodies of test modules: an
//! inline `#[cfg(test)] mod name { ... }` (to its matching closing brace), and
//! a file that is a test module (declared elsewhere with
//! `#[cfg(test)] mod name;`, or declared from inside a test module, or opening
//! with `#![cfg(test)]`). Any other `#[cfg(test)]` item is checked as usual.
//!
//! A small lexer splits the source into code tokens and comments, so a banned
//! word in a comment or a string literal is not code, and braces inside
//! literals and comments do not count.
//!
//! A `HashMap`/`HashSet` (or a `hash_map::`/`hash_set::` path) used only for
//! lookups whose order never reaches an output is allowed when a comment on
//! its line, or on the line directly above, says `tidy: lookup-only`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Code that must not appear, and why.
const BANNED: &[(&str, &str)] = &[
    ("thread_rng", "OS-seeded randomness"),
    ("rand::random", "OS-seeded randomness"),
    ("OsRng", "OS randomness"),
    ("from_entropy", "OS-seeded randomness"),
    ("SystemTime::now", "the wall clock"),
    ("Instant::now", "the wall clock"),
    ("StdRng", "an RNG whose algorithm is not pinned"),
    ("SmallRng", "an RNG whose algorithm is not pinned"),
    ("std::thread::spawn", "thread-dependent order"),
    (
        "println!",
        "printing from protocol code (record an observation instead)",
    ),
    (
        "eprintln!",
        "printing from protocol code (record an observation instead)",
    ),
];

/// Identifiers containing these name a hash-keyed collection (`FxHashMap`
/// too).
const HASHED_TYPES: &[&str] = &["HashMap", "HashSet"];
/// Path segments that are the modules of the hash-keyed collections.
const HASHED_MODULES: &[&str] = &["hash_map", "hash_set"];
/// The comment that allows a hash-keyed collection on its line or the next.
const LOOKUP_ONLY: &str = "tidy: lookup-only";

// ---------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An identifier or keyword.
    Ident,
    /// A string, character or number literal (its text is not kept).
    Literal,
    /// A lifetime or loop label, `'a`.
    Lifetime,
    /// Punctuation: `::` as one token, anything else one character.
    Punct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    kind: Kind,
    text: String,
    /// 1-based line of the token's first character.
    line: usize,
}

/// A source file split into code tokens and the comment text on each line.
#[derive(Debug, Default)]
struct Lexed {
    tokens: Vec<Token>,
    /// Comment text by 1-based line (a block comment adds to every line it
    /// spans).
    comments: BTreeMap<usize, String>,
    /// Unterminated literals or comments, by line.
    errors: Vec<(usize, &'static str)>,
}

impl Lexed {
    fn comment_on(&self, line: usize) -> &str {
        self.comments.get(&line).map_or("", String::as_str)
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn lex(source: &str) -> Lexed {
    let chars: Vec<char> = source.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut lexed = Lexed::default();
    let mut line = 1;
    let mut i = 0;
    let push = |lexed: &mut Lexed, kind, text: String, line| {
        lexed.tokens.push(Token { kind, text, line });
    };
    while let Some(c) = at(i) {
        let next = at(i + 1);
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            let start = i;
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            lexed.comments.entry(line).or_default().push_str(&text);
        } else if c == '/' && next == Some('*') {
            let start_line = line;
            let mut depth = 0usize;
            loop {
                match (at(i), at(i + 1)) {
                    (None, _) => {
                        lexed
                            .errors
                            .push((start_line, "unterminated block comment"));
                        break;
                    }
                    (Some('/'), Some('*')) => {
                        depth += 1;
                        lexed.comments.entry(line).or_default().push_str("/*");
                        i += 2;
                    }
                    (Some('*'), Some('/')) => {
                        depth -= 1;
                        lexed.comments.entry(line).or_default().push_str("*/");
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    }
                    (Some('\n'), _) => {
                        line += 1;
                        i += 1;
                    }
                    (Some(c), _) => {
                        lexed.comments.entry(line).or_default().push(c);
                        i += 1;
                    }
                }
            }
        } else if c == '"' {
            let start_line = line;
            i += 1;
            loop {
                match at(i) {
                    None => {
                        lexed.errors.push((start_line, "unterminated string"));
                        break;
                    }
                    Some('\\') => {
                        if at(i + 1) == Some('\n') {
                            line += 1;
                        }
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\n') => {
                        line += 1;
                        i += 1;
                    }
                    Some(_) => i += 1,
                }
            }
            push(&mut lexed, Kind::Literal, String::new(), start_line);
        } else if c == '\'' {
            if next == Some('\\') {
                // An escaped character: '\n', '\'', '\u{7f}'.
                i += 3;
                while at(i).is_some_and(|c| c != '\'' && c != '\n') {
                    i += 1;
                }
                if at(i) == Some('\'') {
                    i += 1;
                } else {
                    lexed.errors.push((line, "unterminated character literal"));
                }
                push(&mut lexed, Kind::Literal, String::new(), line);
            } else if next.is_some() && next != Some('\n') && at(i + 2) == Some('\'') {
                // A plain character: 'x', '{', '"'.
                i += 3;
                push(&mut lexed, Kind::Literal, String::new(), line);
            } else {
                // A lifetime or a label: 'a, 'static, 'outer.
                let start = i;
                i += 1;
                while at(i).is_some_and(is_ident_continue) {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                push(&mut lexed, Kind::Lifetime, text, line);
            }
        } else if is_ident_start(c) {
            let start = i;
            while at(i).is_some_and(is_ident_continue) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if matches!(word.as_str(), "r" | "br" | "cr") && matches!(at(i), Some('#' | '"')) {
                let mut hashes = 0;
                while at(i + hashes) == Some('#') {
                    hashes += 1;
                }
                if at(i + hashes) == Some('"') {
                    // A raw string: r"...", r#"..."#, br##"..."##.
                    let start_line = line;
                    i += hashes + 1;
                    loop {
                        match at(i) {
                            None => {
                                lexed.errors.push((start_line, "unterminated raw string"));
                                break;
                            }
                            Some('"') if (1..=hashes).all(|h| at(i + h) == Some('#')) => {
                                i += hashes + 1;
                                break;
                            }
                            Some('\n') => {
                                line += 1;
                                i += 1;
                            }
                            Some(_) => i += 1,
                        }
                    }
                    push(&mut lexed, Kind::Literal, String::new(), start_line);
                    continue;
                }
                if word == "r" && hashes == 1 && at(i + 1).is_some_and(is_ident_start) {
                    // A raw identifier, r#type: the identifier is what follows.
                    i += 1;
                    continue;
                }
            }
            if (matches!(word.as_str(), "b" | "c") && at(i) == Some('"'))
                || (word == "b" && at(i) == Some('\''))
            {
                // The prefix of a byte or C string literal, lexed next.
                continue;
            }
            push(&mut lexed, Kind::Ident, word, line);
        } else if c.is_ascii_digit() {
            while at(i).is_some_and(|c| {
                is_ident_continue(c) || (c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit()))
            }) {
                i += 1;
            }
            push(&mut lexed, Kind::Literal, String::new(), line);
        } else if c == ':' && next == Some(':') {
            i += 2;
            push(&mut lexed, Kind::Punct, "::".to_owned(), line);
        } else {
            i += 1;
            push(&mut lexed, Kind::Punct, c.to_string(), line);
        }
    }
    lexed
}

// ---------------------------------------------------------------------------
// Test modules

/// A `mod name;` declaration: the module's file is found from the declaring
/// file, the inline modules around the declaration, and the name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Declared {
    inline: Vec<String>,
    name: String,
    /// Under `#[cfg(test)]`, or inside a test module.
    test: bool,
}

/// One file's code after test modules are taken out.
#[derive(Debug, Default)]
struct Outline {
    /// Per token: inside a test module (or its attributes).
    skipped: Vec<bool>,
    declared: Vec<Declared>,
    /// The file says `#![cfg(test)]` (at its top level): all of it is a test
    /// module.
    test_file: bool,
    errors: Vec<(usize, &'static str)>,
}

fn is(tokens: &[Token], k: usize, text: &str) -> bool {
    tokens
        .get(k)
        .is_some_and(|t| t.kind != Kind::Literal && t.text == text)
}

/// The index of the bracket that closes the one at `open`.
fn matching(tokens: &[Token], open: usize, left: &str, right: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (k, token) in tokens.iter().enumerate().skip(open) {
        if token.kind != Kind::Punct {
            continue;
        }
        if token.text == left {
            depth += 1;
        } else if token.text == right {
            depth -= 1;
            if depth == 0 {
                return Some(k);
            }
        }
    }
    None
}

/// The bracketed part of an attribute, `[...]`, opening at `open`: (its last
/// index, whether it says exactly `cfg(test)`).
fn attribute_body(tokens: &[Token], open: usize) -> Option<(usize, bool)> {
    if !is(tokens, open, "[") {
        return None;
    }
    let close = matching(tokens, open, "[", "]")?;
    let words: Vec<&str> = tokens[open + 1..close]
        .iter()
        .map(|t| t.text.as_str())
        .collect();
    Some((close, words == ["cfg", "(", "test", ")"]))
}

/// An outer attribute `#[...]` at `k`: (its last index, whether it is exactly
/// `#[cfg(test)]`).
fn attribute(tokens: &[Token], k: usize) -> Option<(usize, bool)> {
    if !is(tokens, k, "#") {
        return None;
    }
    attribute_body(tokens, k + 1)
}

/// A module item starting at `k`: attributes, visibility, `mod name` and then
/// `{` or `;`.
struct ModuleItem {
    cfg_test: bool,
    name: String,
    /// The index of the `{` or `;` after the name.
    end: usize,
}

fn module_item(tokens: &[Token], k: usize) -> Option<ModuleItem> {
    let mut k = k;
    let mut cfg_test = false;
    while let Some((close, test)) = attribute(tokens, k) {
        cfg_test |= test;
        k = close + 1;
    }
    if is(tokens, k, "pub") {
        k += 1;
        if is(tokens, k, "(") {
            k = matching(tokens, k, "(", ")")? + 1;
        }
    }
    if !is(tokens, k, "mod") || tokens.get(k + 1)?.kind != Kind::Ident {
        return None;
    }
    let end = k + 2;
    (is(tokens, end, "{") || is(tokens, end, ";")).then(|| ModuleItem {
        cfg_test,
        name: tokens[k + 1].text.clone(),
        end,
    })
}

fn outline(tokens: &[Token]) -> Outline {
    let mut outline = Outline {
        skipped: vec![false; tokens.len()],
        ..Outline::default()
    };
    // Inline modules we are in: (name, brace depth outside it, a test module).
    let mut modules: Vec<(String, usize, bool)> = Vec::new();
    let mut depth = 0usize;
    let mut k = 0;
    while k < tokens.len() {
        if depth == 0
            && is(tokens, k, "#")
            && is(tokens, k + 1, "!")
            && attribute_body(tokens, k + 2).is_some_and(|(_, test)| test)
        {
            outline.test_file = true;
        }
        let Some(item) = module_item(tokens, k) else {
            match tokens[k].text.as_str() {
                "{" if tokens[k].kind == Kind::Punct => depth += 1,
                "}" if tokens[k].kind == Kind::Punct => {
                    depth = depth.saturating_sub(1);
                    if modules.last().is_some_and(|m| m.1 == depth) {
                        modules.pop();
                    }
                }
                _ => {}
            }
            k += 1;
            continue;
        };
        let in_test = modules.iter().any(|m| m.2);
        let test = item.cfg_test || in_test;
        if is(tokens, item.end, ";") {
            outline.declared.push(Declared {
                inline: modules.iter().map(|m| m.0.clone()).collect(),
                name: item.name,
                test,
            });
            if item.cfg_test {
                outline.skipped[k..=item.end].fill(true);
            }
        } else {
            if item.cfg_test && !in_test {
                match matching(tokens, item.end, "{", "}") {
                    Some(close) => outline.skipped[k..=close].fill(true),
                    None => {
                        outline
                            .errors
                            .push((tokens[k].line, "test module without a closing brace"));
                        outline.skipped[k..].fill(true);
                    }
                }
            }
            modules.push((item.name, depth, test));
            depth += 1;
        }
        k = item.end + 1;
    }
    outline
}

/// Where rustc looks for `mod name;` declared in `file` inside the inline
/// modules `inline`: `name.rs` or `name/mod.rs`, in the file's directory for
/// `mod.rs`, `lib.rs` and `main.rs`, else in a directory named after the file.
fn module_files(file: &Path, inline: &[String], name: &str) -> [PathBuf; 2] {
    let parent = file.parent().unwrap_or(Path::new(""));
    let mut dir = match file.file_name().and_then(|n| n.to_str()) {
        Some("mod.rs" | "lib.rs" | "main.rs") => parent.to_path_buf(),
        _ => parent.join(file.file_stem().unwrap_or_default()),
    };
    for module in inline {
        dir.push(module);
    }
    [
        dir.join(format!("{name}.rs")),
        dir.join(name).join("mod.rs"),
    ]
}

// ---------------------------------------------------------------------------
// Rules

/// What checking a tree of sources found.
#[derive(Debug, Default)]
struct Report {
    /// `path:line: what and why`, by path and line.
    problems: Vec<String>,
    /// Files checked (not test modules).
    files_checked: usize,
    /// Distinct lines holding code that was checked.
    lines_checked: usize,
    /// Files skipped as test modules.
    test_files: BTreeSet<PathBuf>,
}

/// The banned needles as token sequences.
fn banned_sequences() -> Vec<(Vec<String>, &'static str, &'static str)> {
    BANNED
        .iter()
        .map(|&(needle, why)| {
            let words = lex(needle).tokens.into_iter().map(|t| t.text).collect();
            (words, needle, why)
        })
        .collect()
}

/// Check one file's code (whatever is not skipped): `(line, problem)`.
fn check_code(lexed: &Lexed, skipped: &[bool]) -> Vec<(usize, String)> {
    let tokens = &lexed.tokens;
    let mut found = BTreeSet::new();
    let banned = banned_sequences();
    for k in (0..tokens.len()).filter(|&k| !skipped[k]) {
        let line = tokens[k].line;
        for (words, needle, why) in &banned {
            let here = words
                .iter()
                .enumerate()
                .all(|(j, word)| skipped.get(k + j) == Some(&false) && is(tokens, k + j, word));
            if here {
                found.insert((line, format!("`{needle}` is {why}")));
            }
        }
        let token = &tokens[k];
        let hashed = token.kind == Kind::Ident
            && (HASHED_TYPES.iter().any(|t| token.text.contains(t))
                || HASHED_MODULES.contains(&token.text.as_str()));
        let marked = lexed.comment_on(line).contains(LOOKUP_ONLY)
            || (line > 1 && lexed.comment_on(line - 1).contains(LOOKUP_ONLY));
        if hashed && !marked {
            found.insert((
                line,
                format!(
                    "`{}` iterates in hash order; use BTreeMap/BTreeSet or an indexed Vec, \
                     or mark a lookup-only use with `// {LOOKUP_ONLY} (why)` on its line or the line above",
                    token.text
                ),
            ));
        }
    }
    found.into_iter().collect()
}

/// Check a tree of sources (path to text), resolving which files are test
/// modules from the `mod` declarations among them.
fn check_tree(sources: &BTreeMap<PathBuf, String>) -> Report {
    let lexed: BTreeMap<&PathBuf, Lexed> = sources
        .iter()
        .map(|(path, text)| (path, lex(text)))
        .collect();
    let outlines: BTreeMap<&PathBuf, Outline> = lexed
        .iter()
        .map(|(&path, lexed)| (path, outline(&lexed.tokens)))
        .collect();
    let mut report = Report::default();
    for (&path, outline) in &outlines {
        if outline.test_file {
            report.test_files.insert(path.clone());
        }
    }
    // A file declared under `#[cfg(test)]`, or declared by a test module, is a
    // test module.
    loop {
        let mut more = Vec::new();
        for (&path, outline) in &outlines {
            let in_test_file = report.test_files.contains(path);
            for declared in &outline.declared {
                if !(declared.test || in_test_file) {
                    continue;
                }
                let file = module_files(path, &declared.inline, &declared.name)
                    .into_iter()
                    .find(|file| sources.contains_key(file));
                more.extend(file.filter(|file| !report.test_files.contains(file)));
            }
        }
        if more.is_empty() {
            break;
        }
        report.test_files.extend(more);
    }
    let mut problems = Vec::new();
    for (&path, lexed) in &lexed {
        if report.test_files.contains(path) {
            continue;
        }
        let outline = &outlines[path];
        report.files_checked += 1;
        report.lines_checked += lexed
            .tokens
            .iter()
            .zip(&outline.skipped)
            .filter(|(_, skipped)| !**skipped)
            .map(|(token, _)| token.line)
            .collect::<BTreeSet<_>>()
            .len();
        let errors = lexed.errors.iter().chain(&outline.errors);
        let errors = errors.map(|&(line, what)| (line, format!("tidy cannot read this: {what}")));
        for (line, problem) in errors.chain(check_code(lexed, &outline.skipped)) {
            problems.push((path, line, problem));
        }
    }
    problems.sort();
    report.problems = problems
        .into_iter()
        .map(|(path, line, problem)| format!("{}:{line}: {problem}", path.display()))
        .collect();
    report
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn protocol_and_simulation_code_is_deterministic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["core/src", "sim/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    let sources: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|file| {
            let text = fs::read_to_string(file).expect("source files are UTF-8");
            let relative = file.strip_prefix(root).expect("under the workspace");
            (relative.to_path_buf(), text)
        })
        .collect();
    let report = check_tree(&sources);
    println!(
        "tidy checked {} files ({} lines of code) and skipped the test modules {:?}",
        report.files_checked, report.lines_checked, report.test_files
    );
    // Checking nothing must not pass: both crates have well over this much.
    assert!(
        files.len() >= 40,
        "tidy found only {} source files",
        files.len()
    );
    assert_eq!(report.files_checked + report.test_files.len(), files.len());
    assert!(
        report.files_checked >= 35 && report.lines_checked >= 10_000,
        "tidy checked only {} files, {} lines",
        report.files_checked,
        report.lines_checked
    );
    assert!(
        report.test_files.len() >= 4,
        "tidy recognised only {:?} as test modules",
        report.test_files
    );
    assert!(
        report.problems.is_empty(),
        "tidy ({} files, {} lines of code checked):\n{}",
        report.files_checked,
        report.lines_checked,
        report.problems.join("\n")
    );
}

// ---------------------------------------------------------------------------
// The rules' own tests

/// Check one file, `core/src/x.rs`, with the text given.
fn check_one(text: &str) -> Vec<String> {
    check_tree(&BTreeMap::from([(
        PathBuf::from("core/src/x.rs"),
        text.to_owned(),
    )]))
    .problems
}

/// The lines reported, and what was reported on them.
fn lines(problems: &[String]) -> Vec<usize> {
    problems
        .iter()
        .map(|p| p.split(':').nth(1).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn code_after_a_test_module_declaration_is_checked() {
    let problems = check_one(
        "#[cfg(test)]\n\
         mod tests;\n\
         \n\
         fn f() -> HashMap<u8, u8> { todo!() }\n",
    );
    assert_eq!(lines(&problems), [4], "{problems:?}");
    assert!(problems[0].starts_with("core/src/x.rs:4: `HashMap` iterates in hash order"));
}

#[test]
fn an_inline_test_module_is_skipped_to_its_closing_brace() {
    let problems = check_one(concat!(
        "fn a() {}\n",
        "#[cfg(test)]\n",
        "#[allow(clippy::unwrap_used)]\n",
        "mod tests {\n",
        "    use std::collections::HashMap;\n",
        "    const OPEN: char = '{';\n",
        "    const CLOSE: char = '}';\n",
        "    const TEXT: &str = \"}} \\\" }\";\n",
        "    const RAW: &str = r#\"} \" }\"#;\n",
        "    const BYTE: u8 = b'}';\n",
        "    fn f<'a>(x: &'a str) -> &'a str { x } // }\n",
        "    /* } /* } */ } */\n",
        "    fn g() { println!(\"{}\", HashMap::<u8, u8>::new().len()); }\n",
        "}\n",
        "fn after() { let _ = std::time::Instant::now(); }\n",
        "type T = std::collections::HashSet<u8>;\n",
    ));
    assert_eq!(lines(&problems), [15, 16], "{problems:?}");
    assert!(problems[0].contains("`Instant::now` is the wall clock"));
    assert!(problems[1].contains("`HashSet`"));
}

#[test]
fn banned_words_in_comments_and_strings_are_not_code() {
    let problems = check_one(concat!(
        "/// Never call `thread_rng()` or `SystemTime::now()` here.\n",
        "fn f() -> &'static str {\n",
        "    /* println!(\"x\") */\n",
        "    \"// eprintln! and OsRng in a string\"\n",
        "}\n",
        "fn g() -> String { format!(\"//\") + &rand::random::<u8>().to_string() }\n",
        "fn h() { eprintln!(\"x\"); }\n",
    ));
    assert_eq!(lines(&problems), [6, 7], "{problems:?}");
    assert!(problems[0].contains("`rand::random` is OS-seeded randomness"));
    assert!(problems[1].contains("`eprintln!` is printing"));
    assert!(
        !problems[1].contains("`println!`"),
        "eprintln! is not also println!"
    );
}

#[test]
fn hash_collections_need_the_lookup_only_marker() {
    let problems = check_one(concat!(
        "use std::collections::HashMap; // tidy: lookup-only (an index)\n",
        "// tidy: lookup-only (an index)\n",
        "type Index = HashMap<u8, u8>;\n",
        "type Seen = HashSet<u8>;\n",
        "use std::collections::hash_map::Entry;\n",
        "type Fx = FxHashMap<u8, u8>;\n",
        "fn f() { let _ = \"tidy: lookup-only\"; let _: Seen = HashSet::new(); }\n",
        "\n",
        "fn g(hash_maps: u8) -> u8 { hash_maps } // a name, not a collection\n",
    ));
    assert_eq!(lines(&problems), [4, 5, 6, 7], "{problems:?}");
    assert!(problems[1].contains("`hash_map`"));
    assert!(problems[2].contains("`FxHashMap`"));
}

#[test]
fn other_test_only_items_are_checked() {
    let problems = check_one(concat!(
        "#[cfg(test)]\n",
        "fn helper() { println!(\"x\"); }\n",
        "#[cfg(test)]\n",
        "use std::collections::HashSet;\n",
        "#[cfg(test)]\n",
        "impl X { fn f() { let _ = std::time::SystemTime::now(); } }\n",
        "#[cfg(any(test, fuzzing))]\n",
        "mod helpers { fn f() { let _ = thread_rng(); } }\n",
    ));
    assert_eq!(lines(&problems), [2, 4, 6, 8], "{problems:?}");
}

#[test]
fn test_module_files_are_found_the_way_rustc_finds_them() {
    let path = |p: &str| PathBuf::from(p);
    assert_eq!(
        module_files(&path("core/src/bus/mod.rs"), &[], "tests"),
        [
            path("core/src/bus/tests.rs"),
            path("core/src/bus/tests/mod.rs")
        ]
    );
    assert_eq!(
        module_files(&path("core/src/lib.rs"), &[], "tests")[0],
        path("core/src/tests.rs")
    );
    assert_eq!(
        module_files(&path("core/src/hashgraph/engine.rs"), &[], "shared")[0],
        path("core/src/hashgraph/engine/shared.rs")
    );
    assert_eq!(
        module_files(&path("core/src/node.rs"), &["a".to_owned()], "tests")[1],
        path("core/src/node/a/tests/mod.rs")
    );

    let tree = |files: &[(&str, &str)]| -> BTreeMap<PathBuf, String> {
        files
            .iter()
            .map(|&(p, text)| (path(p), text.to_owned()))
            .collect()
    };
    let map = "fn f() -> HashMap<u8, u8> { todo!() }\n";
    let report = check_tree(&tree(&[
        (
            "core/src/bus/mod.rs",
            "#[cfg(test)] mod tests;\nmod wire;\n",
        ),
        (
            "core/src/bus/tests.rs",
            "mod helpers;\nfn f() { println!(\"x\"); }\n",
        ),
        ("core/src/bus/tests/helpers.rs", map),
        ("core/src/bus/wire.rs", map),
        (
            "core/src/engine.rs",
            "mod shared;\n#[cfg(test)]\npub(crate) mod votes;\n",
        ),
        ("core/src/engine/shared.rs", map),
        ("core/src/engine/votes/mod.rs", map),
        (
            "core/src/only.rs",
            "#![cfg(test)]\nfn f() { println!(\"x\"); }\n",
        ),
    ]));
    let test_files: Vec<_> = report
        .test_files
        .iter()
        .map(|p| p.to_str().unwrap())
        .collect();
    assert_eq!(
        test_files,
        [
            // Paths order by component: `tests/` before `tests.rs`.
            "core/src/bus/tests/helpers.rs",
            "core/src/bus/tests.rs",
            "core/src/engine/votes/mod.rs",
            "core/src/only.rs",
        ]
    );
    assert_eq!(report.files_checked, 4);
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    assert!(report.problems[0].starts_with("core/src/bus/wire.rs:1: `HashMap`"));
    assert!(report.problems[1].starts_with("core/src/engine/shared.rs:1: `HashMap`"));
}

#[test]
fn the_lexer_keeps_lines_and_knows_literals_from_lifetimes() {
    let lexed = lex(concat!(
        "let a = '\\'';\n",
        "let b = \"two\n",
        "lines\";\n",
        "fn f<'a>(x: &'a u8) {}\n",
        "let c = br##\"raw \"# still\"##; let r#type = 1;\n",
        "/* one\n",
        "two */ let d = 'ü';\n",
    ));
    let idents: Vec<(usize, &str)> = lexed
        .tokens
        .iter()
        .filter(|t| t.kind != Kind::Punct)
        .map(|t| (t.line, t.text.as_str()))
        .collect();
    assert_eq!(
        idents,
        [
            (1, "let"),
            (1, "a"),
            (1, ""),
            (2, "let"),
            (2, "b"),
            (2, ""),
            (4, "fn"),
            (4, "f"),
            (4, "'a"),
            (4, "x"),
            (4, "'a"),
            (4, "u8"),
            (5, "let"),
            (5, "c"),
            (5, ""),
            (5, "let"),
            (5, "type"),
            (5, ""),
            (7, "let"),
            (7, "d"),
            (7, ""),
        ]
    );
    assert_eq!(lexed.comment_on(6), "/* one");
    assert_eq!(lexed.comment_on(7), "two */");
    assert!(lexed.errors.is_empty());
    assert_eq!(lex("let s = \"open").errors, [(1, "unterminated string")]);
}
