//! The echo protocol every model serves: the reply to a stream of bytes is
//! the same stream, ASCII-uppercased (the seed's `conn.send(data.upper())`)
//! or unchanged ([`EchoMode::Exact`]).
//!
//! The protocol has no framing: a reply has exactly the length of what was
//! received, byte for byte, so a server may answer each read as it comes, in
//! pieces of any size, and a client knows how many bytes to wait for.
//! Uppercasing is per byte (`a`-`z` only), so it never splits or grows a
//! UTF-8 character.

use super::EchoMode;

/// Turns received bytes into the reply, in place.
///
/// ```
/// use synclings::net::{protocol, EchoMode};
///
/// let mut data = *b"hello, world";
/// protocol::respond(&mut data, EchoMode::Upper);
/// assert_eq!(&data, b"HELLO, WORLD");
/// protocol::respond(&mut data, EchoMode::Exact);
/// assert_eq!(&data, b"HELLO, WORLD");
/// ```
pub fn respond(buf: &mut [u8], mode: EchoMode) {
    match mode {
        EchoMode::Upper => buf.make_ascii_uppercase(),
        EchoMode::Exact => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_keeps_length_and_non_ascii_bytes() {
        let mut data = "héllo wörld 123".as_bytes().to_vec();
        respond(&mut data, EchoMode::Upper);
        assert_eq!(data, "HéLLO WöRLD 123".as_bytes());
    }

    #[test]
    fn exact_changes_nothing() {
        let mut data: Vec<u8> = (0..=255).collect();
        respond(&mut data, EchoMode::Exact);
        assert_eq!(data, (0..=255).collect::<Vec<u8>>());
    }
}
