-- The audit log's tree nodes, keyed by their post-order position (core::audit::merkle::postorder)
-- instead of (level, idx). Appends complete nodes in post-order, so each batch's nodes now go
-- at the end of one index: keyed by (level, idx), every commit rewrote the last page of each
-- level's run (about twenty pages for a million events), most of what an audited read wrote.
-- The position of the node over leaves [idx << level, (idx + 1) << level) is
-- 2 * first - popcount(first) + 2^(level + 1) - 2 with first = idx << level; popcount(idx) is
-- popcount(first), spelled out bit by bit (SQLite has no popcount).
CREATE TABLE audit_tree (
    pos   INTEGER PRIMARY KEY,
    hash  BLOB NOT NULL
);

INSERT INTO audit_tree (pos, hash)
SELECT 2 * (idx << level) - (
        ((idx >> 0) & 1) + ((idx >> 1) & 1) + ((idx >> 2) & 1) + ((idx >> 3) & 1) + ((idx >> 4) & 1) + ((idx >> 5) & 1) +
        ((idx >> 6) & 1) + ((idx >> 7) & 1) + ((idx >> 8) & 1) + ((idx >> 9) & 1) + ((idx >> 10) & 1) + ((idx >> 11) & 1) +
        ((idx >> 12) & 1) + ((idx >> 13) & 1) + ((idx >> 14) & 1) + ((idx >> 15) & 1) + ((idx >> 16) & 1) + ((idx >> 17) & 1) +
        ((idx >> 18) & 1) + ((idx >> 19) & 1) + ((idx >> 20) & 1) + ((idx >> 21) & 1) + ((idx >> 22) & 1) + ((idx >> 23) & 1) +
        ((idx >> 24) & 1) + ((idx >> 25) & 1) + ((idx >> 26) & 1) + ((idx >> 27) & 1) + ((idx >> 28) & 1) + ((idx >> 29) & 1) +
        ((idx >> 30) & 1) + ((idx >> 31) & 1) + ((idx >> 32) & 1) + ((idx >> 33) & 1) + ((idx >> 34) & 1) + ((idx >> 35) & 1) +
        ((idx >> 36) & 1) + ((idx >> 37) & 1) + ((idx >> 38) & 1) + ((idx >> 39) & 1) + ((idx >> 40) & 1) + ((idx >> 41) & 1) +
        ((idx >> 42) & 1) + ((idx >> 43) & 1) + ((idx >> 44) & 1) + ((idx >> 45) & 1) + ((idx >> 46) & 1) + ((idx >> 47) & 1) +
        ((idx >> 48) & 1) + ((idx >> 49) & 1) + ((idx >> 50) & 1) + ((idx >> 51) & 1) + ((idx >> 52) & 1) + ((idx >> 53) & 1) +
        ((idx >> 54) & 1) + ((idx >> 55) & 1) + ((idx >> 56) & 1) + ((idx >> 57) & 1) + ((idx >> 58) & 1) + ((idx >> 59) & 1) +
        ((idx >> 60) & 1) + ((idx >> 61) & 1) + ((idx >> 62) & 1)
    ) + (2 << level) - 2, hash
FROM audit_nodes ORDER BY 1;

DROP TABLE audit_nodes;
