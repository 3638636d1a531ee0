//! Which shared libraries a dynamically linked program loads.
//!
//! A program built against shared libraries names each one it needs, by
//! its *soname* (`libc.so.6`), in `DT_NEEDED` entries of its `.dynamic`
//! section; the names are offsets into the `.dynstr` string table. The
//! libraries name theirs the same way. `ldd` shows the result by running
//! the dynamic loader; reading the entries ourselves needs no loader, no
//! installed package, and works on files unpacked from a package, where
//! `ldd` would find the host's libraries instead. (`readelf -d PROGRAM |
//! grep NEEDED` shows the same entries.)

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::modinfo::{find_section, read_u64};

/// `d_tag` of the entry that ends the dynamic section.
const DT_NULL: u64 = 0;
/// `d_tag` of an entry naming a needed library.
const DT_NEEDED: u64 = 1;
/// Each dynamic entry is a `d_tag` and a `d_val`, 8 bytes each.
const DYN_ENTRY_SIZE: usize = 16;

/// What can go wrong while following a program's libraries.
#[derive(Debug, thiserror::Error)]
pub enum DynlinkError {
    /// A program or library could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not an ELF object we can read.
    #[error("{path} is not a 64-bit little-endian ELF file: {reason}")]
    NotElf {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// No search directory has a library that something needs.
    #[error("{needed_by} needs {soname}, which none of {searched} has")]
    Missing {
        /// The library's soname.
        soname: String,
        /// The program or library that needs it.
        needed_by: PathBuf,
        /// The directories searched, comma-separated.
        searched: String,
    },
}

/// Returns the sonames in an ELF file's `DT_NEEDED` entries, in order; none
/// for a statically linked program.
pub fn needed(elf: &[u8]) -> Result<Vec<String>, &'static str> {
    let Some(dynamic) = find_section(elf, ".dynamic")? else {
        return Ok(Vec::new());
    };
    let strings = find_section(elf, ".dynstr")?.ok_or("a .dynamic section without .dynstr")?;
    let mut names = Vec::new();
    for entry in dynamic.chunks_exact(DYN_ENTRY_SIZE) {
        let (tag, value) = (read_u64(entry, 0)?, read_u64(entry, 8)?);
        match tag {
            DT_NULL => break,
            DT_NEEDED => {
                let name = strings.get(value as usize..).ok_or("a library name outside .dynstr")?;
                let name = name.split(|b| *b == 0).next().unwrap_or_default();
                names.push(String::from_utf8_lossy(name).into_owned());
            }
            _ => {}
        }
    }
    Ok(names)
}

/// Every library `programs` load, directly or through other libraries,
/// found by soname in the first of `search` that has it (as the loader
/// searches its default directories). Returns each soname with its file;
/// a library missing from every directory is an error naming who needs it.
pub fn closure(programs: &[PathBuf], search: &[PathBuf]) -> Result<BTreeMap<String, PathBuf>, DynlinkError> {
    let mut found = BTreeMap::new();
    let mut pending: Vec<PathBuf> = programs.to_vec();
    while let Some(file) = pending.pop() {
        let elf = std::fs::read(&file).map_err(|source| DynlinkError::Read { path: file.clone(), source })?;
        let sonames = needed(&elf).map_err(|reason| DynlinkError::NotElf { path: file.clone(), reason })?;
        for soname in sonames {
            if found.contains_key(&soname) {
                continue;
            }
            let Some(library) = search.iter().map(|dir| dir.join(&soname)).find(|path| path.exists()) else {
                let searched = search.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ");
                return Err(DynlinkError::Missing { soname, needed_by: file, searched });
            };
            pending.push(library.clone());
            found.insert(soname, library);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modinfo::tests::fake_elf;

    /// A loader's soname, as x86-64's.
    const LOADER: &str = "ld-linux-x86-64.so.2";

    /// An ELF file that needs `libraries`.
    fn linked_against(libraries: &[&str]) -> Vec<u8> {
        let mut strings = vec![0u8];
        let mut dynamic = Vec::new();
        let mut entry = |tag: u64, value: u64| {
            dynamic.extend_from_slice(&tag.to_le_bytes());
            dynamic.extend_from_slice(&value.to_le_bytes());
        };
        // A tag other than DT_NEEDED is skipped (12 is DT_INIT).
        entry(12, 0x1000);
        for library in libraries {
            entry(DT_NEEDED, strings.len() as u64);
            strings.extend_from_slice(library.as_bytes());
            strings.push(0);
        }
        entry(DT_NULL, 0);
        // What follows DT_NULL is padding, not entries.
        entry(DT_NEEDED, 0);
        fake_elf(&[(".dynstr", strings), (".dynamic", dynamic)])
    }

    #[test]
    fn reads_the_needed_entries() {
        assert_eq!(
            needed(&linked_against(&["libseccomp.so.2", "libc.so.6"])).unwrap(),
            ["libseccomp.so.2", "libc.so.6"]
        );
        assert!(needed(&fake_elf(&[])).unwrap().is_empty(), "a static program needs nothing");
        assert!(needed(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn follows_libraries_of_libraries_in_search_order() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("lib"), dir.path().join("usr/lib"));
        std::fs::create_dir_all(&first).unwrap();
        std::fs::create_dir_all(&second).unwrap();
        let program = dir.path().join("crun");
        std::fs::write(&program, linked_against(&["libyajl.so.2", "libc.so.6"])).unwrap();
        std::fs::write(second.join("libyajl.so.2"), linked_against(&["libc.so.6"])).unwrap();
        std::fs::write(first.join("libc.so.6"), linked_against(&[LOADER])).unwrap();
        std::fs::write(second.join("libc.so.6"), b"shadowed by the first directory").unwrap();
        std::fs::write(first.join(LOADER), fake_elf(&[])).unwrap();
        let found = closure(std::slice::from_ref(&program), &[first.clone(), second.clone()]).unwrap();
        let expected = [
            (LOADER.to_string(), first.join(LOADER)),
            ("libc.so.6".to_string(), first.join("libc.so.6")),
            ("libyajl.so.2".to_string(), second.join("libyajl.so.2")),
        ];
        assert_eq!(found, expected.into_iter().collect());

        std::fs::remove_file(second.join("libyajl.so.2")).unwrap();
        let err = closure(std::slice::from_ref(&program), &[first, second]).unwrap_err();
        assert!(
            matches!(&err, DynlinkError::Missing { soname, needed_by, .. }
            if soname == "libyajl.so.2" && *needed_by == program),
            "{err}"
        );
    }
}
