//! Who may read a file that holds a secret: the rule for the key-encryption
//! key, the administrator bootstrap file and TLS private keys.
//!
//! A node refuses to run with a secret that others can read, as ssh refuses
//! such private keys: it would otherwise run happily with its master key
//! exposed. The rule, checked on the file a path resolves to (symbolic
//! links are followed, as Kubernetes Secret volumes are made of them):
//!
//! 1. it must be a regular file;
//! 2. no permission at all for others (`o=`);
//! 3. no write or execute permission for the group;
//! 4. owner-only files (`0600`, `0400`) are accepted, whoever owns them;
//! 5. a **group-readable** file (`0440`, `0640`) is accepted only when it is
//!    *provisioned for this process by root*: owned by uid 0, this process
//!    not running as root, and its group (not group 0) one of this process's
//!    groups (effective or supplementary). Anything else group-readable is
//!    refused.
//!
//! Why rule 5: a Kubernetes Secret volume under a pod `fsGroup` is exactly
//! such a file (the kubelet writes it as root, group fsGroup, mode
//! `defaultMode`, e.g. `0440`), and copying it to a `0600` file only moves the
//! secret to another place. Its group is the pod's own: the volume is mounted
//! into that pod alone, and no other process on the node runs with that group
//! in that mount. Root ownership is what tells such a file from one an
//! operator made group-readable by mistake (a file of one's own that one
//! shares with a group is the ssh mistake, and stays refused), and a node
//! running as root is refused group-readable files altogether, because then
//! "owned by root" means "owned by this process". What rule 5 cannot tell is
//! whether a group has other members in `/etc/group`; it does not try, since
//! a container's group database says nothing about the host's.
//!
//! The checks are split into a pure [`check`] over [`FileFacts`] and a
//! [`ProcessIdentity`] (table-tested) and [`check_path`], which reads both
//! from the system.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// What the rule needs to know about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Whether it is a regular file.
    pub regular: bool,
}

impl FileFacts {
    /// The facts of `metadata` (of the file a path resolves to).
    pub fn of(metadata: &std::fs::Metadata) -> FileFacts {
        FileFacts {
            mode: metadata.permissions().mode() & 0o7777,
            uid: metadata.uid(),
            gid: metadata.gid(),
            regular: metadata.is_file(),
        }
    }
}

/// Who this process is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    /// Effective user id.
    pub euid: u32,
    /// Effective group id.
    pub egid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl ProcessIdentity {
    /// This process, as the kernel sees it.
    pub fn current() -> ProcessIdentity {
        ProcessIdentity {
            euid: rustix::process::geteuid().as_raw(),
            egid: rustix::process::getegid().as_raw(),
            // Without the list, only the effective group counts: stricter,
            // never looser.
            groups: rustix::process::getgroups()
                .map(|groups| groups.into_iter().map(|gid| gid.as_raw()).collect())
                .unwrap_or_default(),
        }
    }

    fn in_group(&self, gid: u32) -> bool {
        self.egid == gid || self.groups.contains(&gid)
    }
}

/// How an accepted file is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only its owner may read it.
    OwnerOnly,
    /// Root provisioned it for this process's group (rule 5).
    ProvisionedForGroup,
}

/// Applies the rule (module docs) to a file; the refusal says why and what
/// to do, lowercase, without the path (the caller names it).
pub fn check(file: &FileFacts, me: &ProcessIdentity) -> Result<Access, String> {
    let shown = file.mode & 0o777;
    if !file.regular {
        return Err(String::from("is not a regular file"));
    }
    if file.mode & 0o007 != 0 {
        return Err(format!(
            "is accessible to others (mode {shown:o}); run chmod 600 on it"
        ));
    }
    if file.mode & 0o070 == 0 {
        return Ok(Access::OwnerOnly);
    }
    if file.mode & 0o030 != 0 {
        return Err(format!(
            "is writable or executable by its group (mode {shown:o}); run chmod 600 on it"
        ));
    }
    // Group-readable only: rule 5.
    let refusal = if me.euid == 0 {
        "this node runs as root, so a group-readable key file is never accepted"
    } else if file.uid != 0 {
        "a group-readable key file is accepted only when root provisioned it (as a Kubernetes Secret volume under fsGroup is), and this one is not owned by root"
    } else if file.gid == 0 {
        "its group is root's"
    } else if !me.in_group(file.gid) {
        "its group is not one of this process's groups"
    } else {
        return Ok(Access::ProvisionedForGroup);
    };
    Err(format!(
        "is readable by its group (mode {shown:o}) and {refusal}; run chmod 600 on it"
    ))
}

/// Checks the file at `path` for this process; the refusal names the path.
pub fn check_path(path: &Path) -> Result<Access, String> {
    let metadata =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    check(&FileFacts::of(&metadata), &ProcessIdentity::current())
        .map_err(|reason| format!("{} {reason}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE_UID: u32 = 10001;
    const NODE_GID: u32 = 10001;
    const FS_GROUP: u32 = 2000;

    fn node() -> ProcessIdentity {
        ProcessIdentity {
            euid: NODE_UID,
            egid: NODE_GID,
            groups: vec![NODE_GID, FS_GROUP],
        }
    }

    fn root() -> ProcessIdentity {
        ProcessIdentity {
            euid: 0,
            egid: 0,
            groups: vec![0],
        }
    }

    fn file(mode: u32, uid: u32, gid: u32) -> FileFacts {
        FileFacts {
            mode,
            uid,
            gid,
            regular: true,
        }
    }

    #[test]
    fn the_rule_table() {
        // (what, file, process, accepted as, or a word the refusal contains)
        let cases: Vec<(&str, FileFacts, ProcessIdentity, Result<Access, &str>)> = vec![
            (
                "own 0600",
                file(0o600, NODE_UID, NODE_GID),
                node(),
                Ok(Access::OwnerOnly),
            ),
            (
                "own 0400",
                file(0o400, NODE_UID, NODE_GID),
                node(),
                Ok(Access::OwnerOnly),
            ),
            (
                "root's 0600 for root",
                file(0o600, 0, 0),
                root(),
                Ok(Access::OwnerOnly),
            ),
            (
                "kubernetes secret under fsGroup, runAsGroup = fsGroup",
                file(0o440, 0, NODE_GID),
                node(),
                Ok(Access::ProvisionedForGroup),
            ),
            (
                "kubernetes secret under a supplementary fsGroup",
                file(0o440, 0, FS_GROUP),
                node(),
                Ok(Access::ProvisionedForGroup),
            ),
            (
                "root-owned 0640 for our group",
                file(0o640, 0, NODE_GID),
                node(),
                Ok(Access::ProvisionedForGroup),
            ),
            (
                "world-readable",
                file(0o644, NODE_UID, NODE_GID),
                node(),
                Err("others"),
            ),
            (
                "world-readable secret",
                file(0o444, 0, NODE_GID),
                node(),
                Err("others"),
            ),
            (
                "other execute",
                file(0o601, NODE_UID, NODE_GID),
                node(),
                Err("others"),
            ),
            (
                "group-writable",
                file(0o660, 0, NODE_GID),
                node(),
                Err("writable"),
            ),
            (
                "group-executable",
                file(0o650, 0, NODE_GID),
                node(),
                Err("executable"),
            ),
            (
                "own file shared with a group (the ssh mistake)",
                file(0o640, NODE_UID, NODE_GID),
                node(),
                Err("not owned by root"),
            ),
            (
                "another user's group-readable file",
                file(0o440, 1234, NODE_GID),
                node(),
                Err("not owned by root"),
            ),
            (
                "root-owned for a group we are not in",
                file(0o440, 0, 4242),
                node(),
                Err("not one of this process's groups"),
            ),
            ("root group", file(0o440, 0, 0), node(), Err("root's")),
            (
                "a node running as root",
                file(0o440, 0, NODE_GID),
                ProcessIdentity {
                    euid: 0,
                    egid: NODE_GID,
                    groups: vec![NODE_GID],
                },
                Err("runs as root"),
            ),
            (
                "not a regular file",
                FileFacts {
                    regular: false,
                    ..file(0o600, NODE_UID, NODE_GID)
                },
                node(),
                Err("regular"),
            ),
        ];
        for (what, facts, me, expected) in cases {
            let got = check(&facts, &me);
            match (&got, expected) {
                (Ok(access), Ok(want)) => assert_eq!(*access, want, "{what}"),
                (Err(reason), Err(word)) => {
                    assert!(reason.contains(word), "{what}: {reason:?} lacks {word:?}")
                }
                _ => panic!("{what}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn real_files_follow_the_rule_for_this_process() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("key");
        std::fs::write(&path, "x").unwrap_or_else(|e| panic!("{e}"));
        let set = |mode: u32| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        set(0o600);
        assert_eq!(check_path(&path), Ok(Access::OwnerOnly));
        // A file this process owns is never accepted group-readable, whoever
        // runs the test (root or not).
        set(0o640);
        let refused = check_path(&path);
        assert!(
            matches!(&refused, Err(reason) if reason.contains(&path.display().to_string())),
            "{refused:?}"
        );
        set(0o604);
        assert!(check_path(&path).is_err());
        assert!(check_path(&dir.path().join("missing")).is_err());
        assert!(check_path(dir.path()).is_err(), "a directory was accepted");
    }
}
