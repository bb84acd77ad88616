//! The fingerprint of a skeleton, shared by the runner and `build.rs`.

/// FNV-1a (64 bits) of `bytes` read with CRLF as LF, so that a checkout with
/// Windows line endings still matches the recorded skeleton.
pub fn skeleton_hash(bytes: &[u8]) -> u64 {
    normalized(bytes)
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

/// `bytes` with CRLF read as LF: what is fingerprinted, embedded, and
/// written back by `reset`.
pub fn normalized(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if !(b == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}
