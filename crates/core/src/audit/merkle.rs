//! RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and their verification.
//!
//! The tree is stored as its completed perfect subtrees: node `(level, index)` is the hash of
//! leaves `[index * 2^level, (index + 1) * 2^level)`. Appends complete amortised two nodes,
//! and every proof needs O(log n) stored nodes. Proof generation runs against a
//! [`NodeLookup`]; [`nodes_for_inclusion`] and [`nodes_for_consistency`] say in advance which
//! nodes that will be, so a store can fetch them in one query.

use std::collections::{BTreeSet, HashMap};

use sha2::{Digest, Sha256};

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// A completed perfect subtree: the hash of leaves `[index << level, (index + 1) << level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Height above the leaves (0 for a leaf).
    pub level: u32,
    /// Position among the nodes of that level.
    pub index: u64,
    /// The node's hash.
    pub hash: Hash,
}

/// SHA-256 over the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// RFC 9162 leaf hash: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    sha256(&[&[0u8], data])
}

/// RFC 9162 interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[1u8], left, right])
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    sha256(&[])
}

/// The root hash of a list of leaf hashes (a reference computation, O(n)).
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly smaller than `n` (n > 1).
fn split(n: u64) -> u64 {
    debug_assert!(n > 1);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// A node's position in the post-order of the tree (children before their parent, left
/// before right), which is the order appends complete nodes in: the nodes leaf `i` completes
/// take the positions right after those of leaf `i - 1`. A store keyed by it appends every
/// batch's nodes at one end of one index, rather than at the end of each level's run (one
/// page per level written at every commit). After `n` leaves, `2n - popcount(n)` nodes are
/// complete, so the node over leaves `[index << level, (index + 1) << level)` comes after all
/// of those over the leaves before its first, plus its own `2^(level + 1) - 2` descendants.
/// `None` for a node whose position does not fit in a `u64` (no such node is ever stored).
pub fn postorder(level: u32, index: u64) -> Option<u64> {
    let first = index.checked_shl(level).filter(|f| f >> level == index)?;
    let below = 1u64.checked_shl(level.checked_add(1)?)?.checked_sub(2)?;
    first
        .checked_mul(2)?
        .checked_sub(u64::from(first.count_ones()))?
        .checked_add(below)
}

/// Pushes leaf `index` (which must equal the current size) onto a frontier and returns the
/// nodes this completes, the leaf first.
pub fn frontier_push(frontier: &mut Vec<Hash>, index: u64, leaf: Hash) -> Vec<Node> {
    let mut nodes = vec![Node {
        level: 0,
        index,
        hash: leaf,
    }];
    let mut carry = leaf;
    let mut level = 0u32;
    while (index >> level) & 1 == 1 {
        let Some(left) = frontier.pop() else { break };
        carry = node_hash(&left, &carry);
        level += 1;
        nodes.push(Node {
            level,
            index: index >> level,
            hash: carry,
        });
    }
    frontier.push(carry);
    nodes
}

/// The root hash of a tree given its frontier.
pub fn frontier_root(frontier: &[Hash]) -> Hash {
    let mut it = frontier.iter().rev();
    let Some(last) = it.next() else {
        return empty_root();
    };
    it.fold(*last, |acc, left| node_hash(left, &acc))
}

/// Where proof generation reads completed nodes from.
pub trait NodeLookup {
    /// The node at `(level, index)`, if stored.
    fn node(&self, level: u32, index: u64) -> Option<Hash>;
}

impl NodeLookup for HashMap<(u32, u64), Hash> {
    fn node(&self, level: u32, index: u64) -> Option<Hash> {
        self.get(&(level, index)).copied()
    }
}

/// Why a proof cannot be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index or sizes do not describe a proof (e.g. index beyond the tree).
    #[error("no such proof: {0}")]
    OutOfRange(&'static str),
    /// A node the proof needs is not stored.
    #[error("tree node ({0}, {1}) is missing")]
    MissingNode(u32, u64),
}

struct Recorder(std::cell::RefCell<BTreeSet<(u32, u64)>>);

impl NodeLookup for Recorder {
    fn node(&self, level: u32, index: u64) -> Option<Hash> {
        self.0.borrow_mut().insert((level, index));
        Some([0; 32])
    }
}

/// Hash of leaves `[start, end)`, where the range is one the RFC recursion visits.
fn range_hash(nodes: &dyn NodeLookup, start: u64, end: u64) -> Result<Hash, ProofError> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros();
        let index = start >> level;
        return nodes
            .node(level, index)
            .ok_or(ProofError::MissingNode(level, index));
    }
    let k = split(n);
    Ok(node_hash(
        &range_hash(nodes, start, start + k)?,
        &range_hash(nodes, start + k, end)?,
    ))
}

fn path(
    nodes: &dyn NodeLookup,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if end - start <= 1 {
        return Ok(());
    }
    let k = split(end - start);
    if m < start + k {
        path(nodes, m, start, start + k, out)?;
        out.push(range_hash(nodes, start + k, end)?);
    } else {
        path(nodes, m, start + k, end, out)?;
        out.push(range_hash(nodes, start, start + k)?);
    }
    Ok(())
}

/// The RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof(
    nodes: &dyn NodeLookup,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange(
            "leaf index is not below the tree size",
        ));
    }
    let mut out = Vec::new();
    path(nodes, index, 0, size, &mut out)?;
    Ok(out)
}

fn subproof(
    nodes: &dyn NodeLookup,
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(range_hash(nodes, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(nodes, m, start, start + k, complete, out)?;
        out.push(range_hash(nodes, start + k, end)?);
    } else {
        subproof(nodes, m - k, start + k, end, false, out)?;
        out.push(range_hash(nodes, start, start + k)?);
    }
    Ok(())
}

/// The RFC 9162 consistency proof between tree sizes `old` and `new` (`0 < old <= new`);
/// empty when the sizes are equal.
pub fn consistency_proof(
    nodes: &dyn NodeLookup,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::OutOfRange("sizes must satisfy 0 < old <= new"));
    }
    let mut out = Vec::new();
    if old < new {
        subproof(nodes, old, 0, new, true, &mut out)?;
    }
    Ok(out)
}

/// The stored nodes [`inclusion_proof`] will read.
pub fn nodes_for_inclusion(index: u64, size: u64) -> Vec<(u32, u64)> {
    let r = Recorder(Default::default());
    let _ = inclusion_proof(&r, index, size);
    r.0.into_inner().into_iter().collect()
}

/// The stored nodes [`consistency_proof`] will read.
pub fn nodes_for_consistency(old: u64, new: u64) -> Vec<(u32, u64)> {
    let r = Recorder(Default::default());
    let _ = consistency_proof(&r, old, new);
    r.0.into_inner().into_iter().collect()
}

/// The stored nodes whose hashes make up the root of a tree of `size` leaves.
pub fn nodes_for_root(size: u64) -> Vec<(u32, u64)> {
    if size == 0 {
        return Vec::new();
    }
    let r = Recorder(Default::default());
    let _ = range_hash(&r, 0, size);
    r.0.into_inner().into_iter().collect()
}

/// The root of the tree of the first `size` leaves, from stored nodes.
pub fn root_at(nodes: &dyn NodeLookup, size: u64) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(nodes, 0, size)
}

/// RFC 9162 §2.1.3.2: whether `proof` shows leaf `leaf` at `index` in the tree with `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// RFC 9162 §2.1.4.2: whether `proof` shows the tree (`new`, `new_root`) extends (`old`, `old_root`).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        return proof.is_empty();
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *old_root && sr == *new_root && snode == 0
}

#[cfg(test)]
mod tests {
    //! Known answers from the Certificate Transparency reference test data (RFC 6962 /
    //! RFC 9162 hashing): the eight reference leaves, their roots, and published proofs.
    use super::*;

    fn h(s: &str) -> Hash {
        let v = hex::decode(s).unwrap_or_default();
        v.try_into().unwrap_or([0; 32])
    }

    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn leaf_hashes() -> Vec<Hash> {
        LEAVES
            .iter()
            .map(|l| leaf_hash(&hex::decode(l).unwrap_or_default()))
            .collect()
    }

    /// Builds the stored-node map the way a store does: one frontier push per leaf.
    fn build(leaves: &[Hash]) -> (HashMap<(u32, u64), Hash>, Vec<Hash>) {
        let mut map = HashMap::new();
        let mut frontier = Vec::new();
        for (i, l) in leaves.iter().enumerate() {
            for n in frontier_push(&mut frontier, i as u64, *l) {
                map.insert((n.level, n.index), n.hash);
            }
        }
        (map, frontier)
    }

    #[test]
    fn roots_match_reference() {
        let leaves = leaf_hashes();
        for n in 0..=8 {
            assert_eq!(root_of(&leaves[..n]), h(ROOTS[n]), "root_of size {n}");
            let (map, frontier) = build(&leaves[..n]);
            assert_eq!(frontier_root(&frontier), h(ROOTS[n]), "frontier size {n}");
            assert_eq!(root_at(&map, n as u64), Ok(h(ROOTS[n])), "stored size {n}");
        }
    }

    #[test]
    fn inclusion_proofs_match_reference() {
        // (leaf index, tree size, proof)
        let cases: [(u64, u64, &[&str]); 4] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        let leaves = leaf_hashes();
        let (map, _) = build(&leaves);
        for (index, size, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            let got = inclusion_proof(&map, index, size);
            assert_eq!(got.as_ref(), Ok(&want), "proof {index}/{size}");
            let root = h(ROOTS[size as usize]);
            assert!(verify_inclusion(
                index,
                size,
                &leaves[index as usize],
                &want,
                &root
            ));
            assert!(!verify_inclusion(
                index ^ 1,
                size,
                &leaves[index as usize],
                &want,
                &root
            ));
            assert!(!verify_inclusion(
                index,
                size * 2,
                &leaves[index as usize],
                &want,
                &root
            ));
            assert!(!verify_inclusion(
                index,
                size,
                &leaves[index as usize],
                &want[1..],
                &root
            ));
            let mut bad = want.clone();
            bad[0][0] ^= 8;
            assert!(!verify_inclusion(
                index,
                size,
                &leaves[index as usize],
                &bad,
                &root
            ));
        }
    }

    #[test]
    fn consistency_proofs_match_reference() {
        let cases: [(u64, u64, &[&str]); 3] = [
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        let (map, _) = build(&leaf_hashes());
        for (old, new, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(
                consistency_proof(&map, old, new).as_ref(),
                Ok(&want),
                "{old}->{new}"
            );
            let (r1, r2) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
            assert!(verify_consistency(old, new, &r1, &r2, &want));
            assert!(!verify_consistency(old, new, &r2, &r1, &want));
            assert!(!verify_consistency(
                old,
                new,
                &r1,
                &r2,
                &want[..want.len() - 1]
            ));
            assert!(!verify_consistency(old, new, &r1, &r2, &[]));
            let mut bad = want.clone();
            bad[0][0] ^= 16;
            assert!(!verify_consistency(old, new, &r1, &r2, &bad));
        }
    }

    #[test]
    fn postorder_is_the_order_appends_complete_nodes_in() {
        // Every node of a 1,000-leaf tree, in the order frontier_push returns them, takes
        // the next position, with no gaps.
        let mut frontier = Vec::new();
        let mut next = 0u64;
        for (i, leaf) in (0..1000u64).map(|i| (i, sha256(&[&i.to_be_bytes()]))) {
            for n in frontier_push(&mut frontier, i, leaf) {
                assert_eq!(postorder(n.level, n.index), Some(next), "{n:?}");
                next += 1;
            }
        }
        assert_eq!(next, 2 * 1000 - u64::from(1000u64.count_ones()));
        // Small cases by hand: leaves 0, 1, their parent, leaf 2, leaf 3, parent, root of 4.
        let by_hand = [
            (0, 0),
            (0, 1),
            (1, 0),
            (0, 2),
            (0, 3),
            (1, 1),
            (2, 0),
            (0, 4),
        ];
        for (pos, (level, index)) in by_hand.into_iter().enumerate() {
            assert_eq!(postorder(level, index), Some(pos as u64));
        }
        // Beyond what a u64 holds: no position, no overflow.
        assert_eq!(postorder(63, 1), None);
        assert_eq!(postorder(0, u64::MAX), None);
        assert_eq!(postorder(64, 0), None);
        assert_eq!(postorder(u32::MAX, 0), None);
        assert!(postorder(40, 0).is_some());
    }

    #[test]
    fn every_proof_in_every_small_tree_verifies() {
        let leaves: Vec<Hash> = (0..70u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let (map, _) = build(&leaves);
        let roots: Vec<Hash> = (0..=leaves.len()).map(|n| root_of(&leaves[..n])).collect();
        for size in 1..=leaves.len() as u64 {
            assert_eq!(root_at(&map, size), Ok(roots[size as usize]));
            for i in 0..size {
                let p = inclusion_proof(&map, i, size).unwrap_or_default();
                assert!(verify_inclusion(
                    i,
                    size,
                    &leaves[i as usize],
                    &p,
                    &roots[size as usize]
                ));
                let needed = nodes_for_inclusion(i, size);
                let sub: HashMap<(u32, u64), Hash> = needed
                    .iter()
                    .filter_map(|k| map.get(k).map(|v| (*k, *v)))
                    .collect();
                assert_eq!(inclusion_proof(&sub, i, size).as_ref(), Ok(&p));
            }
            for old in 1..=size {
                let p = consistency_proof(&map, old, size).unwrap_or_default();
                assert!(
                    verify_consistency(old, size, &roots[old as usize], &roots[size as usize], &p),
                    "{old}->{size}"
                );
                let sub: HashMap<(u32, u64), Hash> = nodes_for_consistency(old, size)
                    .iter()
                    .filter_map(|k| map.get(k).map(|v| (*k, *v)))
                    .collect();
                assert_eq!(consistency_proof(&sub, old, size).as_ref(), Ok(&p));
            }
        }
    }

    #[test]
    fn out_of_range_and_missing_nodes_are_errors() {
        let (map, _) = build(&leaf_hashes());
        assert!(matches!(
            inclusion_proof(&map, 8, 8),
            Err(ProofError::OutOfRange(_))
        ));
        assert!(matches!(
            consistency_proof(&map, 0, 8),
            Err(ProofError::OutOfRange(_))
        ));
        assert!(matches!(
            consistency_proof(&map, 9, 8),
            Err(ProofError::OutOfRange(_))
        ));
        let empty: HashMap<(u32, u64), Hash> = HashMap::new();
        assert!(matches!(
            inclusion_proof(&empty, 0, 8),
            Err(ProofError::MissingNode(..))
        ));
        assert!(!verify_inclusion(0, 0, &[0; 32], &[], &empty_root()));
    }
}
