/* The flat index of a tree's visible nodes (see ts.h): the record, and the C walk that fills it
 * from tree-sitter's own subtrees. */
#ifndef OOMLINT_TS_INDEX_H
#define OOMLINT_TS_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <tree_sitter/api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One visible node. The index lists the nodes depth-first in preorder, so a node's first child
 * is the record right after it; the links are distances within the index. */
typedef struct OomlintNodeRecord {
  uint32_t start, end;                     /* byte offsets */
  uint32_t parent;                         /* back to the parent; 0 at the root */
  uint32_t next;                           /* forward to the next sibling; 0 for the last */
  uint32_t prev;                           /* back to the previous sibling; 0 for the first */
  uint32_t child_count, named_child_count; /* visible children, as ts_node_child_count() */
  TSSymbol symbol;                         /* as ts_node_symbol() (aliases applied) */
  TSFieldId field;                         /* the parent's field holding it (as the cursor), 0 */
  uint8_t flags;                           /* OOMLINT_NODE_* */
} OomlintNodeRecord;

enum {
  OOMLINT_NODE_NAMED = 1,
  OOMLINT_NODE_ERROR = 2,
  OOMLINT_NODE_MISSING = 4,
  OOMLINT_NODE_HAS_ERROR = 8,
};

/* Fills out[0..capacity) with the visible nodes of `tree` (ts_node_descendant_count() of the
 * root is their number) and returns how many it wrote; it never writes past `capacity`, and
 * returns SIZE_MAX if the tree has more nodes than that or its walk cannot allocate. */
size_t oomlint_ts_index(const TSTree* tree, OomlintNodeRecord* out, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
