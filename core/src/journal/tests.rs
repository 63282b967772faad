//! Journal behaviour at its public boundary: appends, versions, proofs,
//! truncation, forks, reopening, and hostile proof bytes.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::codec::Writer;
use crate::identity::{CellKeys, hex};

fn writer(name: &str, tag: &str) -> JournalWriter {
    JournalWriter::new(CellKeys::from_name(name), JournalTag::named(tag))
}

/// Distinct blocks (each names its index and the round), so moving a proof
/// to another position can never accidentally hold.
fn block(round: u64, index: u64, size: usize) -> Vec<u8> {
    let mut block = format!("r{round} b{index} ").into_bytes();
    block.resize(block.len() + size, (index % 251) as u8);
    block
}

/// A journal built by batches of the given sizes; returns it and the signed
/// lengths in order.
fn build(batches: &[usize], block_size: usize) -> (JournalWriter, Vec<u64>) {
    let mut journal = writer("builder", "state");
    let mut signed = Vec::new();
    for &batch in batches {
        let start = journal.length();
        let blocks: Vec<Vec<u8>> = (start..start + batch as u64)
            .map(|index| block(0, index, block_size))
            .collect();
        let head = journal.append_batch(&blocks).unwrap();
        assert_eq!(head.length, start + batch as u64);
        signed.push(head.length);
    }
    (journal, signed)
}

#[test]
fn append_reads_back_and_signs_once_per_batch() {
    let mut journal = writer("alice", "message");
    assert!(journal.head().unwrap().is_none());
    let first = journal.append(b"hello").unwrap();
    let second = journal
        .append_batch(&[b"a".as_slice(), b"bc", b""])
        .unwrap();
    assert_eq!((first.length, second.length), (1, 4));
    assert_eq!(journal.length(), 4);
    assert_eq!(&*journal.block(0).unwrap(), b"hello");
    assert_eq!(&*journal.block(2).unwrap(), b"bc");
    assert_eq!(&*journal.block(3).unwrap(), b"");
    assert_eq!(journal.byte_length().unwrap(), 8);
    assert_eq!(journal.head_at(1).unwrap(), Some(first.clone()));
    assert_eq!(journal.head_at(2).unwrap(), None, "no head inside a batch");
    assert_eq!(journal.head().unwrap(), Some(second.clone()));
    journal.verifier().verify_head(&second).unwrap();
    assert!(matches!(
        journal.block(4),
        Err(JournalError::BeyondEnd { requested: 4, .. })
    ));
    assert_eq!(
        journal.append_batch::<&[u8]>(&[]),
        Err(JournalError::EmptyBatch)
    );
    let huge = vec![0u8; MAX_BLOCK_LEN + 1];
    assert!(matches!(
        journal.append(&huge),
        Err(JournalError::BlockTooLarge { .. })
    ));
    assert_eq!(journal.length(), 4, "a rejected append changes nothing");
}

#[test]
fn pinned_tree_hash_and_signature() {
    // Any change to the hashing, the signable bytes or the key derivation
    // shows up here: update deliberately, never silently.
    let mut journal = writer("vector", "identity");
    let head = journal
        .append_batch(&[b"a".as_slice(), b"b", b"c"])
        .unwrap();
    assert_eq!(
        hex(&head.tree_hash),
        "2469a35222473f13d84a788ae38b77df945905ab3b26879dc04e6b83072f8590"
    );
    // The same value from the documented layout, spelled out byte by byte:
    // peaks of 3 blocks are node 1 (blocks 0 and 1) and node 4 (block 2).
    let key = blake3::derive_key("celluler 2026-11 journal merkle tree", b"");
    let keyed = |parts: &[&[u8]]| {
        let mut hasher = blake3::Hasher::new_keyed(&key);
        for part in parts {
            hasher.update(part);
        }
        *hasher.finalize().as_bytes()
    };
    let one = 1u64.to_le_bytes();
    let leaf_a = keyed(&[&[0], &one, b"a"]);
    let leaf_b = keyed(&[&[0], &one, b"b"]);
    let leaf_c = keyed(&[&[0], &one, b"c"]);
    let parent_ab = keyed(&[&[1], &2u64.to_le_bytes(), &leaf_a, &leaf_b]);
    let tree = keyed(&[
        &[2],
        &parent_ab,
        &1u64.to_le_bytes(),
        &2u64.to_le_bytes(),
        &leaf_c,
        &4u64.to_le_bytes(),
        &1u64.to_le_bytes(),
    ]);
    assert_eq!(head.tree_hash, tree);
    assert_eq!(
        hex(&head.signature.to_bytes()),
        "413725113490000329258a83aee727c3fc0bd1d395b431b95ffd3eaf38f5d38986d1a549f886080bfebd6d3072496ac713e96073d21a873871bfa57ee6302d08"
    );
    let mut bytes = Writer::new();
    journal.block_proof(1, 3).unwrap().encode(&mut bytes);
    assert_eq!(
        hex(&blake3::hash(bytes.as_slice()).as_bytes()[..8]),
        "33abc0c63f395182"
    );
}

#[test]
fn peaks_and_versions_of_a_small_journal() {
    let (journal, _) = build(&[5], 3);
    let peaks = journal.peaks_at(5).unwrap();
    assert_eq!(
        peaks.iter().map(|peak| peak.index).collect::<Vec<_>>(),
        [3, 8]
    );
    assert_eq!(
        journal.tree_hash().unwrap(),
        journal.head().unwrap().unwrap().tree_hash
    );
    assert!(matches!(
        journal.tree_hash_at(6),
        Err(JournalError::BeyondEnd { .. })
    ));
    assert!(matches!(
        journal.block_proof(0, 3),
        Err(JournalError::NoSignedHead { length: 3 })
    ));
    let (journal, _) = build(&[2, 3, 1], 3);
    let version = journal.version(5).unwrap();
    assert_eq!(version.head().unwrap(), journal.head_at(5).unwrap());
    assert_eq!(
        version.tree_hash().unwrap(),
        version.head().unwrap().unwrap().tree_hash
    );
    assert_eq!(&*version.block(4).unwrap(), block(0, 4, 3));
    assert!(matches!(
        version.block(5),
        Err(JournalError::BeyondEnd { .. })
    ));
    assert_eq!(
        version.byte_length().unwrap(),
        journal.byte_length_at(5).unwrap()
    );
    journal
        .verifier()
        .verify_range(&version.block_proof(1).unwrap())
        .unwrap();
    assert!(journal.version(7).is_err());
    assert!(matches!(
        journal.range_proof(2, 2, 5),
        Err(JournalError::BadRange { .. })
    ));
}

#[test]
fn read_view_is_cheap_send_and_cannot_append() {
    fn assert_send<T: Send>() {}
    assert_send::<Journal>();
    assert_send::<JournalWriter>();
    assert!(size_of::<Journal>() < 1024, "{}", size_of::<Journal>());
    let journal = writer("cheap", "nucleus");
    assert_eq!(journal.storage().heap_bytes(), 0);
    // Services receive `&Journal`: reading works through the writer's deref.
    let view: &Journal = &journal;
    assert_eq!(view.length(), 0);
}

#[test]
fn one_nucleus_writes_five_journals_with_shared_keys() {
    let keys = Arc::new(CellKeys::from_name("nucleus"));
    let mut journals: Vec<JournalWriter> = SERVICE_JOURNAL_NAMES
        .iter()
        .map(|name| JournalWriter::new(Arc::clone(&keys), JournalTag::named(name)))
        .collect();
    let heads: Vec<SignedHead> = journals
        .iter_mut()
        .map(|journal| journal.append(b"same block").unwrap())
        .collect();
    // Same block, same key, different journals: heads are not interchangeable.
    let message_verifier = journals[1].verifier();
    message_verifier.verify_head(&heads[1]).unwrap();
    assert_eq!(
        message_verifier.verify_head(&heads[0]),
        Err(VerifyError::WrongJournal)
    );
    let proof = journals[3].block_proof(0, 1).unwrap();
    assert_eq!(
        message_verifier.verify_range(&proof),
        Err(VerifyError::WrongJournal)
    );
}

#[test]
fn query_answer_verifies_with_only_the_public_key() {
    let (journal, _) = build(&[10, 1, 20], 40);
    let public_key = *journal.public_key();
    let tag = journal.tag();
    let answer = journal.block_proof(17, 31).unwrap().to_bytes();
    // The asker's side: bytes and a public key, nothing else.
    let proof = RangeProof::from_bytes(&answer).unwrap();
    JournalVerifier::new(public_key, tag)
        .verify_range(&proof)
        .unwrap();
    assert_eq!(proof.blocks[0], block(0, 17, 40));
    assert!(proof.nodes.len() <= 2 * 5 + 5);
}

#[test]
fn range_of_64_is_one_root_check() {
    let (journal, _) = build(&[300], 200);
    let proof = journal.range_proof(100, 164, 300).unwrap();
    assert_eq!(proof.blocks.len(), 64);
    journal.verifier().verify_range(&proof).unwrap();
    // Swapping two blocks breaks it.
    let mut swapped = proof.clone();
    swapped.blocks.swap(3, 4);
    assert_eq!(
        journal.verifier().verify_range(&swapped),
        Err(VerifyError::TreeHashMismatch)
    );
    let mut extra = proof.clone();
    extra.nodes.push(extra.nodes[0]);
    assert_eq!(
        journal.verifier().verify_range(&extra),
        Err(VerifyError::ExtraNodes { count: 1 })
    );
    let mut short = proof;
    short.nodes.pop();
    assert_eq!(
        journal.verifier().verify_range(&short),
        Err(VerifyError::MissingNodes)
    );
}

#[test]
fn truncate_forks_and_old_proofs_fail_against_the_new_root() {
    let (mut journal, _) = build(&[8], 10);
    let old_head = journal.head().unwrap().unwrap();
    let old_proof = journal.block_proof(6, 8).unwrap();
    let truncated = journal.truncate(5).unwrap();
    assert_eq!((truncated.length, truncated.fork), (5, 1));
    assert_eq!(journal.fork(), 1);
    assert!(journal.head_at(8).is_err(), "length 8 no longer exists");
    // The prefix is unchanged: same tree hash as before at length 5.
    let replacements: Vec<Vec<u8>> = (5..8).map(|index| block(1, index, 10)).collect();
    let new_head = journal.append_batch(&replacements).unwrap();
    assert_eq!((new_head.length, new_head.fork), (8, 1));
    assert_ne!(new_head.tree_hash, old_head.tree_hash);
    let verifier = journal.verifier();
    verifier.verify_range(&old_proof).unwrap(); // still a valid old statement
    let against_new = RangeProof {
        head: new_head.clone(),
        ..old_proof
    };
    assert_eq!(
        verifier.verify_range(&against_new),
        Err(VerifyError::TreeHashMismatch)
    );
    // Different forks are not an equivocation.
    assert!(verifier.detect_conflict(&old_head, &new_head).is_none());
    // An upgrade from the truncation point to the new head holds.
    let upgrade = journal.upgrade_proof(5, 8).unwrap();
    verifier.verify_upgrade(&truncated, &upgrade).unwrap();
    journal.audit().unwrap();
    assert!(matches!(
        journal.truncate(9),
        Err(JournalError::BeyondEnd { .. })
    ));
}

#[test]
fn equivocation_is_detected_as_evidence() {
    let keys = Arc::new(CellKeys::from_name("two-faced"));
    let tag = JournalTag::named("consensus");
    let mut honest = JournalWriter::new(Arc::clone(&keys), tag);
    let mut forked = JournalWriter::new(keys, tag);
    honest.append(b"pay bob").unwrap();
    forked.append(b"pay bob").unwrap();
    let first = honest.append(b"pay carol").unwrap();
    let second = forked.append(b"pay dave").unwrap();
    let verifier = honest.verifier();
    let conflict = verifier.detect_conflict(&first, &second).unwrap();
    let decoded = ForkConflict::from_bytes(&conflict.to_bytes()).unwrap();
    assert_eq!(decoded, conflict);
    verifier.verify_conflict(&decoded).unwrap();
    assert!(verifier.detect_conflict(&first, &first).is_none());
    let mut forged = second.clone();
    forged.tree_hash[0] ^= 1;
    assert!(verifier.detect_conflict(&first, &forged).is_none());
    let stranger = writer("stranger", "consensus").verifier();
    assert!(stranger.detect_conflict(&first, &second).is_none());
}

#[test]
fn reopen_after_crash_continues_identically() {
    let keys = Arc::new(CellKeys::from_name("crashy"));
    let tag = JournalTag::named("state");
    let mut uninterrupted = JournalWriter::new(Arc::clone(&keys), tag);
    let mut crashing = JournalWriter::new(Arc::clone(&keys), tag);
    for index in 0..7 {
        uninterrupted.append(&block(0, index, 5)).unwrap();
        crashing.append(&block(0, index, 5)).unwrap();
    }
    let mut storage = crashing.into_storage();
    // The crash hit after a block was stored and before its head was signed.
    storage.append_block(b"never acknowledged").unwrap();
    let mut reopened = JournalWriter::open(Arc::clone(&keys), tag, storage).unwrap();
    assert_eq!(reopened.length(), 7);
    reopened.audit().unwrap();
    for index in 7..12 {
        let expected = uninterrupted.append(&block(0, index, 5)).unwrap();
        assert_eq!(reopened.append(&block(0, index, 5)).unwrap(), expected);
    }
    // Someone else's keys cannot reopen it, nor can another tag.
    let storage = reopened.into_storage();
    assert!(matches!(
        JournalWriter::open(CellKeys::from_name("thief"), tag, storage.clone()),
        Err(JournalError::Signature(_))
    ));
    assert!(matches!(
        JournalWriter::open(
            Arc::clone(&keys),
            JournalTag::named("message"),
            storage.clone()
        ),
        Err(JournalError::CorruptHead { .. })
    ));
    let empty = JournalWriter::open(keys, tag, MemoryStorage::new()).unwrap();
    assert!(empty.is_empty());
}

fn every_signed_length_verifies(journal: &JournalWriter, signed: &[u64]) {
    let verifier = journal.verifier();
    for &length in signed {
        for index in [0, length / 2, length - 1] {
            let proof = journal.block_proof(index, length).unwrap();
            verifier.verify_range(&proof).unwrap();
            let decoded = RangeProof::from_bytes(&proof.to_bytes()).unwrap();
            assert_eq!(decoded, proof);
        }
        let proof = journal.range_proof(0, length.min(64), length).unwrap();
        verifier.verify_range(&proof).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_prefix_verifies_and_upgrades_hold(
        batches in proptest::collection::vec(1usize..6, 1..12),
        block_size in 0usize..50,
    ) {
        let (journal, signed) = build(&batches, block_size);
        every_signed_length_verifies(&journal, &signed);
        let verifier = journal.verifier();
        let total: u64 = (0..journal.length()).map(|i| journal.block(i).unwrap().len() as u64).sum();
        prop_assert_eq!(journal.byte_length().unwrap(), total);
        for &from in &signed {
            let trusted = journal.head_at(from).unwrap().unwrap();
            for &to in signed.iter().filter(|&&to| to >= from) {
                let upgrade = journal.upgrade_proof(from, to).unwrap();
                let decoded = UpgradeProof::from_bytes(&upgrade.to_bytes()).unwrap();
                prop_assert_eq!(&decoded, &upgrade);
                let new_head = verifier.verify_upgrade(&trusted, &decoded).unwrap();
                prop_assert_eq!(new_head.length, to);
            }
            // treeHash(m) never changes as the journal grows.
            prop_assert_eq!(journal.tree_hash_at(from).unwrap(), trusted.tree_hash);
            let peaks = journal.peaks_at(from).unwrap();
            let bytes: u64 = (0..from).map(|i| journal.block(i).unwrap().len() as u64).sum();
            prop_assert_eq!(peaks.iter().map(|peak| peak.size).sum::<u64>(), bytes);
        }
    }

    #[test]
    fn any_changed_byte_fails(
        length in 2u64..40,
        index_seed in any::<u64>(),
        position_seed in any::<u64>(),
        flip in 1u8..=255,
    ) {
        let (journal, _) = build(&[length as usize], 12);
        let index = index_seed % length;
        let proof = journal.block_proof(index, length).unwrap();
        let mut bytes = proof.to_bytes();
        let position = (position_seed % bytes.len() as u64) as usize;
        bytes[position] ^= flip;
        if let Ok(mutated) = RangeProof::from_bytes(&bytes) {
            prop_assert!(journal.verifier().verify_range(&mutated).is_err());
        }
        let upgrade = journal.upgrade_proof(index, length).unwrap();
        let trusted_tree = journal.tree_hash_at(index).unwrap();
        let trusted = SignedHead { tree_hash: trusted_tree, length: index, ..upgrade.head.clone() };
        let mut bytes = upgrade.to_bytes();
        let position = (position_seed % bytes.len() as u64) as usize;
        bytes[position] ^= flip;
        if let Ok(mutated) = UpgradeProof::from_bytes(&bytes) {
            prop_assert!(journal.verifier().verify_upgrade(&trusted, &mutated).is_err());
        }
    }

    #[test]
    fn proofs_fail_against_another_key(length in 1u64..30, index_seed in any::<u64>()) {
        let (journal, _) = build(&[length as usize], 8);
        let proof = journal.block_proof(index_seed % length, length).unwrap();
        let other = JournalVerifier::new(*CellKeys::from_name("other").public(), journal.tag());
        prop_assert_eq!(other.verify_range(&proof), Err(VerifyError::BadSignature));
    }

    #[test]
    fn truncate_then_append_is_a_new_fork(
        length in 2u64..30,
        cut_seed in any::<u64>(),
        regrow in 1u64..40,
    ) {
        let (mut journal, _) = build(&[length as usize], 8);
        let old_head = journal.head().unwrap().unwrap();
        let cut = cut_seed % length;
        let old_proof = journal.block_proof(cut, length).unwrap();
        let prefix_tree = journal.tree_hash_at(cut).unwrap();
        let truncated = journal.truncate(cut).unwrap();
        prop_assert_eq!(truncated.fork, old_head.fork + 1);
        prop_assert_eq!(journal.tree_hash_at(cut).unwrap(), prefix_tree);
        for index in cut..cut + regrow {
            journal.append(&block(1, index, 8)).unwrap();
        }
        let new_head = journal.head().unwrap().unwrap();
        prop_assert_eq!(new_head.fork, truncated.fork);
        prop_assert_ne!(new_head.tree_hash, old_head.tree_hash);
        let verifier = journal.verifier();
        let signed: Vec<u64> = (cut + 1..=cut + regrow).collect();
        every_signed_length_verifies(&journal, &signed);
        // The old proof of a block past the cut fails against the new head
        // signed at the same length.
        if let Some(same_length) = journal.head_at(length).ok().flatten() {
            prop_assert_eq!(same_length.fork, truncated.fork);
            let moved = RangeProof { head: same_length, ..old_proof };
            prop_assert_eq!(verifier.verify_range(&moved), Err(VerifyError::TreeHashMismatch));
        }
        journal.audit().unwrap();
    }

    #[test]
    fn same_operations_same_bytes(batches in proptest::collection::vec(1usize..5, 1..8)) {
        let (first, _) = build(&batches, 7);
        let (second, _) = build(&batches, 7);
        prop_assert_eq!(first.storage().heads(), second.storage().heads());
    }

    #[test]
    fn hostile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let verifier = writer("hostile", "message").verifier();
        if let Ok(proof) = RangeProof::from_bytes(&bytes) {
            let _ = verifier.verify_range(&proof);
        }
        if let Ok(proof) = UpgradeProof::from_bytes(&bytes) {
            let trusted = proof.head.clone();
            let _ = verifier.verify_upgrade(&trusted, &proof);
        }
        if let Ok(conflict) = ForkConflict::from_bytes(&bytes) {
            let _ = verifier.verify_conflict(&conflict);
        }
    }

    #[test]
    fn mutated_proofs_never_panic(
        length in 1u64..20,
        edits in proptest::collection::vec((any::<u64>(), any::<u8>()), 1..8),
        cut in any::<u64>(),
    ) {
        let (journal, _) = build(&[length as usize], 4);
        let verifier = journal.verifier();
        let encodings = [
            journal.range_proof(0, length, length).unwrap().to_bytes(),
            journal.upgrade_proof(length / 2, length).unwrap().to_bytes(),
        ];
        for mut bytes in encodings {
            for &(position, value) in &edits {
                let position = (position % bytes.len() as u64) as usize;
                bytes[position] = value;
            }
            bytes.truncate((cut % (bytes.len() as u64 + 1)) as usize);
            if let Ok(proof) = RangeProof::from_bytes(&bytes) {
                let _ = verifier.verify_range(&proof);
            }
            if let Ok(proof) = UpgradeProof::from_bytes(&bytes) {
                let trusted = proof.head.clone();
                let _ = verifier.verify_upgrade(&trusted, &proof);
            }
        }
    }
}

#[test]
fn audit_finds_tampered_storage() {
    let (journal, _) = build(&[6], 4);
    let mut storage = journal.into_storage();
    // A leaf that no longer hashes its block, below the peaks `open` checks.
    let mut leaf = storage.node(2).unwrap().unwrap();
    leaf.hash[0] ^= 1;
    storage.put_node(leaf).unwrap();
    let key = *CellKeys::from_name("builder").public();
    let reopened = Journal::open(storage, key, JournalTag::named("state")).unwrap();
    assert!(matches!(
        reopened.audit(),
        Err(JournalError::CorruptHead { .. })
    ));
    // A tampered peak is caught on open already.
    let (journal, _) = build(&[6], 4);
    let mut storage = journal.into_storage();
    let mut peak = storage.node(3).unwrap().unwrap();
    peak.size += 1;
    storage.put_node(peak).unwrap();
    assert!(matches!(
        Journal::open(storage, key, JournalTag::named("state")),
        Err(JournalError::CorruptHead { .. })
    ));
}

#[test]
fn memory_per_block_stays_linear() {
    let mut journal = writer("memory", "message");
    let block = [9u8; 200];
    for _ in 0..1000 {
        journal.append(&block).unwrap();
    }
    // Per block: its bytes, its end offset, two node slots, one signed head;
    // vectors grow by doubling, so at most twice that.
    let per_block = 200 + 8 + 2 * 48 + size_of::<SignedHead>();
    let heap = journal.storage().heap_bytes();
    assert!(heap <= 2 * 1000 * per_block, "{heap} bytes for 1000 blocks");
}
