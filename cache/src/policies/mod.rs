//! One module per algorithm; each exports `INFO` for the registry.

pub mod arc;
pub mod belady;
pub mod clock;
pub mod fifo;
pub mod gdsf;
pub mod lfu;
pub mod lru;
pub mod s3fifo;
pub mod sieve;
pub mod twoq;
pub mod wtinylfu;

#[cfg(test)]
pub(crate) mod testing;
