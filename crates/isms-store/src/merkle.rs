//! RFC 6962 (Certificate Transparency) Merkle trees over a tenant's event hashes: the tree
//! head a checkpoint signs, inclusion proofs (this event is in that log) and consistency
//! proofs (the later log extends the earlier one without rewriting it), and their verification.
//!
//! Leaf `i` is the 32 bytes of the `hash` of the event at position `i + 1`. Hashes follow RFC
//! 6962 section 2.1: `MTH({}) = SHA-256()`, a leaf is `SHA-256(0x00 || d)`, an inner node
//! `SHA-256(0x01 || left || right)`, and a tree of `n` leaves splits at the largest power of two
//! below `n`. Every function reaches the leaves through a [`Subtrees`] source, so a store can
//! answer the aligned subtrees it keeps without reading every leaf.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// The hash of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(data);
    hasher.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Where the tree's hashes come from: the root of the leaves `start..end` (not empty).
pub trait Subtrees {
    fn root(&self, start: u64, end: u64) -> Hash;
}

/// Leaf hashes held in memory (already `leaf_hash`ed), for small trees and for verifiers.
pub struct LeafHashes<'a>(pub &'a [Hash]);

impl Subtrees for LeafHashes<'_> {
    fn root(&self, start: u64, end: u64) -> Hash {
        if end - start == 1 {
            return self.0[start as usize];
        }
        let k = split(end - start);
        node_hash(&self.root(start, start + k), &self.root(start + k, end))
    }
}

/// The tree head of the first `n` leaves.
pub fn root(tree: &dyn Subtrees, n: u64) -> Hash {
    if n == 0 {
        empty_root()
    } else {
        tree.root(0, n)
    }
}

/// RFC 6962 2.1.1: the audit path of leaf `index` in the tree of the first `n` leaves, bottom up.
pub fn inclusion_proof(tree: &dyn Subtrees, index: u64, n: u64) -> Vec<Hash> {
    fn path(tree: &dyn Subtrees, index: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
        if end - start <= 1 {
            return;
        }
        let k = split(end - start);
        if index < start + k {
            path(tree, index, start, start + k, out);
            out.push(tree.root(start + k, end));
        } else {
            path(tree, index, start + k, end, out);
            out.push(tree.root(start, start + k));
        }
    }
    let mut out = Vec::new();
    if index < n {
        path(tree, index, 0, n, &mut out);
    }
    out
}

/// RFC 6962 2.1.2: the proof that the tree of the first `m` leaves is a prefix of the tree of
/// the first `n` (`0 < m <= n`), bottom up.
pub fn consistency_proof(tree: &dyn Subtrees, m: u64, n: u64) -> Vec<Hash> {
    fn subproof(tree: &dyn Subtrees, m: u64, start: u64, end: u64, complete: bool, out: &mut Vec<Hash>) {
        let size = end - start;
        if m == size {
            if !complete {
                out.push(tree.root(start, end));
            }
            return;
        }
        let k = split(size);
        if m <= k {
            subproof(tree, m, start, start + k, complete, out);
            out.push(tree.root(start + k, end));
        } else {
            subproof(tree, m - k, start + k, end, false, out);
            out.push(tree.root(start, start + k));
        }
    }
    let mut out = Vec::new();
    if 0 < m && m < n {
        subproof(tree, m, 0, n, true, &mut out);
    }
    out
}

/// RFC 9162 2.1.3.2: whether `proof` shows the leaf hash `leaf` at `index` in a tree of `size`
/// leaves with root `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// RFC 9162 2.1.4.2: whether `proof` shows that the tree of `first` leaves with root
/// `first_root` is a prefix of the tree of `second` leaves with root `second_root`.
pub fn verify_consistency(first: u64, second: u64, proof: &[Hash], first_root: &Hash, second_root: &Hash) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    let mut proof: Vec<Hash> = proof.to_vec();
    if first.is_power_of_two() {
        proof.insert(0, *first_root);
    }
    let Some((head, rest)) = proof.split_first() else { return false };
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*head, *head);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && fr == *first_root && sr == *second_root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn known_answers_of_rfc_6962() {
        // The empty tree and a one-leaf tree of the empty string, as in the CT test vectors.
        assert_eq!(hex::encode(empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hex::encode(leaf_hash(&[])), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_one_does_not() {
        for n in 1..=33u64 {
            let hashes = leaves(n);
            let tree = LeafHashes(&hashes);
            let head = root(&tree, n);
            for index in 0..n {
                let proof = inclusion_proof(&tree, index, n);
                assert!(verify_inclusion(&hashes[index as usize], index, n, &proof, &head), "{index} of {n}");
                let other = hashes[((index + 1) % n) as usize];
                assert!(n == 1 || !verify_inclusion(&other, index, n, &proof, &head));
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_rewritten_prefix_does_not() {
        for n in 1..=33u64 {
            let hashes = leaves(n);
            let tree = LeafHashes(&hashes);
            let head = root(&tree, n);
            for m in 1..=n {
                let proof = consistency_proof(&tree, m, n);
                let first = root(&tree, m);
                assert!(verify_consistency(m, n, &proof, &first, &head), "{m} to {n}");
                let mut rewritten = hashes.clone();
                rewritten[0] = leaf_hash(b"rewritten");
                let forged_first = root(&LeafHashes(&rewritten), m);
                assert!(!verify_consistency(m, n, &proof, &forged_first, &head), "{m} to {n} rewritten");
            }
        }
    }
}
