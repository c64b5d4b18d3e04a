//! Reading the answer to a `[y/N]` question, one keystroke at a time.
//!
//! A line editor in miniature, because the obvious tools get the safety rule wrong: a
//! toggle that flips on every `y`/`n` key applies on "not today", and a cooked-mode read
//! turns Ctrl-C into a signal that kills the process mid-question. Here the terminal is put
//! in non-canonical mode without signals for the length of the question, so every key comes
//! to us: printable text is echoed and collected, Backspace and Ctrl-U edit it, Enter ends
//! it, and Ctrl-C or Ctrl-D end the question with no. Only the whole line `y` or `yes` (any
//! case, surrounding spaces ignored) is a yes.

use std::io::{Read, Write};

/// How the person at the terminal ended a `[y/N]` question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A line ended by Enter: what was typed on it.
    Line(String),
    /// Ctrl-D, or the terminal closed.
    EndOfInput,
    /// Ctrl-C.
    Interrupted,
}

impl Answer {
    /// Only `y` or `yes` (case-insensitive, surrounding white space ignored) confirms.
    pub fn is_yes(&self) -> bool {
        match self {
            Answer::Line(typed) => {
                let typed = typed.trim().to_lowercase();
                typed == "y" || typed == "yes"
            }
            Answer::EndOfInput | Answer::Interrupted => false,
        }
    }
}

const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const BACKSPACE: u8 = 0x08;
const CTRL_U: u8 = 0x15;
const ESCAPE: u8 = 0x1b;
const DELETE: u8 = 0x7f;

/// Reads one answer from `input`, echoing what is typed to `echo`. `input` must deliver
/// keys as typed (the terminal in non-canonical mode without echo or signals: see
/// [`ask_terminal`]).
pub fn read_answer(input: &mut impl Read, echo: &mut impl Write) -> Answer {
    let mut typed: Vec<u8> = Vec::new();
    let mut escape = EscapeSequence::None;
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) => return end(echo, Answer::EndOfInput),
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return end(echo, Answer::EndOfInput),
        }
        let key = byte[0];
        if escape.swallows(key) {
            continue;
        }
        match key {
            CTRL_C => {
                let _ = echo.write_all(b"^C");
                return end(echo, Answer::Interrupted);
            }
            CTRL_D => return end(echo, Answer::EndOfInput),
            b'\r' | b'\n' => {
                let line = String::from_utf8_lossy(&typed).into_owned();
                return end(echo, Answer::Line(line));
            }
            BACKSPACE | DELETE => {
                if pop_char(&mut typed) {
                    let _ = echo.write_all(b"\x08 \x08");
                }
            }
            CTRL_U => {
                while pop_char(&mut typed) {
                    let _ = echo.write_all(b"\x08 \x08");
                }
            }
            ESCAPE => escape = EscapeSequence::Started,
            // Other control keys (Tab, Ctrl-A, …) are ignored rather than collected, so
            // they cannot hide inside an answer that looks like a yes.
            0x00..=0x1f => {}
            _ => {
                typed.push(key);
                let _ = echo.write_all(&byte);
            }
        }
        let _ = echo.flush();
    }
}

fn end(echo: &mut impl Write, answer: Answer) -> Answer {
    let _ = echo.write_all(b"\r\n");
    let _ = echo.flush();
    answer
}

/// Removes the last (UTF-8) character typed; false when there was none.
fn pop_char(typed: &mut Vec<u8>) -> bool {
    let Some(mut last) = typed.pop() else { return false };
    while last & 0b1100_0000 == 0b1000_0000 {
        match typed.pop() {
            Some(previous) => last = previous,
            None => break,
        }
    }
    true
}

/// Arrow and function keys arrive as `ESC [ … final` or `ESC O final`: swallowed whole.
#[derive(Clone, Copy)]
enum EscapeSequence {
    None,
    Started,
    Parameters,
}

impl EscapeSequence {
    fn swallows(&mut self, key: u8) -> bool {
        match *self {
            EscapeSequence::None => false,
            EscapeSequence::Started => {
                *self = if key == b'[' || key == b'O' {
                    EscapeSequence::Parameters
                } else {
                    EscapeSequence::None
                };
                true
            }
            EscapeSequence::Parameters => {
                if (0x40..=0x7e).contains(&key) {
                    *self = EscapeSequence::None;
                }
                true
            }
        }
    }
}

/// Shows `question` on stderr and reads its answer from the terminal on stdin, with the
/// terminal in non-canonical mode (no line buffering, no echo, Ctrl-C and Ctrl-D as keys)
/// from before the question appears until the answer is read, so a key pressed the moment
/// it appears is read too. The terminal's settings are restored afterwards, also on panic.
#[cfg(unix)]
pub fn ask_terminal(question: &str) -> Answer {
    use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices};

    let stdin = std::io::stdin();
    let Ok(original) = termios::tcgetattr(&stdin) else {
        return Answer::EndOfInput;
    };
    let mut keys = original.clone();
    keys.local_flags &= !(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG);
    keys.local_flags &= !LocalFlags::IEXTEN;
    keys.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    keys.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    if termios::tcsetattr(&stdin, SetArg::TCSADRAIN, &keys).is_err() {
        return Answer::EndOfInput;
    }
    struct Restore<'a>(&'a std::io::Stdin, termios::Termios);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let _ = termios::tcsetattr(self.0, SetArg::TCSADRAIN, &self.1);
        }
    }
    let _restore = Restore(&stdin, original);
    show(question);
    read_answer(&mut stdin.lock(), &mut std::io::stderr())
}

/// Elsewhere the terminal's own line editing is used (it echoes; Ctrl-C is the
/// platform's).
#[cfg(not(unix))]
pub fn ask_terminal(question: &str) -> Answer {
    show(question);
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => Answer::EndOfInput,
        Ok(_) => Answer::Line(line.trim_end_matches(['\r', '\n']).to_owned()),
    }
}

fn show(question: &str) {
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question} [y/N] ");
    let _ = stderr.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(keys: &[u8]) -> (Answer, String) {
        let mut echo = Vec::new();
        let answer = read_answer(&mut &keys[..], &mut echo);
        (answer, String::from_utf8_lossy(&echo).into_owned())
    }

    #[test]
    fn only_a_whole_y_or_yes_confirms() {
        for yes in ["y", "Y", "yes", "YES", "Yes", "  y  ", "yes\t"] {
            assert!(Answer::Line(yes.into()).is_yes(), "{yes:?}");
        }
        for no in ["", "n", "no", "not today", "no way", "maybe", "yes please", "yy", "ye", "ja"] {
            assert!(!Answer::Line(no.into()).is_yes(), "{no:?}");
        }
        assert!(!Answer::EndOfInput.is_yes());
        assert!(!Answer::Interrupted.is_yes());
    }

    #[test]
    fn typed_text_is_echoed_and_edited() {
        let (got, echo) = answer(b"not today\r");
        assert_eq!(got, Answer::Line("not today".into()));
        assert_eq!(echo, "not today\r\n");
        // "nox", backspace, "y"… is "noy"; Ctrl-U then "yes" is "yes".
        assert_eq!(answer(b"nox\x7fy\r").0, Answer::Line("noy".into()));
        assert_eq!(answer(b"no\x15yes\n").0, Answer::Line("yes".into()));
        assert_eq!(answer("né\x7f\x7fy\r".as_bytes()).0, Answer::Line("y".into()));
    }

    #[test]
    fn control_keys_end_the_question_with_no() {
        assert_eq!(answer(b"y\x03").0, Answer::Interrupted);
        assert_eq!(answer(b"y\x04").0, Answer::EndOfInput);
        assert_eq!(answer(b"y").0, Answer::EndOfInput, "the terminal closed before Enter");
        // An arrow key is swallowed whole, a tab ignored: neither sneaks into the answer.
        assert_eq!(answer(b"\x1b[Ay\te\x1bOBs\r").0, Answer::Line("yes".into()));
    }
}
