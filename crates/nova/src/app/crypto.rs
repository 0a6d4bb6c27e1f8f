//! Key material for key pairs, as nova/crypto.py: OpenSSH public key checks and their MD5
//! fingerprints, X.509 certificate SHA-1 fingerprints, RSA 2048 key pair generation (what
//! paramiko does for upstream: a PKCS#1 PEM private key and an `ssh-rsa ... Generated-by-Nova`
//! public key), and the WinRM client certificate upstream makes with openssl for `type: x509`
//! (self-signed, CN=<user>, client-auth, a UPN `<user>@localhost`; the private key returned as
//! a base64 PKCS#12 with an empty password). The DER is built here by hand: the structures are
//! small and fixed, and it keeps the dependency list to the `rsa` crate.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use md5::{Digest, Md5};
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use sha1::Sha1;

/// Why key material was refused (upstream's `InvalidKeypair` reasons).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("failed to generate fingerprint")]
    Fingerprint,
    #[error("failed to generate X509 fingerprint. Error message: {0}")]
    X509(String),
    #[error("failed to generate the key pair: {0}")]
    Generate(String),
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Reads SSH wire-format fields (RFC 4251 strings and mpints) from a key blob.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn string(&mut self) -> Option<&'a [u8]> {
        if self.0.len() < 4 {
            return None;
        }
        let len = u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]]) as usize;
        let rest = &self.0[4..];
        if rest.len() < len {
            return None;
        }
        let (s, tail) = rest.split_at(len);
        self.0 = tail;
        Some(s)
    }

    /// A positive mpint (a leading zero byte only where the high bit needs it).
    fn positive_mpint(&mut self) -> Option<&'a [u8]> {
        let m = self.string()?;
        match m {
            [] => None,
            [first, ..] if first & 0x80 != 0 => None,
            [0, second, ..] if second & 0x80 == 0 => None,
            _ => Some(m),
        }
    }
}

/// Checks that `blob` is a well-formed public key of type `key_type`, as
/// `load_ssh_public_key` would.
fn ssh_blob_valid(key_type: &str, blob: &[u8]) -> bool {
    let mut r = Reader(blob);
    if r.string() != Some(key_type.as_bytes()) {
        return false;
    }
    let fields_ok = match key_type {
        "ssh-rsa" => r.positive_mpint().is_some() && r.positive_mpint().is_some(),
        "ssh-dss" => (0..4).all(|_| r.positive_mpint().is_some()),
        "ssh-ed25519" => r.string().is_some_and(|k| k.len() == 32),
        "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" => {
            let curve = &key_type["ecdsa-sha2-".len()..];
            let point_len = match curve {
                "nistp256" => 65,
                "nistp384" => 97,
                _ => 133,
            };
            r.string() == Some(curve.as_bytes()) && r.string().is_some_and(|p| p.len() == point_len && p[0] == 4)
        }
        _ => false,
    };
    fields_ok && r.0.is_empty()
}

/// The MD5 fingerprint of an OpenSSH public key (`aa:bb:...`), refusing what is not one.
pub fn ssh_fingerprint(public_key: &str) -> Result<String, KeyError> {
    let mut parts = public_key.split(' ');
    let key_type = parts.next().ok_or(KeyError::Fingerprint)?;
    let data = parts.next().ok_or(KeyError::Fingerprint)?;
    let blob = STANDARD.decode(data.trim_end()).map_err(|_| KeyError::Fingerprint)?;
    if !ssh_blob_valid(key_type, &blob) {
        return Err(KeyError::Fingerprint);
    }
    Ok(colon_hex(&Md5::digest(&blob)))
}

/// Reads a DER length at `pos`, returning (length, header size).
fn der_len(der: &[u8], pos: usize) -> Option<(usize, usize)> {
    let first = *der.get(pos)?;
    if first & 0x80 == 0 {
        return Some((first as usize, 1));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *der.get(pos + 1 + i)? as usize;
    }
    Some((len, 1 + n))
}

/// The SHA-1 fingerprint of a PEM X.509 certificate (`aa:bb:...`).
pub fn x509_fingerprint(pem: &str) -> Result<String, KeyError> {
    let begin = "-----BEGIN CERTIFICATE-----";
    let end = "-----END CERTIFICATE-----";
    let start = pem.find(begin).ok_or_else(|| KeyError::X509("Unable to load PEM file.".into()))? + begin.len();
    let stop = pem[start..].find(end).ok_or_else(|| KeyError::X509("Unable to load PEM file.".into()))? + start;
    let b64: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(b64).map_err(|e| KeyError::X509(e.to_string()))?;
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE, signature BIT STRING }
    let bad = || KeyError::X509("error parsing asn1 value".into());
    if der.first() != Some(&0x30) {
        return Err(bad());
    }
    let (len, header) = der_len(&der, 1).ok_or_else(bad)?;
    if 1 + header + len != der.len() {
        return Err(bad());
    }
    let mut pos = 1 + header;
    for tag in [0x30u8, 0x30, 0x03] {
        if der.get(pos) != Some(&tag) {
            return Err(bad());
        }
        let (l, h) = der_len(&der, pos + 1).ok_or_else(bad)?;
        pos += 1 + h + l;
    }
    if pos != der.len() {
        return Err(bad());
    }
    Ok(colon_hex(&Sha1::digest(&der)))
}

/// An SSH wire-format mpint of a big-endian positive integer.
fn mpint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        &bytes[first..]
    };
    let mut out = Vec::with_capacity(trimmed.len() + 5);
    let pad = trimmed.first().is_some_and(|b| b & 0x80 != 0);
    let len = (trimmed.len() + usize::from(pad)) as u32;
    out.extend_from_slice(&len.to_be_bytes());
    if pad {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
    out
}

/// A generated key pair: (private key PEM, public key, fingerprint).
pub fn generate_ssh_key_pair() -> Result<(String, String, String), KeyError> {
    let mut rng = rand::rngs::OsRng;
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| KeyError::Generate(e.to_string()))?;
    let private_pem = key.to_pkcs1_pem(LineEnding::LF).map_err(|e| KeyError::Generate(e.to_string()))?.to_string();
    let mut blob = Vec::new();
    blob.extend_from_slice(&7u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-rsa");
    blob.extend(mpint(&key.e().to_bytes_be()));
    blob.extend(mpint(&key.n().to_bytes_be()));
    let public_key = format!("ssh-rsa {} Generated-by-Nova", STANDARD.encode(&blob));
    let fingerprint = colon_hex(&Md5::digest(&blob));
    Ok((private_pem, public_key, fingerprint))
}

/// DER building blocks for the certificate and the PKCS#12 container.
mod der {
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }

    pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }

    pub fn set(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x31, &parts.concat())
    }

    pub fn oid(arcs: &[u64]) -> Vec<u8> {
        let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
        for &arc in &arcs[2..] {
            let mut chunk = vec![(arc & 0x7f) as u8];
            let mut rest = arc >> 7;
            while rest > 0 {
                chunk.push(0x80 | (rest & 0x7f) as u8);
                rest >>= 7;
            }
            chunk.reverse();
            body.extend(chunk);
        }
        tlv(0x06, &body)
    }

    /// A non-negative INTEGER from big-endian bytes.
    pub fn uint(bytes: &[u8]) -> Vec<u8> {
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len().saturating_sub(1));
        let trimmed = &bytes[first.min(bytes.len())..];
        let mut body = Vec::with_capacity(trimmed.len() + 1);
        if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
            body.push(0);
        }
        body.extend_from_slice(trimmed);
        tlv(0x02, &body)
    }

    pub fn null() -> Vec<u8> {
        vec![0x05, 0x00]
    }

    pub fn octets(b: &[u8]) -> Vec<u8> {
        tlv(0x04, b)
    }

    pub fn bits(b: &[u8]) -> Vec<u8> {
        let mut body = vec![0u8];
        body.extend_from_slice(b);
        tlv(0x03, &body)
    }

    pub fn utf8(s: &str) -> Vec<u8> {
        tlv(0x0c, s.as_bytes())
    }

    /// `[n]` EXPLICIT (or an IMPLICIT constructed `[n]`, which encodes the same way).
    pub fn context(n: u8, content: &[u8]) -> Vec<u8> {
        tlv(0xa0 | n, content)
    }

    pub fn utc_time(t: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
        tlv(0x17, t.format("%y%m%d%H%M%SZ").to_string().as_bytes())
    }
}

/// PKCS#12 key derivation (RFC 7292 appendix B) with SHA-1, for one 20-byte output.
fn pkcs12_kdf_sha1(password: &str, salt: &[u8], id: u8, iterations: u32) -> Vec<u8> {
    const V: usize = 64;
    let mut bmp: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
    bmp.extend([0, 0]);
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return Vec::new();
        }
        let len = V * src.len().div_ceil(V);
        src.iter().copied().cycle().take(len).collect()
    };
    let mut input = vec![id; V];
    input.extend(fill(salt));
    input.extend(fill(&bmp));
    let mut a = Sha1::digest(&input).to_vec();
    for _ in 1..iterations {
        a = Sha1::digest(&a).to_vec();
    }
    a
}

/// A WinRM client certificate for `user_id`: (base64 PKCS#12 with the key and the
/// certificate, certificate PEM, SHA-1 fingerprint).
pub fn generate_x509_key_pair(user_id: &str) -> Result<(String, String, String), KeyError> {
    use der::*;
    use hmac::{Hmac, Mac};
    use rand::RngCore;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::EncodePrivateKey;
    use sha2::Sha256;

    let gen = |e: &dyn std::fmt::Display| KeyError::Generate(e.to_string());
    let mut rng = rand::rngs::OsRng;
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| gen(&e))?;
    let public_der = key.to_public_key().to_pkcs1_der().map_err(|e| gen(&e))?;
    let mut serial = [0u8; 16];
    rng.fill_bytes(&mut serial);
    serial[0] &= 0x7f;
    let sha256_rsa = seq(&[oid(&[1, 2, 840, 113549, 1, 1, 11]), null()]);
    let name = seq(&[set(&[seq(&[oid(&[2, 5, 4, 3]), utf8(user_id)])])]);
    let now = chrono::Utc::now();
    let validity = seq(&[utc_time(now), utc_time(now + chrono::Duration::days(3650))]);
    let spki = seq(&[seq(&[oid(&[1, 2, 840, 113549, 1, 1, 1]), null()]), bits(public_der.as_bytes())]);
    let eku = seq(&[oid(&[2, 5, 29, 37]), octets(&seq(&[oid(&[1, 3, 6, 1, 5, 5, 7, 3, 2])]))]);
    let upn = format!("{user_id}@localhost");
    let other_name = context(0, &[oid(&[1, 3, 6, 1, 4, 1, 311, 20, 2, 3]), context(0, &utf8(&upn))].concat());
    let san = seq(&[oid(&[2, 5, 29, 17]), octets(&seq(&[other_name]))]);
    let tbs = seq(&[context(0, &uint(&[2])), uint(&serial), sha256_rsa.clone(), name.clone(), validity, name, spki, context(3, &seq(&[eku, san]))]);
    // PKCS#1 v1.5 over a SHA-256 DigestInfo.
    let mut digest_info = vec![0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];
    digest_info.extend(Sha256::digest(&tbs));
    let signature = key.sign(rsa::Pkcs1v15Sign::new_unprefixed(), &digest_info).map_err(|e| gen(&e))?;
    let cert = seq(&[tbs, sha256_rsa, bits(&signature)]);
    let b64 = STANDARD.encode(&cert);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    let pem = format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"));

    // PKCS#12: one unencrypted SafeContents with a certBag and a keyBag, MAC'd with the
    // empty password (what `openssl pkcs12 -export -password pass:` gives a reader).
    let pkcs8 = key.to_pkcs8_der().map_err(|e| gen(&e))?;
    let cert_bag = seq(&[oid(&[1, 2, 840, 113549, 1, 12, 10, 1, 3]), context(0, &seq(&[oid(&[1, 2, 840, 113549, 1, 9, 22, 1]), context(0, &octets(&cert))]))]);
    let key_bag = seq(&[oid(&[1, 2, 840, 113549, 1, 12, 10, 1, 1]), context(0, pkcs8.as_bytes())]);
    let data = |content: &[u8]| seq(&[oid(&[1, 2, 840, 113549, 1, 7, 1]), context(0, &octets(content))]);
    let auth_safe = seq(&[data(&seq(&[cert_bag, key_bag]))]);
    let mut salt = [0u8; 8];
    rng.fill_bytes(&mut salt);
    let iterations = 2048u32;
    let mac_key = pkcs12_kdf_sha1("", &salt, 3, iterations);
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(&mac_key).map_err(|e| gen(&e))?;
    mac.update(&auth_safe);
    let mac_data = seq(&[seq(&[seq(&[oid(&[1, 3, 14, 3, 2, 26]), null()]), octets(&mac.finalize().into_bytes())]), octets(&salt), uint(&iterations.to_be_bytes())]);
    let pfx = seq(&[uint(&[3]), data(&auth_safe), mac_data]);
    let fingerprint = colon_hex(&Sha1::digest(&cert));
    Ok((STANDARD.encode(pfx), pem, fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;

    // An ed25519 key and its MD5 fingerprint as `ssh-keygen -l -E md5` prints it.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGn4H8nRXWA7ngdCQWq5hy4G4E0c/1BV1wLyR4O5GSDj test@example";

    #[test]
    fn ssh_fingerprints_are_md5_of_the_blob() {
        let blob = STANDARD.decode("AAAAC3NzaC1lZDI1NTE5AAAAIGn4H8nRXWA7ngdCQWq5hy4G4E0c/1BV1wLyR4O5GSDj").unwrap();
        assert_eq!(ssh_fingerprint(ED25519).unwrap(), colon_hex(&Md5::digest(&blob)));
        assert!(ssh_fingerprint("ssh-rsa bad-key").is_err());
        assert!(ssh_fingerprint("").is_err());
        assert!(ssh_fingerprint("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGn4H8nRXWA7ngdCQWq5hy4G4E0c/1BV1wLyR4O5GSDj").is_err());
    }

    #[test]
    fn generated_keys_are_valid_openssh_rsa_keys() {
        let (private, public, fp) = generate_ssh_key_pair().unwrap();
        assert!(private.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        assert!(public.starts_with("ssh-rsa ") && public.ends_with(" Generated-by-Nova"));
        assert_eq!(ssh_fingerprint(&public).unwrap(), fp);
        assert_eq!(fp.len(), 47);
    }

    #[test]
    fn generated_certificates_read_back_with_their_fingerprint() {
        let (p12, pem, fp) = generate_x509_key_pair("u1").unwrap();
        assert_eq!(x509_fingerprint(&pem).unwrap(), fp);
        assert!(STANDARD.decode(p12).unwrap().starts_with(&[0x30, 0x82]));
    }

    #[test]
    fn x509_fingerprints_need_a_certificate() {
        assert!(x509_fingerprint("not a cert").is_err());
        assert!(x509_fingerprint("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n").is_err());
    }
}
