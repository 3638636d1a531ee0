//! Interface names: the `--bridge` argument, and the host end of each
//! container's veth pair.

use nix::unistd::Pid;

/// The kernel's limit: `IFNAMSIZ` is 16 bytes, including the final NUL.
pub const MAX_NAME_LEN: usize = 15;

/// The name of the container's end of its veth pair, inside its namespace.
pub const CONTAINER_INTERFACE: &str = "eth0";

/// Why a `--bridge` name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("--bridge: an interface name cannot be empty")]
    Empty,
    /// The name does not fit in `IFNAMSIZ`.
    #[error("--bridge {0:?} is longer than {MAX_NAME_LEN} bytes, the kernel's limit for an interface name")]
    TooLong(String),
    /// The name has a character the kernel refuses, or is `.` or `..`.
    #[error("--bridge {0:?}: an interface name cannot be \".\" or \"..\" nor contain '/', ':' or whitespace")]
    Invalid(String),
}

/// An interface name the kernel will accept (the rules of its
/// `dev_valid_name`), which is also safe as one path component: the
/// bridge's state lives in a directory of that name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeName(String);

impl BridgeName {
    /// Checks `name` against the kernel's rules for interface names.
    pub fn parse(name: &str) -> Result<BridgeName, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong(name.to_string()));
        }
        let bad_char = |c: char| c == '/' || c == ':' || c.is_whitespace() || c.is_control();
        if name == "." || name == ".." || name.chars().any(bad_char) {
            return Err(NameError::Invalid(name.to_string()));
        }
        Ok(BridgeName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The host end of the veth pair of the container whose first process is
/// `child`: `grv` and the pid. Pids are unique among running processes, and
/// the pair exists only while the container's namespace does, so two
/// containers can never want the same name; at most 3 + 7 digits
/// (`pid_max` is at most 2²² = 4 194 304), well within [`MAX_NAME_LEN`].
pub fn host_veth_name(child: Pid) -> String {
    format!("grv{}", child.as_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_valid_names_pass() {
        for name in ["greenroom0", "grtest0", "br-x_1.2", "a", "fifteen-bytes-x"] {
            assert_eq!(BridgeName::parse(name).map(|n| n.as_str().to_string()), Ok(name.to_string()));
        }
    }

    #[test]
    fn invalid_names_are_refused() {
        assert_eq!(BridgeName::parse(""), Err(NameError::Empty));
        assert_eq!(BridgeName::parse("sixteen-bytes-xx"), Err(NameError::TooLong("sixteen-bytes-xx".into())));
        for name in [".", "..", "a/b", "br:0", "br 0", "br\t0", "br\n"] {
            assert_eq!(BridgeName::parse(name), Err(NameError::Invalid(name.into())), "{name:?}");
        }
    }

    #[test]
    fn host_veth_names_fit_for_every_pid() {
        assert_eq!(host_veth_name(Pid::from_raw(1234)), "grv1234");
        assert!(host_veth_name(Pid::from_raw(4_194_304)).len() <= MAX_NAME_LEN);
    }
}
