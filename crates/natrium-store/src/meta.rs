//! The stream's own description beside its blocks (nats-server's `meta.inf` + `meta.sum`):
//! opaque bytes from the server (its stream config as JSON), written atomically, checksummed.
//!
//! Format of `meta.inf`: the 8 bytes `NATRMETA`, the length (u32 LE), the bytes, their
//! crc32c (u32 LE).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::{FileStore, StoreError};

const MAGIC: &[u8; 8] = b"NATRMETA";
const FILE: &str = "meta.inf";
const TEMP: &str = "meta.inf.tmp";

impl FileStore {
    /// Stores `meta` (the stream config) in the store's directory, replacing the previous
    /// one atomically: after a crash either the old or the new bytes are read back.
    pub fn save_meta(&self, meta: &[u8]) -> Result<(), StoreError> {
        write_meta(self.dir(), meta)
    }

    /// The bytes last given to [`save_meta`](Self::save_meta) for the store in `dir`, or
    /// `None` when there are none. The server reads them before opening the store, to learn
    /// the limits to open it with.
    pub fn load_meta(dir: &Path) -> Result<Option<Vec<u8>>, StoreError> {
        let path = dir.join(FILE);
        let data = match fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(path, e)),
        };
        let corrupt = |offset: usize, reason: &str| StoreError::Corrupt {
            path: path.clone(),
            offset: offset as u64,
            reason: reason.to_owned(),
        };
        if data.len() < MAGIC.len() + 8 || &data[..MAGIC.len()] != MAGIC {
            return Err(corrupt(0, "not a natrium meta file"));
        }
        let len_at = MAGIC.len();
        let len = u32::from_le_bytes([
            data[len_at],
            data[len_at + 1],
            data[len_at + 2],
            data[len_at + 3],
        ]) as usize;
        let body_at = len_at + 4;
        if data.len() != body_at + len + 4 {
            return Err(corrupt(len_at, "length does not match the file"));
        }
        let body = &data[body_at..body_at + len];
        let crc_at = body_at + len;
        let crc = u32::from_le_bytes([
            data[crc_at],
            data[crc_at + 1],
            data[crc_at + 2],
            data[crc_at + 3],
        ]);
        if crc32c::crc32c(body) != crc {
            return Err(corrupt(body_at, "checksum mismatch"));
        }
        Ok(Some(body.to_vec()))
    }
}

fn write_meta(dir: &Path, meta: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(meta.len()).map_err(|_| StoreError::TooLarge(meta.len()))?;
    let temp = dir.join(TEMP);
    let mut data = Vec::with_capacity(meta.len() + 16);
    data.extend_from_slice(MAGIC);
    data.extend_from_slice(&len.to_le_bytes());
    data.extend_from_slice(meta);
    data.extend_from_slice(&crc32c::crc32c(meta).to_le_bytes());
    let mut file = File::create(&temp).map_err(|e| StoreError::io(&temp, e))?;
    file.write_all(&data)
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::io(&temp, e))?;
    let path = dir.join(FILE);
    fs::rename(&temp, &path).map_err(|e| StoreError::io(&path, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}
