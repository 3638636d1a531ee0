//! Kernel module metadata, read straight from the `.ko` files.
//!
//! `modprobe` finds a module's dependencies in `modules.dep`, but Debian's
//! kernel package does not ship that file (`depmod` makes it at install
//! time). Every module also records them itself: the `.modinfo` ELF section
//! holds NUL-separated `key=value` strings, one of which is `depends=a,b`.
//! That is all we need to `insmod` a handful of modules in a valid order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What can go wrong while reading module metadata.
#[derive(Debug, thiserror::Error)]
pub enum ModinfoError {
    /// The module file could not be read.
    #[error("could not read kernel module {path}")]
    Read {
        /// The module file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a 64-bit little-endian ELF object with a `.modinfo` section.
    #[error("{path} is not a kernel module: {reason}")]
    NotAModule {
        /// The module file.
        path: PathBuf,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A module (or one it depends on) is neither in the package nor built in.
    #[error("kernel module {name} is missing from {dir}")]
    Missing {
        /// The module name, as `modprobe` spells it.
        name: String,
        /// Where we looked.
        dir: PathBuf,
    },
}

/// Returns the `key=value` strings of a module's `.modinfo` section.
pub fn modinfo(elf: &[u8]) -> Result<Vec<(String, String)>, &'static str> {
    let section = find_section(elf, ".modinfo")?.ok_or("no .modinfo section")?;
    Ok(section
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (key, value) = entry.split_once('=')?;
            Some((key.to_owned(), value.to_owned()))
        })
        .collect())
}

/// Returns the names listed in a module's `depends=` entry.
pub fn depends(elf: &[u8]) -> Result<Vec<String>, &'static str> {
    Ok(modinfo(elf)?
        .into_iter()
        .filter(|(key, _)| key == "depends")
        .flat_map(|(_, value)| value.split(',').filter(|name| !name.is_empty()).map(normalize).collect::<Vec<_>>())
        .collect())
}

/// Module names use `_` and `-` interchangeably; `modprobe` treats them alike.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// Finds `wanted` modules (and what they depend on) under `dir` and returns
/// their files in an order `insmod` accepts: every module after its
/// dependencies. Modules listed in `builtin` are part of the kernel image
/// and are skipped.
pub fn load_order(dir: &Path, wanted: &[&str], builtin: &[String]) -> Result<Vec<PathBuf>, ModinfoError> {
    let index = index_modules(dir);
    let mut ordered = Vec::new();
    let mut visiting = Vec::new();
    for name in wanted {
        visit(&normalize(name), dir, &index, builtin, &mut visiting, &mut ordered)?;
    }
    Ok(ordered)
}

/// Depth-first walk: dependencies are pushed before the module itself.
fn visit(
    name: &str,
    dir: &Path,
    index: &HashMap<String, PathBuf>,
    builtin: &[String],
    visiting: &mut Vec<String>,
    ordered: &mut Vec<PathBuf>,
) -> Result<(), ModinfoError> {
    if builtin.iter().any(|b| b == name) || visiting.iter().any(|v| v == name) {
        return Ok(());
    }
    let path = index.get(name).ok_or_else(|| ModinfoError::Missing { name: name.to_owned(), dir: dir.to_owned() })?;
    if ordered.contains(path) {
        return Ok(());
    }
    let elf = std::fs::read(path).map_err(|source| ModinfoError::Read { path: path.clone(), source })?;
    let deps = depends(&elf).map_err(|reason| ModinfoError::NotAModule { path: path.clone(), reason })?;
    // Kernel modules cannot depend on each other in a cycle, but a guard
    // costs one line and turns a bad input into a finite walk.
    visiting.push(name.to_owned());
    for dep in deps {
        visit(&dep, dir, index, builtin, visiting, ordered)?;
    }
    visiting.pop();
    ordered.push(path.clone());
    Ok(())
}

/// Maps each module name to its `.ko` file, searching `dir` recursively.
fn index_modules(dir: &Path) -> HashMap<String, PathBuf> {
    let mut index = HashMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Some(stem) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".ko")) {
                index.insert(normalize(stem), path);
            }
        }
    }
    index
}

/// Returns the bytes of the named section of a 64-bit little-endian ELF
/// file, `None` if it has no such section ([`crate::dynlink`] reads ELF
/// programs with it too).
pub(crate) fn find_section<'a>(elf: &'a [u8], wanted: &str) -> Result<Option<&'a [u8]>, &'static str> {
    if elf.get(..4) != Some(b"\x7fELF".as_slice()) || elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF file");
    }
    // ELF header fields: e_shoff at 0x28, e_shentsize/e_shnum/e_shstrndx at 0x3a..0x40.
    let shoff = read_u64(elf, 0x28)? as usize;
    let shentsize = read_u16(elf, 0x3a)? as usize;
    let shnum = read_u16(elf, 0x3c)? as usize;
    let shstrndx = read_u16(elf, 0x3e)? as usize;
    // Each section header: sh_name (u32) at 0, sh_offset (u64) at 0x18, sh_size at 0x20.
    let section = |i: usize| -> Result<(u32, &'a [u8]), &'static str> {
        let header = shoff + i * shentsize;
        let name = read_u32(elf, header)?;
        let offset = read_u64(elf, header + 0x18)? as usize;
        let size = read_u64(elf, header + 0x20)? as usize;
        let bytes = elf.get(offset..offset + size).ok_or("section out of bounds")?;
        Ok((name, bytes))
    };
    let (_, names) = section(shstrndx)?;
    for i in 0..shnum {
        let (name_offset, bytes) = section(i)?;
        let name = names.get(name_offset as usize..).ok_or("section name out of bounds")?;
        let name = name.split(|b| *b == 0).next().unwrap_or_default();
        if name == wanted.as_bytes() {
            return Ok(Some(bytes));
        }
    }
    Ok(None)
}

fn read_u16(bytes: &[u8], at: usize) -> Result<u16, &'static str> {
    let raw = bytes.get(at..at + 2).ok_or("truncated ELF header")?;
    Ok(u16::from_le_bytes([raw[0], raw[1]]))
}

fn read_u32(bytes: &[u8], at: usize) -> Result<u32, &'static str> {
    let raw = bytes.get(at..at + 4).ok_or("truncated ELF header")?;
    Ok(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
}

pub(crate) fn read_u64(bytes: &[u8], at: usize) -> Result<u64, &'static str> {
    let raw = bytes.get(at..at + 8).ok_or("truncated ELF header")?;
    let mut buf = [0; 8];
    buf.copy_from_slice(raw);
    Ok(u64::from_le_bytes(buf))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a minimal ELF64 file with the given sections (and `.shstrtab`).
    pub(crate) fn fake_elf(sections: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut names = b"\0.shstrtab\0".to_vec();
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        // Section 0 is the null section; 1 is .shstrtab, placed last.
        let mut headers = vec![(0u32, 0usize, 0usize)];
        let mut placed = Vec::new();
        for (name, bytes) in sections {
            placed.push((names.len() as u32, elf.len(), bytes.len()));
            names.extend_from_slice(name.as_bytes());
            names.push(0);
            elf.extend_from_slice(bytes);
        }
        headers.push((1, elf.len(), names.len()));
        elf.extend_from_slice(&names);
        headers.extend(placed);
        let shoff = elf.len();
        elf[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&(headers.len() as u16).to_le_bytes());
        elf[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        for (name, offset, size) in headers {
            let mut header = [0u8; 64];
            header[..4].copy_from_slice(&name.to_le_bytes());
            header[0x18..0x20].copy_from_slice(&(offset as u64).to_le_bytes());
            header[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            elf.extend_from_slice(&header);
        }
        elf
    }

    /// A kernel module: an ELF file with a `.modinfo` section.
    fn fake_module(modinfo: &[u8]) -> Vec<u8> {
        fake_elf(&[(".modinfo", modinfo.to_vec())])
    }

    #[test]
    fn reads_depends_from_modinfo() {
        let elf = fake_module(b"license=GPL\0depends=llc,stp\0name=bridge\0");
        assert_eq!(depends(&elf).unwrap(), ["llc", "stp"]);
        let info = modinfo(&elf).unwrap();
        assert!(info.contains(&("name".into(), "bridge".into())));
    }

    #[test]
    fn empty_depends_means_none() {
        let elf = fake_module(b"depends=\0name=llc\0");
        assert!(depends(&elf).unwrap().is_empty());
    }

    #[test]
    fn rejects_non_elf() {
        assert!(depends(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn orders_dependencies_first() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("kernel/net");
        std::fs::create_dir_all(&net).unwrap();
        let write = |name: &str, deps: &str| {
            let info = format!("depends={deps}\0name={name}\0");
            std::fs::write(net.join(format!("{name}.ko")), fake_module(info.as_bytes())).unwrap();
        };
        write("bridge", "stp,llc");
        write("stp", "llc");
        write("llc", "");
        write("veth", "");
        let order = load_order(dir.path(), &["veth", "bridge"], &[]).unwrap();
        let names: Vec<_> = order.iter().map(|p| p.file_stem().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["veth", "llc", "stp", "bridge"]);
        let builtin = load_order(dir.path(), &["bridge"], &["llc".into()]).unwrap();
        assert_eq!(builtin.len(), 2, "a built-in llc is not loaded");
        assert!(matches!(load_order(dir.path(), &["overlay"], &[]), Err(ModinfoError::Missing { .. })));
    }
}
