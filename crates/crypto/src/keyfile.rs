//! Key files in the data directory: created once, mode 0600, never overwritten.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

/// Writes `bytes` to a new file with mode 0600; fails if the file exists.
pub fn create_secret_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Reads a secret file, refusing one that others can read or write.
pub fn read_secret_file(path: &Path) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut f = OpenOptions::new().read(true).open(path)?;
    let mode = f.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is readable by group or others (mode {:o}); run chmod 600 on it",
                path.display(),
                mode & 0o777
            ),
        ));
    }
    let mut buf = Zeroizing::new(Vec::new());
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("k");
        create_secret_file(&p, b"abc").expect("create");
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(create_secret_file(&p, b"x").is_err());
        assert_eq!(read_secret_file(&p).expect("read").as_slice(), b"abc");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(read_secret_file(&p).is_err());
    }
}
