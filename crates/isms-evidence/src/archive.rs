//! The pack's container: a gzip-compressed tar of regular files, written deterministically
//! (fixed owner, mode and time) so the same content always gives the same archive.

use std::collections::BTreeSet;
use std::io::Read;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

/// Writes `files` (path, content) in the order given, each stamped with `mtime` (Unix seconds).
pub fn write(files: &[(String, Vec<u8>)], mtime: u64) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    builder.mode(tar::HeaderMode::Deterministic);
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        builder.append_data(&mut header, path, content.as_slice())?;
    }
    builder.into_inner()?.finish()
}

/// Reads every entry, in archive order. Anything but a regular file, a path that is not plain
/// relative UTF-8, or a path seen twice makes the archive unreadable as a pack.
pub fn read(archive: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    let entries = tar.entries().map_err(|e| format!("not a tar.gz archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("the archive is damaged: {e}"))?;
        let path = entry.path().map_err(|e| format!("an entry has an unreadable path: {e}"))?;
        let path = path.to_str().ok_or("an entry's path is not UTF-8")?.to_owned();
        if !entry.header().entry_type().is_file() {
            return Err(format!("entry '{path}' is not a regular file"));
        }
        if path.starts_with('/') || path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(format!("entry '{path}' is not a plain relative path"));
        }
        if !seen.insert(path.clone()) {
            return Err(format!("entry '{path}' appears twice"));
        }
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(|e| format!("entry '{path}' cannot be read: {e}"))?;
        files.push((path, content));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_the_archive_is_deterministic() {
        let files = vec![("a.json".to_owned(), b"{}".to_vec()), ("dir/b.csv".to_owned(), b"x\r\n".to_vec())];
        let archive = write(&files, 1_700_000_000).unwrap();
        assert_eq!(read(&archive).unwrap(), files);
        assert_eq!(write(&files, 1_700_000_000).unwrap(), archive);
        assert!(read(b"not gzip").is_err());
    }
}
