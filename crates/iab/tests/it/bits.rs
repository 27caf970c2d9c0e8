//! Fibonacci coding, the bit reader and writer, base64url edge cases.

use custodian_iab::bits::{BitWriter, Bits, BitsError, Padding, fibonacci_code, fibonacci_len};

use crate::support::Rng;

fn bits(text: &str) -> Bits {
    Bits::from_binary_str(text).unwrap()
}

fn code_text(value: u64) -> String {
    fibonacci_code(value)
        .unwrap()
        .into_iter()
        .map(|b| if b { '1' } else { '0' })
        .collect()
}

#[test]
fn fibonacci_codes_match_the_gpp_specification_table() {
    // GPP Consent String Specification, "About Fibonacci Encoding".
    for (value, code) in [
        (1, "11"),
        (2, "011"),
        (3, "0011"),
        (4, "1011"),
        (5, "00011"),
        (6, "10011"),
        (7, "01011"),
        (8, "000011"),
        (12, "101011"),
        (13, "0000011"),
        (22, "10000011"),
    ] {
        assert_eq!(code_text(value), code, "encode {value}");
        assert_eq!(
            bits(code).reader().read_fibonacci(),
            Ok(value),
            "decode {code}"
        );
        assert_eq!(fibonacci_len(value), Some(code.len()));
    }
}

#[test]
fn fibonacci_round_trips_small_large_and_extreme_values() {
    let mut rng = Rng::new(7);
    let mut values: Vec<u64> = (1..=2000).collect();
    values.extend((0..2000).map(|_| rng.next_u64().max(1)));
    values.extend([u64::MAX, u64::MAX - 1, 1 << 63, 12_200_160_415_121_876_738]);
    for value in values {
        let mut w = BitWriter::new();
        w.write_fibonacci(value).unwrap();
        w.write_fibonacci(1).unwrap();
        let out = w.finish();
        let mut r = out.reader();
        assert_eq!(r.read_fibonacci(), Ok(value));
        assert_eq!(r.read_fibonacci(), Ok(1));
        assert_eq!(r.remaining(), 0);
    }
}

#[test]
fn fibonacci_rejects_zero_missing_terminator_and_overflow() {
    assert_eq!(fibonacci_code(0), Err(BitsError::FibonacciZero));
    assert_eq!(fibonacci_len(0), None);
    assert_eq!(
        BitWriter::new().write_fibonacci(0),
        Err(BitsError::FibonacciZero)
    );
    assert_eq!(
        bits("0101010").reader().read_fibonacci(),
        Err(BitsError::UnexpectedEnd)
    );
    assert_eq!(
        bits("").reader().read_fibonacci(),
        Err(BitsError::UnexpectedEnd)
    );
    // A 1 at position 100 weighs F(102), far beyond u64.
    let mut long = "0".repeat(100);
    long.push_str("11");
    assert_eq!(
        bits(&long).reader().read_fibonacci(),
        Err(BitsError::FibonacciOverflow)
    );
    // Every weight that fits, all set on alternate positions: the sum overflows.
    let alternating = format!("{}11", "10".repeat(46));
    assert_eq!(
        bits(&alternating).reader().read_fibonacci(),
        Err(BitsError::FibonacciOverflow)
    );
}

#[test]
fn reader_reads_big_endian_integers_of_any_width() {
    let b = bits("000101 101010 1 0000000000001100 11111111");
    let mut r = b.reader();
    assert_eq!(r.read_u8(6), Ok(5));
    assert_eq!(r.read_u8(6), Ok(42));
    assert_eq!(r.read_bool(), Ok(true));
    assert_eq!(r.read_u16(16), Ok(12));
    assert_eq!(r.position(), 29);
    assert_eq!(r.read_u64(0), Ok(0));
    assert_eq!(r.read_u64(8), Ok(255));
    assert_eq!(r.remaining(), 0);
    assert_eq!(r.read_bool(), Err(BitsError::UnexpectedEnd));
}

#[test]
fn reader_does_not_consume_on_a_short_read_and_rejects_oversized_widths() {
    let b = bits("101");
    let mut r = b.reader();
    assert_eq!(r.read_u64(4), Err(BitsError::UnexpectedEnd));
    assert_eq!(r.position(), 0);
    assert_eq!(r.read_u64(65), Err(BitsError::ValueTooWide { width: 65 }));
    assert_eq!(r.read_u8(9), Err(BitsError::ValueTooWide { width: 9 }));
    assert_eq!(r.read_u16(17), Err(BitsError::ValueTooWide { width: 17 }));
    assert_eq!(r.read_u64(3), Ok(5));
}

#[test]
fn writer_writes_what_the_reader_reads() {
    let mut rng = Rng::new(11);
    let mut w = BitWriter::new();
    let mut written = Vec::new();
    for _ in 0..500 {
        let width = u32::try_from(rng.below(65)).unwrap();
        let value = if width == 64 {
            rng.next_u64()
        } else {
            rng.next_u64() & ((1u64 << width) - 1)
        };
        w.write_u64(value, width).unwrap();
        written.push((value, width));
    }
    let out = w.finish();
    let mut r = out.reader();
    for (value, width) in written {
        assert_eq!(r.read_u64(width), Ok(value));
    }
    assert_eq!(r.remaining(), 0);
}

#[test]
fn writer_rejects_values_wider_than_the_field() {
    let mut w = BitWriter::new();
    assert_eq!(
        w.write_u64(64, 6),
        Err(BitsError::ValueTooWide { width: 6 })
    );
    assert_eq!(w.write_u64(1, 0), Err(BitsError::ValueTooWide { width: 0 }));
    assert_eq!(
        w.write_u64(0, 65),
        Err(BitsError::ValueTooWide { width: 65 })
    );
    assert!(w.is_empty());
    w.write_u64(u64::MAX, 64).unwrap();
    w.write_u64(63, 6).unwrap();
    assert_eq!(w.len(), 70);
}

#[test]
fn base64url_uses_the_url_safe_alphabet() {
    let all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let decoded = Bits::from_base64url(all).unwrap();
    assert_eq!(decoded.len(), 64 * 6);
    let mut r = decoded.reader();
    for expected in 0..64 {
        assert_eq!(r.read_u8(6), Ok(expected));
    }
    assert_eq!(decoded.to_base64url(Padding::Block24), all);
    assert_eq!(decoded.to_base64url(Padding::Byte), all);
    assert_eq!(
        Bits::from_base64url("ab+c"),
        Err(BitsError::InvalidBase64 { position: 2 })
    );
    assert_eq!(
        Bits::from_base64url("ab/c"),
        Err(BitsError::InvalidBase64 { position: 2 })
    );
    assert_eq!(
        Bits::from_base64url("ab c"),
        Err(BitsError::InvalidBase64 { position: 2 })
    );
    assert_eq!(
        Bits::from_base64url("é"),
        Err(BitsError::InvalidBase64 { position: 0 })
    );
    assert_eq!(Bits::from_base64url(""), Ok(Bits::new()));
}

#[test]
fn base64url_tolerates_standard_padding_only() {
    // iabtcf-java's `cAAAAAAAITg=` and the strict-mode `CA==`.
    assert_eq!(Bits::from_base64url("cAAAAAAAITg=").unwrap().len(), 66);
    assert_eq!(Bits::from_base64url("CA==").unwrap().len(), 12);
    assert_eq!(
        Bits::from_base64url("CA="),
        Err(BitsError::InvalidPadding),
        "length not a multiple of 4"
    );
    assert_eq!(Bits::from_base64url("C==="), Err(BitsError::InvalidPadding));
    assert_eq!(Bits::from_base64url("===="), Err(BitsError::InvalidPadding));
    assert_eq!(Bits::from_base64url("C=AA"), Err(BitsError::InvalidPadding));
}

#[test]
fn padding_conventions_give_the_libraries_lengths() {
    // GPP header example 1: 30 bits. The specification prints the minimal `DBABM`; the
    // libraries pad to a byte and write `DBABMA`.
    let header = bits("000011 000001 000000000001 0 011");
    assert_eq!(header.len(), 28);
    assert_eq!(header.to_base64url(Padding::Byte), "DBABMA");
    assert_eq!(header.to_base64url(Padding::Block24), "DBABMAAA");
    let spec = Bits::from_base64url("DBABM").unwrap();
    assert_eq!(spec.len(), 30);
    assert_eq!(&spec.to_binary_string()[..28], header.to_binary_string());
    // usnat v1 core: 60 bits, byte padded to 64 then 66 bits, 11 characters.
    let sixty = Bits::from_binary_str(&"01".repeat(30)).unwrap();
    assert_eq!(sixty.to_base64url(Padding::Byte).len(), 11);
    assert_eq!(sixty.to_base64url(Padding::Block24).len(), 12);
    assert_eq!(Bits::new().to_base64url(Padding::Byte), "");
    assert_eq!(Bits::new().to_base64url(Padding::Block24), "");
}

#[test]
fn binary_text_round_trips_and_rejects_other_characters() {
    let b = bits("1 0\t1\n1");
    assert_eq!(b.to_binary_string(), "1011");
    assert_eq!(b.get(0), Some(true));
    assert_eq!(b.get(1), Some(false));
    assert_eq!(b.get(4), None);
    assert_eq!(
        Bits::from_binary_str("10x1"),
        Err(BitsError::InvalidBinaryDigit { position: 2 })
    );
    let mut w = BitWriter::new();
    w.append(&b);
    w.append(&b);
    assert_eq!(w.finish().to_binary_string(), "10111011");
}
