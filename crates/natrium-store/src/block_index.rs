//! A sealed block's index file (`<id>.idx`): what replaying the block's records does to the
//! index, without the payloads, so that opening a store reads a few bytes per message
//! instead of every block (nats-server keeps per-block index files for the same reason).
//!
//! It is written when a block is sealed, and when opening replays a sealed block that has
//! none. It is only trusted when it matches the block: the block's length, modification
//! time and last 4 bytes (its last record's checksum) are in the header, and the file ends
//! with a crc32c of everything before. Any mismatch, and the block is replayed instead (and
//! its index written again). The active block never has one: it is always replayed, so a
//! torn tail is truncated as before.
//!
//! # Format (version 1)
//!
//! ```text
//! magic      8   NATRIDX1
//! block_len  8   u64 LE
//! mtime      8   i64 LE, the block's modification time (unix ns)
//! tail       4   the block's last 4 bytes
//! subjects   varint count, then per subject: varint length, bytes
//! records    varint count, then per record:
//!              1 byte: kind | flags << 4 (the record's kind and flags)
//!              varint: record length (offsets follow: the first record is at 8)
//!              zigzag varint: sequence - previous record's sequence
//!              all but tombstones: zigzag varint: time - previous time
//!              messages: varint subject number; with a deadline, zigzag deadline - time
//! crc        4   crc32c of everything before
//! ```

use hashbrown::HashMap;

const MAGIC: &[u8; 8] = b"NATRIDX1";
/// The offset of a block's first record (after its magic).
const FIRST_RECORD: u64 = 8;
const KIND_TOMBSTONE: u8 = 2;
const KIND_MESSAGE: u8 = 1;
const FLAG_DEADLINE: u8 = 2;

/// What one record does, as replay needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fact<'a> {
    pub kind: u8,
    pub flags: u8,
    pub seq: u64,
    pub time: i64,
    pub deadline: Option<i64>,
    pub subject: &'a [u8],
    /// Where the record starts in its block.
    pub offset: u32,
    /// The record's length.
    pub len: u32,
}

/// The block an index describes; an index for any other block is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockId {
    pub len: u64,
    pub mtime: i64,
    pub tail: [u8; 4],
}

/// Builds an index from a block's records, in order.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    subjects: HashMap<Vec<u8>, u64>,
    names: Vec<u8>,
    records: Vec<u8>,
    count: u64,
    seq: u64,
    time: i64,
}

impl Writer {
    pub fn push(&mut self, fact: &Fact<'_>) {
        self.count += 1;
        self.records.push(fact.kind | (fact.flags << 4));
        put_varint(&mut self.records, u64::from(fact.len));
        put_zigzag(&mut self.records, fact.seq.wrapping_sub(self.seq) as i64);
        self.seq = fact.seq;
        if fact.kind != KIND_TOMBSTONE {
            put_zigzag(&mut self.records, fact.time.wrapping_sub(self.time));
            self.time = fact.time;
        }
        if fact.kind == KIND_MESSAGE {
            let next = self.subjects.len() as u64;
            let number = *self
                .subjects
                .entry(fact.subject.to_vec())
                .or_insert_with(|| {
                    put_varint(&mut self.names, fact.subject.len() as u64);
                    self.names.extend_from_slice(fact.subject);
                    next
                });
            put_varint(&mut self.records, number);
            if let Some(deadline) = fact.deadline {
                put_zigzag(&mut self.records, deadline.wrapping_sub(fact.time));
            }
        }
    }

    /// The index file's bytes, for the block `id`.
    pub fn finish(self, id: BlockId) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.names.len() + self.records.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&id.len.to_le_bytes());
        out.extend_from_slice(&id.mtime.to_le_bytes());
        out.extend_from_slice(&id.tail);
        put_varint(&mut out, self.subjects.len() as u64);
        out.extend_from_slice(&self.names);
        put_varint(&mut out, self.count);
        out.extend_from_slice(&self.records);
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

/// The records an index file lists, if it is intact and describes block `id`; else why not.
pub(crate) fn read(bytes: &[u8], id: BlockId) -> Result<Vec<Fact<'_>>, &'static str> {
    let header = MAGIC.len() + 8 + 8 + 4;
    if bytes.len() < header + 4 || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a natrium block index");
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
        return Err("checksum mismatch");
    }
    let written = BlockId {
        len: u64::from_le_bytes(body[8..16].try_into().expect("8 bytes")),
        mtime: i64::from_le_bytes(body[16..24].try_into().expect("8 bytes")),
        tail: body[24..28].try_into().expect("4 bytes"),
    };
    if written != id {
        return Err("describes another state of the block");
    }
    let mut r = Reader {
        bytes: &body[header..],
    };
    let subject_count = r.varint()?;
    let mut subjects = Vec::new();
    for _ in 0..subject_count {
        let len = usize::try_from(r.varint()?).map_err(|_| "subject too long")?;
        subjects.push(r.take(len)?);
    }
    let count = r.varint()?;
    let mut facts = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(1 << 20));
    let (mut seq, mut time, mut offset) = (0u64, 0i64, FIRST_RECORD);
    for _ in 0..count {
        let head = r.take(1)?[0];
        let (kind, flags) = (head & 0x0f, head >> 4);
        let len = u32::try_from(r.varint()?).map_err(|_| "record too long")?;
        seq = seq.wrapping_add(r.zigzag()? as u64);
        if kind != KIND_TOMBSTONE {
            time = time.wrapping_add(r.zigzag()?);
        }
        let mut fact = Fact {
            kind,
            flags,
            seq,
            time: if kind == KIND_TOMBSTONE { 0 } else { time },
            deadline: None,
            subject: &[],
            offset: u32::try_from(offset).map_err(|_| "record past 4 GiB")?,
            len,
        };
        if kind == KIND_MESSAGE {
            let number = usize::try_from(r.varint()?).map_err(|_| "bad subject number")?;
            fact.subject = subjects.get(number).ok_or("bad subject number")?;
            if flags & FLAG_DEADLINE != 0 {
                fact.deadline = Some(time.wrapping_add(r.zigzag()?));
            }
        }
        offset += u64::from(len);
        facts.push(fact);
    }
    if !r.bytes.is_empty() {
        return Err("bytes after the last record");
    }
    if offset != id.len {
        return Err("records do not cover the block");
    }
    Ok(facts)
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.bytes.len() < n {
            return Err("cut short");
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint too long")
    }

    fn zigzag(&mut self) -> Result<i64, &'static str> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(len: u64) -> BlockId {
        BlockId {
            len,
            mtime: 7,
            tail: [1, 2, 3, 4],
        }
    }

    #[test]
    fn facts_round_trip_and_any_change_is_refused() {
        let facts = [
            Fact {
                kind: 1,
                flags: 3,
                seq: 5,
                time: 1_000,
                deadline: Some(9_000),
                subject: b"a.b",
                offset: 8,
                len: 60,
            },
            Fact {
                kind: 2,
                flags: 0,
                seq: 2,
                time: 0,
                deadline: None,
                subject: b"",
                offset: 68,
                len: 40,
            },
            Fact {
                kind: 1,
                flags: 0,
                seq: 6,
                time: 900,
                deadline: None,
                subject: b"a.b",
                offset: 108,
                len: 50,
            },
        ];
        let mut w = Writer::default();
        for f in &facts {
            w.push(f);
        }
        let bytes = w.finish(id(158));
        assert_eq!(read(&bytes, id(158)).unwrap(), facts);
        assert!(read(&bytes, id(159)).is_err(), "another length");
        assert!(
            read(
                &bytes,
                BlockId {
                    mtime: 8,
                    ..id(158)
                }
            )
            .is_err()
        );
        for cut in 0..bytes.len() {
            assert!(read(&bytes[..cut], id(158)).is_err(), "cut at {cut}");
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(read(&bad, id(158)).is_err(), "flip at {i}");
        }
    }
}
