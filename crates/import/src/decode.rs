//! Text decoding: UTF-8 (with or without BOM) and UTF-16 LE/BE with BOM, as exports come.

/// Why bytes are not text Portcullis reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not valid UTF-8.
    #[error("invalid UTF-8 at line {line}, column {column} (byte {offset}); save the file as UTF-8 or UTF-16 with a BOM")]
    Utf8 {
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// Byte offset.
        offset: usize,
    },
    /// UTF-16 with an odd number of bytes or an unpaired surrogate.
    #[error("invalid UTF-16 ({0})")]
    Utf16(&'static str),
    /// A UTF-32 BOM.
    #[error("UTF-32 is not supported; save the file as UTF-8 or UTF-16")]
    Utf32,
}

/// Decodes a file's bytes to text, removing any byte-order mark.
pub fn decode(bytes: &[u8]) -> Result<String, DecodeError> {
    if bytes.starts_with(&[0xFF, 0xFE, 0, 0]) || bytes.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return Err(DecodeError::Utf32);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return utf8(rest);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, u16::from_be_bytes);
    }
    utf8(bytes)
}

fn utf8(bytes: &[u8]) -> Result<String, DecodeError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let offset = e.valid_up_to();
            let before = String::from_utf8_lossy(&bytes[..offset]);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            Err(DecodeError::Utf8 {
                line,
                column,
                offset,
            })
        }
    }
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, DecodeError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(DecodeError::Utf16("odd number of bytes"));
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]])).collect();
    String::from_utf16(&units).map_err(|_| DecodeError::Utf16("unpaired surrogate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str) -> Vec<u8> {
        let mut out = vec![0xFF, 0xFE];
        out.extend(s.encode_utf16().flat_map(|u| u.to_le_bytes()));
        out
    }

    #[test]
    fn reads_every_encoding_exports_come_in() {
        let text = "{\r\n  \"a\": \"é\"\r\n}";
        assert_eq!(decode(text.as_bytes()).as_deref(), Ok(text));
        let mut bom8 = vec![0xEF, 0xBB, 0xBF];
        bom8.extend_from_slice(text.as_bytes());
        assert_eq!(decode(&bom8).as_deref(), Ok(text));
        assert_eq!(decode(&utf16le(text)).as_deref(), Ok(text));
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(|u| u.to_be_bytes()));
        assert_eq!(decode(&be).as_deref(), Ok(text));
    }

    #[test]
    fn bad_bytes_are_located() {
        let err = decode(b"{\n  \"a\": \"\xff\"\n}");
        assert_eq!(
            err,
            Err(DecodeError::Utf8 {
                line: 2,
                column: 9,
                offset: 10
            })
        );
        let mut odd = utf16le("{}");
        odd.push(0x41);
        assert!(matches!(decode(&odd), Err(DecodeError::Utf16(_))));
        assert_eq!(
            decode(&[0xFF, 0xFE, 0, 0, 0x7B, 0, 0, 0]),
            Err(DecodeError::Utf32)
        );
    }
}
