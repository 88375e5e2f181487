//! XXH3-64 with seed 0 and the default secret (xxHash 0.8's `XXH3_64bits`), written from the
//! algorithm's specification; scalar, one-shot. Used to turn string object ids into numbers the
//! way libCacheSim does.

const P32_1: u64 = 0x9E37_79B1;
const P32_2: u64 = 0x85EB_CA77;
const P32_3: u64 = 0xC2B2_AE3D;
const P64_1: u64 = 0x9E37_79B1_85EB_CA87;
const P64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P64_3: u64 = 0x1656_67B1_9E37_79F9;
const P64_4: u64 = 0x85EB_CA77_C2B2_AE63;
const P64_5: u64 = 0x27D4_EB2F_1656_67C5;
const MX1: u64 = 0x1656_6791_9E37_79F9;
const MX2: u64 = 0x9FB2_1C65_1E98_DF25;

/// The default 192-byte secret (`XXH3_kSecret`), a constant of the algorithm.
#[rustfmt::skip]
const SECRET: [u8; 192] = [
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
];

#[inline(always)]
fn r32(b: &[u8], at: usize) -> u64 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as u64
}

#[inline(always)]
fn r64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let p = a as u128 * b as u128;
    (p as u64) ^ ((p >> 64) as u64)
}

fn xxh64_avalanche(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(P64_2);
    h ^= h >> 29;
    h = h.wrapping_mul(P64_3);
    h ^ (h >> 32)
}

fn avalanche(mut h: u64) -> u64 {
    h ^= h >> 37;
    h = h.wrapping_mul(MX1);
    h ^ (h >> 32)
}

#[inline(always)]
fn mix16(input: &[u8], at: usize, sec: usize) -> u64 {
    fold(
        r64(input, at) ^ r64(&SECRET, sec),
        r64(input, at + 8) ^ r64(&SECRET, sec + 8),
    )
}

/// XXH3_64bits(input) with seed 0.
pub fn xxh3_64(input: &[u8]) -> u64 {
    let len = input.len();
    match len {
        0 => xxh64_avalanche(r64(&SECRET, 56) ^ r64(&SECRET, 64)),
        1..=3 => {
            let c1 = input[0] as u32;
            let c2 = input[len >> 1] as u32;
            let c3 = input[len - 1] as u32;
            let combined = (c1 << 16) | (c2 << 24) | c3 | ((len as u32) << 8);
            let flip = r32(&SECRET, 0) ^ r32(&SECRET, 4);
            xxh64_avalanche(combined as u64 ^ flip)
        }
        4..=8 => {
            let lo = r32(input, 0);
            let hi = r32(input, len - 4);
            let flip = r64(&SECRET, 8) ^ r64(&SECRET, 16);
            let mut h = (hi | (lo << 32)) ^ flip;
            // rrmxmx
            h ^= h.rotate_left(49) ^ h.rotate_left(24);
            h = h.wrapping_mul(MX2);
            h ^= (h >> 35).wrapping_add(len as u64);
            h = h.wrapping_mul(MX2);
            h ^ (h >> 28)
        }
        9..=16 => {
            let flip1 = r64(&SECRET, 24) ^ r64(&SECRET, 32);
            let flip2 = r64(&SECRET, 40) ^ r64(&SECRET, 48);
            let lo = r64(input, 0) ^ flip1;
            let hi = r64(input, len - 8) ^ flip2;
            let acc = (len as u64)
                .wrapping_add(lo.swap_bytes())
                .wrapping_add(hi)
                .wrapping_add(fold(lo, hi));
            avalanche(acc)
        }
        17..=128 => {
            let mut acc = (len as u64).wrapping_mul(P64_1);
            if len > 32 {
                if len > 64 {
                    if len > 96 {
                        acc = acc.wrapping_add(mix16(input, 48, 96));
                        acc = acc.wrapping_add(mix16(input, len - 64, 112));
                    }
                    acc = acc.wrapping_add(mix16(input, 32, 64));
                    acc = acc.wrapping_add(mix16(input, len - 48, 80));
                }
                acc = acc.wrapping_add(mix16(input, 16, 32));
                acc = acc.wrapping_add(mix16(input, len - 32, 48));
            }
            acc = acc.wrapping_add(mix16(input, 0, 0));
            acc = acc.wrapping_add(mix16(input, len - 16, 16));
            avalanche(acc)
        }
        129..=240 => {
            let mut acc = (len as u64).wrapping_mul(P64_1);
            let rounds = len / 16;
            for i in 0..8 {
                acc = acc.wrapping_add(mix16(input, 16 * i, 16 * i));
            }
            acc = avalanche(acc);
            for i in 8..rounds {
                acc = acc.wrapping_add(mix16(input, 16 * i, 16 * (i - 8) + 3));
            }
            // Last 16 bytes, with the secret's minimum size (136) minus 17.
            acc = acc.wrapping_add(mix16(input, len - 16, 136 - 17));
            avalanche(acc)
        }
        _ => hash_long(input),
    }
}

#[inline(always)]
fn accumulate(acc: &mut [u64; 8], input: &[u8], at: usize, sec: usize) {
    for i in 0..8 {
        let v = r64(input, at + 8 * i);
        let k = v ^ r64(&SECRET, sec + 8 * i);
        acc[i ^ 1] = acc[i ^ 1].wrapping_add(v);
        acc[i] = acc[i].wrapping_add((k & 0xFFFF_FFFF).wrapping_mul(k >> 32));
    }
}

fn scramble(acc: &mut [u64; 8]) {
    let sec = SECRET.len() - 64;
    for (i, a) in acc.iter_mut().enumerate() {
        let mut x = *a;
        x ^= x >> 47;
        x ^= r64(&SECRET, sec + 8 * i);
        *a = x.wrapping_mul(P32_1);
    }
}

fn hash_long(input: &[u8]) -> u64 {
    let len = input.len();
    let mut acc = [P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1];
    let stripes_per_block = (SECRET.len() - 64) / 8;
    let block_len = 64 * stripes_per_block;
    let blocks = (len - 1) / block_len;
    for b in 0..blocks {
        for s in 0..stripes_per_block {
            accumulate(&mut acc, input, b * block_len + s * 64, s * 8);
        }
        scramble(&mut acc);
    }
    let stripes = ((len - 1) - block_len * blocks) / 64;
    for s in 0..stripes {
        accumulate(&mut acc, input, blocks * block_len + s * 64, s * 8);
    }
    // The last stripe, against the secret's end minus 7 bytes.
    accumulate(&mut acc, input, len - 64, SECRET.len() - 64 - 7);
    let mut h = (len as u64).wrapping_mul(P64_1);
    for i in 0..4 {
        h = h.wrapping_add(fold(
            acc[2 * i] ^ r64(&SECRET, 11 + 16 * i),
            acc[2 * i + 1] ^ r64(&SECRET, 11 + 16 * i + 8),
        ));
    }
    avalanche(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference digests of `(0..n).map(|i| (i * 7 + 3) as u8)` from the python `xxhash`
    /// package (xxh3_64_intdigest), covering every length class and block boundaries.
    const VECTORS: &[(usize, u64)] = &include!("xxh3_vectors.in");

    #[test]
    fn matches_reference() {
        assert_eq!(xxh3_64(b""), 0x2D06_8005_38D3_94C2);
        for &(n, want) in VECTORS {
            let input: Vec<u8> = (0..n).map(|i| (i * 7 + 3) as u8).collect();
            assert_eq!(xxh3_64(&input), want, "length {n}");
        }
    }
}
