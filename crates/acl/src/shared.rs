//! The thread-safe wrapper the server shares between connections, and the per-connection
//! handle on the authenticated user.
//!
//! Readers take no lock on the hot path: a connection keeps its `Arc<User>` and compares one
//! atomic generation number per command; only when an ACL change happened does it look its
//! user up again.

use crate::acl::Acl;
use crate::log::AclLog;
use crate::user::User;
use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The server's ACL state: the user table, a generation counter bumped by every change, and
/// the ACL LOG.
#[derive(Debug)]
pub struct SharedAcl {
    acl: RwLock<Acl>,
    generation: AtomicU64,
    log: Mutex<AclLog>,
}

impl SharedAcl {
    /// Wraps `acl`, with an empty log of `acllog_max_len` entries.
    pub fn new(acl: Acl, acllog_max_len: usize) -> SharedAcl {
        SharedAcl { acl: RwLock::new(acl), generation: AtomicU64::new(0), log: Mutex::new(AclLog::new(acllog_max_len)) }
    }

    /// Read access (GETUSER, LIST, AUTH, DRYRUN…).
    pub fn read(&self) -> RwLockReadGuard<'_, Acl> {
        self.acl.read()
    }

    /// Changes the table (SETUSER, DELUSER, LOAD, `requirepass`) and bumps the generation so
    /// every [`SessionUser`] refreshes before its next command.
    pub fn update<R>(&self, f: impl FnOnce(&mut Acl) -> R) -> R {
        let mut acl = self.acl.write();
        let r = f(&mut acl);
        // Bumped while the write lock is held: a reader that sees the new generation and then
        // takes the read lock sees the new table.
        self.generation.fetch_add(1, Ordering::Release);
        r
    }

    /// The current generation.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The ACL LOG.
    pub fn log(&self) -> MutexGuard<'_, AclLog> {
        self.log.lock()
    }
}

/// The user a connection is authenticated as, kept current across ACL changes.
#[derive(Clone, Debug)]
pub struct SessionUser {
    user: Arc<User>,
    generation: u64,
}

impl SessionUser {
    /// A connection's starting point: the `default` user (authenticated when it is `on` and
    /// `nopass`, which is for the server to decide).
    pub fn default_user(shared: &SharedAcl) -> SessionUser {
        let generation = shared.generation();
        SessionUser { user: Arc::clone(shared.read().default_user()), generation }
    }

    /// After a successful AUTH.
    pub fn authenticated(shared: &SharedAcl, user: Arc<User>) -> SessionUser {
        // Read the generation before the user could be changed again: at worst one extra
        // refresh.
        SessionUser { user, generation: shared.generation() }
    }

    /// The user's name (as ACL WHOAMI and CLIENT LIST show it), even once deleted.
    pub fn name(&self) -> &[u8] {
        self.user.name()
    }

    /// The current rules of the user, refreshed if the ACL changed since last time. `None`
    /// when the user was deleted or replaced by a new user of the same name (DELUSER, ACL
    /// LOAD): Redis closes such connections.
    #[inline]
    pub fn current(&mut self, shared: &SharedAcl) -> Option<&Arc<User>> {
        let generation = shared.generation();
        if generation != self.generation {
            let acl = shared.read();
            let fresh = acl.user(self.user.name()).filter(|u| u.incarnation() == self.user.incarnation())?;
            self.user = Arc::clone(fresh);
            self.generation = generation;
        }
        Some(&self.user)
    }
}
