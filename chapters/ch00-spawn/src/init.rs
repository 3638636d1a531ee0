//! The init stage: the container's first process splits in two, once every
//! layer has entered. One half stays behind as the container's init, the
//! other goes on to exec the command.
//!
//! The core runs this stage, a layer supplies the init (chapter 2's does).
//! It comes last, after every layer's
//! [`enter_child`](crate::Layer::enter_child), so whatever the layers did to
//! the container's first process (a root file system, dropped
//! capabilities, a seccomp filter, the user's ids) holds in both halves: the
//! init, PID 1, is as confined as the command.

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::unistd::{fork, ForkResult, Pid};

use crate::layer::Layer;

// ANCHOR: init_trait
/// A process that stays behind as the container's PID 1 while the command
/// runs as its child.
pub trait Init {
    /// The signals the init takes with `sigwait`. The core blocks them from
    /// the moment the container's first process exists, so none is lost
    /// before the init waits for it; the command gets them unblocked.
    fn signals(&self) -> SigSet;

    /// The init's whole life, in the process that stays behind, whose child
    /// `command` goes on to exec the command. Returns the code the init
    /// exits with.
    fn run(&self, command: Pid) -> i32;
}
// ANCHOR_END: init_trait

/// What can go wrong on the way to the init.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Two layers both supply an init; a container has only one PID 1.
    #[error("layers {first:?} and {second:?} both supply an init, and a container has only one PID 1")]
    TwoInits {
        /// The first layer that supplies one.
        first: &'static str,
        /// The second.
        second: &'static str,
    },
    /// Changing the signal mask failed.
    #[error("block the init's signals")]
    BlockSignals(#[source] Errno),
    /// `fork` failed.
    #[error("fork the command from the init")]
    Fork(#[source] Errno),
}

/// The init one of the layers supplies, and that layer's name for error
/// messages.
#[derive(Clone, Copy)]
pub struct Supplied<'a> {
    /// The layer that supplies it.
    pub layer: &'static str,
    /// The init itself.
    pub init: &'a dyn Init,
}

/// Finds the init among `layers`: none, or one. Two are an error, found
/// before anything is created.
pub fn find(layers: &[Box<dyn Layer>]) -> Result<Option<Supplied<'_>>, InitError> {
    todo!(
        "find the one layer that supplies an init, if any; refuse two, naming both \
         layers (book: chapter 0, \"The init stage\")"
    )
}

/// Blocks `signals` in the calling process and returns the mask it had
/// before, for [`unblock`] to put back.
pub fn block(signals: &SigSet) -> Result<SigSet, InitError> {
    let mut previous = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(signals), Some(&mut previous))
        .map_err(InitError::BlockSignals)?;
    Ok(previous)
}

/// Puts back a signal mask that [`block`] returned.
pub fn unblock(previous: &SigSet) -> Result<(), InitError> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(previous), None).map_err(InitError::BlockSignals)
}

/// Splits the calling process, the container's first process (PID 1 of a
/// new PID namespace), in two. The child returns `Ok` and goes on to exec
/// the command; the parent never returns: it becomes the init, and exits
/// when the init's [`run`](Init::run) ends.
///
/// The init's signals are already blocked (the core blocked them before
/// `clone`); `command_mask` is the mask to give the command instead.
pub fn start_init(init: &dyn Init, command_mask: &SigSet) -> Result<(), InitError> {
    todo!(
        "split this process in two: one half goes on to become the command, with the \
         signal mask it expects; the other stays behind as the init and never returns \
         (book: chapter 0, \"The init stage\")"
    )
}

fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process at once, skipping destructors and
    // atexit handlers, which belong to the runtime this process was copied
    // from and must not run twice.
    unsafe { nix::libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Plain;
    impl Layer for Plain {
        fn name(&self) -> &'static str {
            "plain"
        }
    }

    struct Idle;
    impl Init for Idle {
        fn signals(&self) -> SigSet {
            SigSet::empty()
        }
        fn run(&self, _command: Pid) -> i32 {
            0
        }
    }

    struct WithInit(&'static str);
    impl Layer for WithInit {
        fn name(&self) -> &'static str {
            self.0
        }
        fn init(&self) -> Option<&dyn Init> {
            Some(&Idle)
        }
    }

    #[test]
    fn one_init_is_found_with_its_layer() {
        let layers: Vec<Box<dyn Layer>> = vec![Box::new(Plain), Box::new(WithInit("pid")), Box::new(Plain)];
        assert_eq!(find(&layers).ok().flatten().map(|supplied| supplied.layer), Some("pid"));
        assert!(matches!(find(&[Box::new(Plain) as Box<dyn Layer>]), Ok(None)));
    }

    #[test]
    fn two_inits_are_refused_before_anything_is_created() {
        let layers: Vec<Box<dyn Layer>> = vec![Box::new(WithInit("pid")), Box::new(Plain), Box::new(WithInit("tini"))];
        assert!(matches!(find(&layers), Err(InitError::TwoInits { first: "pid", second: "tini" })));
        // `run` refuses them before `clone`: no root needed to get here.
        let err = crate::run(&["/bin/true".to_string()], &layers).expect_err("two inits must be refused");
        assert_eq!(err.exit_code(), 125);
        assert!(err.to_string().contains("both supply an init"), "{err}");
    }
}
