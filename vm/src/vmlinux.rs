//! Extracts the uncompressed kernel (an ELF file) from a `bzImage`.
//!
//! A `bzImage` is a small real-mode setup program, a decompressor, and the
//! compressed kernel. Booted as is, the guest spends about half a second
//! decompressing itself under TCG, every time. QEMU can instead load the
//! uncompressed ELF kernel directly and jump to its PVH entry point, so we
//! pay for the decompression once, on the host, and cache the result.
//!
//! The x86 boot protocol (`Documentation/arch/x86/boot.rst`) says where the
//! compressed payload is: `payload_offset` and `payload_length` in the setup
//! header. Debian compresses its kernels with LZ4 in the "legacy" frame
//! format: a magic number, then blocks each prefixed by their compressed
//! size, then (a kernel build convention) the uncompressed size.

use std::path::{Path, PathBuf};

/// What can go wrong while extracting the kernel.
#[derive(Debug, thiserror::Error)]
pub enum VmlinuxError {
    /// The bzImage could not be read, or the result could not be written.
    #[error("could not access {path}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a bzImage we know how to unpack.
    #[error("cannot extract the kernel from {path}: {reason}")]
    Format {
        /// The bzImage.
        path: PathBuf,
        /// What was unexpected.
        reason: String,
    },
}

/// Magic number that starts an LZ4 legacy frame.
const LZ4_LEGACY_MAGIC: u32 = 0x184C_2102;
/// Every block of a legacy frame decompresses to at most 8 MiB.
const LZ4_LEGACY_BLOCK: usize = 8 << 20;

/// Extracts the ELF kernel from `bzimage` into `out` (written atomically).
pub fn extract(bzimage: &Path, out: &Path) -> Result<(), VmlinuxError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| VmlinuxError::Io { path, source }
    };
    let image = std::fs::read(bzimage).map_err(io_err(bzimage))?;
    let elf = decompress(&image).map_err(|reason| VmlinuxError::Format { path: bzimage.to_owned(), reason })?;
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, elf).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, out).map_err(io_err(out))
}

/// Returns the uncompressed kernel inside a bzImage.
pub fn decompress(image: &[u8]) -> Result<Vec<u8>, String> {
    if image.get(0x202..0x206) != Some(b"HdrS".as_slice()) {
        return Err("no x86 boot protocol header (HdrS)".into());
    }
    // setup_sects (0x1f1) counts the 512-byte sectors after the boot sector;
    // the protected-mode part starts right after them.
    let setup_sects = match image[0x1f1] {
        0 => 4,
        n => n as usize,
    };
    let protected_mode = (setup_sects + 1) * 512;
    let payload_offset = le32(image, 0x248)? as usize;
    let payload_length = le32(image, 0x24c)? as usize;
    let start = protected_mode + payload_offset;
    let payload = image.get(start..start + payload_length).ok_or("payload lies outside the file")?;
    let elf = lz4_legacy(payload)?;
    if !elf.starts_with(b"\x7fELF") {
        return Err("the decompressed payload is not an ELF file".into());
    }
    Ok(elf)
}

/// Decodes an LZ4 legacy frame followed by the 4-byte uncompressed size.
fn lz4_legacy(payload: &[u8]) -> Result<Vec<u8>, String> {
    if le32(payload, 0)? != LZ4_LEGACY_MAGIC {
        return Err("payload is not LZ4-compressed (only LZ4 is supported)".into());
    }
    let (frame, size) = payload.split_at(payload.len().saturating_sub(4));
    let expected = le32(size, 0)? as usize;
    let mut out = Vec::with_capacity(expected);
    let mut at = 4;
    while at < frame.len() {
        let block_len = le32(frame, at)? as usize;
        at += 4;
        let block = frame.get(at..at + block_len).ok_or("truncated LZ4 block")?;
        let decoded =
            lz4_flex::block::decompress(block, LZ4_LEGACY_BLOCK).map_err(|e| format!("bad LZ4 block: {e}"))?;
        out.extend_from_slice(&decoded);
        at += block_len;
    }
    if out.len() != expected {
        return Err(format!("decompressed {} bytes, expected {expected}", out.len()));
    }
    Ok(out)
}

fn le32(bytes: &[u8], at: usize) -> Result<u32, String> {
    let raw = bytes.get(at..at + 4).ok_or("truncated header")?;
    Ok(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_files_without_boot_header() {
        assert!(decompress(&[0; 4096]).unwrap_err().contains("HdrS"));
    }

    #[test]
    fn decodes_a_legacy_frame() {
        let elf = b"\x7fELF and then the rest of a kernel".repeat(100);
        let block = lz4_flex::block::compress(&elf);
        let mut payload = LZ4_LEGACY_MAGIC.to_le_bytes().to_vec();
        payload.extend_from_slice(&(block.len() as u32).to_le_bytes());
        payload.extend_from_slice(&block);
        payload.extend_from_slice(&(elf.len() as u32).to_le_bytes());
        assert_eq!(lz4_legacy(&payload).unwrap(), elf);
    }
}
