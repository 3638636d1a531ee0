//! The commands to compare, as given on the command line: `NAME=COMMAND`.

/// What is wrong with a candidate on the command line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CandidateError {
    /// No `=` between the name and the command.
    #[error("{0:?} is not NAME=COMMAND: name each candidate, as in crun='crun run --bundle B c{{run}}'")]
    NoName(String),
    /// An empty name or command.
    #[error("{0:?}: both the name and the command must be non-empty")]
    Empty(String),
    /// Two candidates with one name.
    #[error("two candidates are named {0:?}: the table needs one row per name")]
    Duplicate(String),
}

/// The placeholder in a command that each run replaces with its own
/// number: containers need unique ids, and a container of a run that
/// failed half-way must not make the next run fail too.
pub const RUN_PLACEHOLDER: &str = "{run}";

/// A named command, split into words (no shell: a shell would add its own
/// start to every run, and more under emulation than the runtimes' work).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The name in the table.
    pub name: String,
    words: Vec<String>,
}

impl Candidate {
    /// Parses `NAME=COMMAND`; the command is split at whitespace.
    pub fn parse(text: &str) -> Result<Candidate, CandidateError> {
        let (name, command) = text.split_once('=').ok_or_else(|| CandidateError::NoName(text.to_string()))?;
        let words: Vec<String> = command.split_whitespace().map(str::to_string).collect();
        if name.trim().is_empty() || words.is_empty() {
            return Err(CandidateError::Empty(text.to_string()));
        }
        Ok(Candidate { name: name.trim().to_string(), words })
    }

    /// The command line of run number `run`: every `{run}` replaced.
    pub fn argv(&self, run: usize) -> Vec<String> {
        self.words.iter().map(|word| word.replace(RUN_PLACEHOLDER, &run.to_string())).collect()
    }
}

/// Parses every candidate, refusing two with the same name.
pub fn parse_all(texts: &[String]) -> Result<Vec<Candidate>, CandidateError> {
    let mut candidates: Vec<Candidate> = Vec::new();
    for text in texts {
        let candidate = Candidate::parse(text)?;
        if candidates.iter().any(|c| c.name == candidate.name) {
            return Err(CandidateError::Duplicate(candidate.name));
        }
        candidates.push(candidate);
    }
    Ok(candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_candidate_is_a_name_and_words_with_the_run_number_filled_in() {
        let candidate = Candidate::parse("crun=crun run --bundle /b  bench-{run}").expect("parse");
        assert_eq!(candidate.name, "crun");
        assert_eq!(candidate.argv(7), ["crun", "run", "--bundle", "/b", "bench-7"]);
    }

    #[test]
    fn only_the_first_equals_sign_ends_the_name() {
        let candidate = Candidate::parse("env=env A=1 /bin/true").expect("parse");
        assert_eq!(candidate.argv(0), ["env", "A=1", "/bin/true"]);
    }

    #[test]
    fn bad_candidates_are_refused() {
        assert!(matches!(Candidate::parse("crun run"), Err(CandidateError::NoName(_))));
        assert!(matches!(Candidate::parse("=true"), Err(CandidateError::Empty(_))));
        assert!(matches!(Candidate::parse("t=  "), Err(CandidateError::Empty(_))));
        let twice = ["a=true".to_string(), "a=false".to_string()];
        assert_eq!(parse_all(&twice), Err(CandidateError::Duplicate("a".into())));
    }
}
