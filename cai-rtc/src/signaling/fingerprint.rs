//! DTLS certificate fingerprints in SDP (RFC 8122 `a=fingerprint:`) and the check a peer
//! makes after its DTLS handshake (ASVS V17): the certificate the other side actually
//! presented must hash to the fingerprint in that side's (signed) session description.
//! Otherwise whoever relays signaling could put itself in the middle of the media.
//!
//! Strict by design: only SHA-256, SHA-384 and SHA-512 are accepted (a description with
//! an `md5` or `sha-1` fingerprint is refused, not half-read), every m-section must end
//! up with the same set of fingerprints (its own lines, or the session-level ones when
//! it has none), and comparisons run in constant time.

use core::fmt;

use sha2::{Digest, Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;

/// The hash function of a fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FingerprintAlgorithm {
    /// `sha-256`, 32 bytes.
    Sha256,
    /// `sha-384`, 48 bytes.
    Sha384,
    /// `sha-512`, 64 bytes.
    Sha512,
}

impl FingerprintAlgorithm {
    /// The SDP name (`sha-256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
        }
    }

    /// The digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn parse(name: &str) -> Result<Self, FingerprintError> {
        // RFC 8122: hash function names are case-insensitive.
        match name.to_ascii_lowercase().as_str() {
            "sha-256" => Ok(Self::Sha256),
            "sha-384" => Ok(Self::Sha384),
            "sha-512" => Ok(Self::Sha512),
            _ => Err(FingerprintError::UnsupportedAlgorithm),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn code(self) -> u8 {
        match self {
            Self::Sha256 => 1,
            Self::Sha384 => 2,
            Self::Sha512 => 3,
        }
    }
}

/// One certificate fingerprint: an algorithm and its digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint {
    algorithm: FingerprintAlgorithm,
    digest: Vec<u8>,
}

impl Fingerprint {
    /// A fingerprint from its parts; the digest must have the algorithm's length.
    pub fn new(algorithm: FingerprintAlgorithm, digest: &[u8]) -> Result<Self, FingerprintError> {
        if digest.len() != algorithm.digest_len() {
            return Err(FingerprintError::Malformed);
        }
        Ok(Self {
            algorithm,
            digest: digest.to_vec(),
        })
    }

    /// The fingerprint of a DER-encoded certificate under `algorithm`.
    pub fn of_certificate(algorithm: FingerprintAlgorithm, certificate_der: &[u8]) -> Self {
        Self {
            algorithm,
            digest: algorithm.digest(certificate_der),
        }
    }

    /// Parses the value of an `a=fingerprint:` attribute: `sha-256 AB:CD:…` (hex pairs,
    /// either case, colon-separated).
    pub fn parse(value: &str) -> Result<Self, FingerprintError> {
        let (name, hex) = value
            .trim()
            .split_once(' ')
            .ok_or(FingerprintError::Malformed)?;
        let algorithm = FingerprintAlgorithm::parse(name)?;
        let digest = hex
            .trim()
            .split(':')
            .map(|pair| {
                if pair.len() == 2 {
                    u8::from_str_radix(pair, 16).map_err(|_| FingerprintError::Malformed)
                } else {
                    Err(FingerprintError::Malformed)
                }
            })
            .collect::<Result<Vec<u8>, _>>()?;
        Self::new(algorithm, &digest)
    }

    /// The algorithm.
    pub fn algorithm(&self) -> FingerprintAlgorithm {
        self.algorithm
    }

    /// The digest.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    /// Whether `other` is the same fingerprint: the same algorithm and, compared in
    /// constant time, the same digest.
    pub fn matches(&self, other: &Fingerprint) -> bool {
        self.algorithm == other.algorithm && bool::from(self.digest.ct_eq(&other.digest))
    }

    /// The canonical bytes (algorithm code, length, digest) that signatures cover.
    pub(crate) fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.digest.len());
        out.push(self.algorithm.code());
        out.push(u8::try_from(self.digest.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&self.digest);
        out
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Fingerprint {
    /// The SDP form, `sha-256 AB:CD:…` (uppercase, as browsers write it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.algorithm.name())?;
        for (i, b) in self.digest.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// Why a description's fingerprints, or a certificate, were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FingerprintError {
    /// The description has no fingerprint (for some m-section, or at all).
    #[error("no DTLS fingerprint")]
    Missing,
    /// An `a=fingerprint:` line does not parse.
    #[error("malformed DTLS fingerprint")]
    Malformed,
    /// A fingerprint uses a hash function other than SHA-256/384/512.
    #[error("unsupported fingerprint hash function")]
    UnsupportedAlgorithm,
    /// The m-sections do not all carry the same fingerprints.
    #[error("m-sections disagree on the DTLS fingerprint")]
    Inconsistent,
    /// The certificate seen in the DTLS handshake does not match.
    #[error("DTLS certificate does not match the signed fingerprint")]
    Mismatch,
}

/// The DTLS fingerprints of a session description: the one set every m-section uses,
/// sorted and without duplicates. Fails unless there is at least one, all parse with a
/// supported algorithm, and all m-sections agree.
pub fn sdp_fingerprints(sdp: &str) -> Result<Vec<Fingerprint>, FingerprintError> {
    let mut session: Vec<Fingerprint> = Vec::new();
    let mut media: Vec<Vec<Fingerprint>> = Vec::new();
    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with("m=") {
            media.push(Vec::new());
        } else if let Some(value) = line.strip_prefix("a=fingerprint:") {
            let fp = Fingerprint::parse(value)?;
            match media.last_mut() {
                Some(section) => section.push(fp),
                None => session.push(fp),
            }
        }
    }
    let normalise = |mut set: Vec<Fingerprint>| {
        set.sort();
        set.dedup();
        set
    };
    let session = normalise(session);
    let mut effective = media.into_iter().map(|section| {
        if section.is_empty() {
            session.clone()
        } else {
            normalise(section)
        }
    });
    let first = match effective.next() {
        Some(first) => first,
        None => session.clone(),
    };
    if first.is_empty() {
        return Err(FingerprintError::Missing);
    }
    for other in effective {
        if other.is_empty() {
            return Err(FingerprintError::Missing);
        }
        if other != first {
            return Err(FingerprintError::Inconsistent);
        }
    }
    Ok(first)
}

/// Checks the certificate fingerprint a peer saw in the DTLS handshake against those of
/// the other side's description: accepted if it matches any of them (same algorithm,
/// constant-time digest comparison).
pub fn check_fingerprint(
    expected: &[Fingerprint],
    seen: &Fingerprint,
) -> Result<(), FingerprintError> {
    // Every candidate is compared, so the time does not tell which one matched.
    let hits = expected.iter().filter(|e| e.matches(seen)).count();
    if hits > 0 {
        Ok(())
    } else {
        Err(FingerprintError::Mismatch)
    }
}

/// Checks the DER certificate the other side presented in the DTLS handshake against the
/// fingerprints of its description: hashed under each fingerprint's algorithm, it must
/// match at least one.
pub fn check_certificate(
    expected: &[Fingerprint],
    certificate_der: &[u8],
) -> Result<(), FingerprintError> {
    if expected.is_empty() {
        return Err(FingerprintError::Missing);
    }
    let hits = expected
        .iter()
        .filter(|e| e.matches(&Fingerprint::of_certificate(e.algorithm, certificate_der)))
        .count();
    if hits > 0 {
        Ok(())
    } else {
        Err(FingerprintError::Mismatch)
    }
}
