//! Address leases: which container has which address on a bridge.
//!
//! One file per address in use, in a directory per bridge
//! (`/run/greenroom/net/<bridge>/10.73.0.2`), holding its owner: a pid and
//! that process's start time. A runtime killed with SIGKILL cannot remove
//! its lease, so a lease whose owner is gone — or whose pid now belongs to
//! another process, started later — counts as free. Every change happens
//! under an exclusive `flock` of the directory's `lock` file, so two
//! runtimes starting at once never pick the same address.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::Pid;

use crate::subnet::Subnet;

/// Where the leases of every bridge live, a directory per bridge.
pub const STATE_ROOT: &str = "/run/greenroom/net";

/// What can go wrong with leases.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The state directory could not be created.
    #[error("create the lease directory {0}")]
    StateDir(PathBuf, #[source] std::io::Error),
    /// The lock file could not be opened or locked.
    #[error("lock {0}")]
    Lock(PathBuf, #[source] std::io::Error),
    /// Every address of the subnet is taken by a running container.
    #[error(
        "no free address in {subnet} (room for {taken} containers, all running): stop one or give a larger --subnet"
    )]
    Exhausted {
        /// The subnet.
        subnet: Subnet,
        /// How many addresses it has for containers.
        taken: usize,
    },
    /// A lease file could not be read, written or removed.
    #[error("update the lease {0}")]
    File(PathBuf, #[source] std::io::Error),
    /// The owner's start time could not be read.
    #[error("read the start time of process {0} from /proc")]
    StartTime(Pid),
}

// ANCHOR: owner
/// A process, named so that a later process with the same pid is not
/// taken for it: its pid and its start time (clock ticks after boot, the
/// 22nd field of `/proc/PID/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The process id.
    pub pid: i32,
    /// When it started.
    pub start_time: u64,
}

impl Owner {
    /// The process `pid`, as it is now.
    pub fn of(pid: Pid) -> Result<Owner, LeaseError> {
        stat(pid).map(|stat| Owner { pid: pid.as_raw(), start_time: stat.start_time }).ok_or(LeaseError::StartTime(pid))
    }

    /// Whether this very process still runs: same pid, same start time,
    /// and not a zombie (a zombie has left its namespaces, and nothing
    /// holds its address any more; its parent may reap it much later).
    pub fn is_running(&self) -> bool {
        match stat(Pid::from_raw(self.pid)) {
            Some(Stat { state, start_time }) => start_time == self.start_time && !matches!(state, 'Z' | 'X'),
            None => false,
        }
    }
}

/// The two fields of `/proc/PID/stat` a lease needs.
struct Stat {
    /// R, S, D, Z, …: Z is a zombie, X a process being removed.
    state: char,
    /// Clock ticks after boot at which it started.
    start_time: u64,
}

/// Reads `/proc/PID/stat`, or `None` if there is no such process.
fn stat(pid: Pid) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself hold
    // spaces and parentheses: count fields after the last ')'. What
    // follows it is field 3, the state; the start time, field 22, is the
    // 20th from there.
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start_time })
}
// ANCHOR_END: owner

/// The address a container holds, and who holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The container's address.
    pub address: Ipv4Addr,
    /// The process the lease belongs to.
    pub owner: Owner,
}

/// The leases of one bridge: a directory.
#[derive(Debug, Clone)]
pub struct Leases {
    dir: PathBuf,
}

impl Leases {
    /// The leases kept in `dir`, which is created if needed.
    pub fn open(dir: &Path) -> Result<Leases, LeaseError> {
        std::fs::create_dir_all(dir).map_err(|err| LeaseError::StateDir(dir.to_path_buf(), err))?;
        Ok(Leases { dir: dir.to_path_buf() })
    }

    /// Gives `owner` the first address of `subnet` that no running
    /// container holds. `is_running` says whether a lease's owner still
    /// runs (tests pass a fake; the runtime passes [`Owner::is_running`]).
    pub fn allocate(
        &self,
        subnet: &Subnet,
        owner: Owner,
        is_running: impl Fn(&Owner) -> bool,
    ) -> Result<Lease, LeaseError> {
        let _lock = self.lock()?;
        // STARTER: todo!(
        // STARTER:     "find the first of the subnet's container addresses whose lease is missing, or \
        // STARTER:      held by an owner that no longer runs; write owner's lease there and return it; \
        // STARTER:      when every address is held, say so (book: chapter 4, \"Leases\")"
        // STARTER: )
        // SOLUTION BEGIN
        for address in subnet.container_addresses() {
            let free = match self.read(address)? {
                None => true,
                // The owner was killed before it could release the lease,
                // or its pid is now another process's: reclaim it.
                Some(holder) => !is_running(&holder),
            };
            if free {
                let lease = Lease { address, owner };
                self.write(&lease)?;
                return Ok(lease);
            }
        }
        Err(LeaseError::Exhausted { subnet: *subnet, taken: subnet.container_addresses().count() })
        // SOLUTION END
    }

    /// Hands `lease` over to `new_owner`, and returns the lease as it is now.
    pub fn transfer(&self, lease: &Lease, new_owner: Owner) -> Result<Lease, LeaseError> {
        let _lock = self.lock()?;
        let lease = Lease { address: lease.address, owner: new_owner };
        self.write(&lease)?;
        Ok(lease)
    }

    /// Gives `lease`'s address back, unless the lease was reclaimed in the
    /// meantime (its owner ended, and another container took the address):
    /// then the file is the other container's, and stays.
    pub fn release(&self, lease: &Lease) -> Result<(), LeaseError> {
        let _lock = self.lock()?;
        if self.read(lease.address)? == Some(lease.owner) {
            let path = self.path(lease.address);
            std::fs::remove_file(&path).map_err(|err| LeaseError::File(path, err))?;
        }
        Ok(())
    }

    /// Takes the directory's lock; it is released when the returned value
    /// is dropped (or the process dies: the kernel drops `flock` locks with
    /// the last descriptor).
    fn lock(&self) -> Result<Flock<File>, LeaseError> {
        let path = self.dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|err| LeaseError::Lock(path.clone(), err))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno): (File, Errno)| LeaseError::Lock(path, std::io::Error::from(errno)))
    }

    /// The owner written in `address`'s lease, or `None` if there is no
    /// lease. A lease that cannot be parsed has no owner that could still
    /// run: it reads as owned by pid 0, which no container has.
    fn read(&self, address: Ipv4Addr) -> Result<Option<Owner>, LeaseError> {
        let path = self.path(address);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(LeaseError::File(path, err)),
        };
        let mut fields = text.split_whitespace().map(str::parse::<u64>);
        let owner = match (fields.next(), fields.next()) {
            (Some(Ok(pid)), Some(Ok(start_time))) => Owner { pid: pid as i32, start_time },
            _ => Owner { pid: 0, start_time: 0 },
        };
        Ok(Some(owner))
    }

    /// Writes `lease` to its file in one step: to a temporary file, then
    /// renamed over the lease, so no reader ever sees half a lease.
    fn write(&self, lease: &Lease) -> Result<(), LeaseError> {
        let path = self.path(lease.address);
        let temporary = self.dir.join(format!(".{}.new", lease.address));
        let text = format!("{} {}\n", lease.owner.pid, lease.owner.start_time);
        std::fs::write(&temporary, text).map_err(|err| LeaseError::File(temporary.clone(), err))?;
        std::fs::rename(&temporary, &path).map_err(|err| LeaseError::File(path, err))
    }

    fn path(&self, address: Ipv4Addr) -> PathBuf {
        self.dir.join(address.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashSet;

    use super::*;

    /// A scratch directory removed at the end of the test.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("greenroom-lease-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn owner(pid: i32) -> Owner {
        Owner { pid, start_time: 1000 + pid as u64 }
    }

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 199, 0, last)
    }

    #[test]
    fn running_containers_get_distinct_addresses_until_the_subnet_is_full() {
        let scratch = Scratch::new("distinct");
        let leases = Leases::open(&scratch.0).unwrap();
        let subnet = Subnet::parse("10.199.0.0/29").unwrap();
        let everyone_runs = |_: &Owner| true;
        let addresses: Vec<_> =
            (1..=5).map(|pid| leases.allocate(&subnet, owner(pid), everyone_runs).unwrap().address).collect();
        assert_eq!(addresses, (2..=6).map(ip).collect::<Vec<_>>());
        let err = leases.allocate(&subnet, owner(6), everyone_runs).unwrap_err();
        assert!(matches!(err, LeaseError::Exhausted { taken: 5, .. }), "{err}");
    }

    #[test]
    fn a_released_address_is_given_again() {
        let scratch = Scratch::new("release");
        let leases = Leases::open(&scratch.0).unwrap();
        let subnet = Subnet::parse("10.199.0.0/29").unwrap();
        let first = leases.allocate(&subnet, owner(1), |_| true).unwrap();
        let _second = leases.allocate(&subnet, owner(2), |_| true).unwrap();
        leases.release(&first).unwrap();
        assert!(!scratch.0.join("10.199.0.2").exists());
        assert_eq!(leases.allocate(&subnet, owner(3), |_| true).unwrap().address, ip(2));
    }

    #[test]
    fn the_lease_of_an_owner_that_is_gone_or_replaced_is_reclaimed() {
        let scratch = Scratch::new("reclaim");
        let leases = Leases::open(&scratch.0).unwrap();
        let subnet = Subnet::parse("10.199.0.0/29").unwrap();
        let running = RefCell::new(HashSet::from([owner(1), owner(2)]));
        let is_running = |o: &Owner| running.borrow().contains(o);
        leases.allocate(&subnet, owner(1), is_running).unwrap();
        leases.allocate(&subnet, owner(2), is_running).unwrap();
        // Owner 1 is killed; its pid is reused by a process started later.
        running.borrow_mut().remove(&owner(1));
        running.borrow_mut().insert(Owner { pid: 1, start_time: 99_999 });
        let next = leases.allocate(&subnet, owner(3), is_running).unwrap();
        assert_eq!(next.address, ip(2));
        assert_eq!(leases.read(ip(2)).unwrap(), Some(owner(3)));
    }

    #[test]
    fn release_leaves_a_lease_that_was_reclaimed_by_another_owner() {
        let scratch = Scratch::new("reclaimed");
        let leases = Leases::open(&scratch.0).unwrap();
        let subnet = Subnet::parse("10.199.0.0/29").unwrap();
        let stale = leases.allocate(&subnet, owner(1), |_| true).unwrap();
        let fresh = leases.allocate(&subnet, owner(2), |o| o.pid != 1).unwrap();
        assert_eq!(fresh.address, stale.address);
        leases.release(&stale).unwrap();
        assert_eq!(leases.read(fresh.address).unwrap(), Some(owner(2)));
    }

    #[test]
    fn a_transferred_lease_names_its_new_owner() {
        let scratch = Scratch::new("transfer");
        let leases = Leases::open(&scratch.0).unwrap();
        let subnet = Subnet::parse("10.199.0.0/30").unwrap();
        let lease = leases.allocate(&subnet, owner(1), |_| true).unwrap();
        let moved = leases.transfer(&lease, owner(7)).unwrap();
        assert_eq!(moved, Lease { address: ip(2), owner: owner(7) });
        assert_eq!(leases.read(ip(2)).unwrap(), Some(owner(7)));
    }

    #[test]
    fn an_unreadable_lease_counts_as_free() {
        let scratch = Scratch::new("garbage");
        let leases = Leases::open(&scratch.0).unwrap();
        std::fs::write(scratch.0.join("10.199.0.2"), "garbage").unwrap();
        let subnet = Subnet::parse("10.199.0.0/30").unwrap();
        let is_running = |o: &Owner| o.pid != 0;
        assert_eq!(leases.allocate(&subnet, owner(1), is_running).unwrap().address, ip(2));
    }

    #[test]
    fn this_process_is_running_and_a_changed_start_time_is_not() {
        let me = Owner::of(Pid::this()).unwrap();
        assert!(me.is_running());
        assert!(!Owner { start_time: me.start_time + 1, ..me }.is_running());
        assert!(!Owner { pid: i32::MAX, start_time: 0 }.is_running());
    }

    #[test]
    fn a_zombie_is_not_running() {
        use nix::sys::wait::{waitid, Id, WaitPidFlag};
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = Pid::from_raw(child.id() as i32);
        let owner = Owner::of(pid).unwrap();
        // Wait until it has exited, but leave it unreaped: a zombie.
        waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT).unwrap();
        assert!(!owner.is_running());
        child.wait().unwrap();
        assert!(!owner.is_running());
    }
}
