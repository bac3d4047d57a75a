/* Walks tree-sitter's subtrees directly to list a tree's visible nodes. A TSTreeCursor gives the
 * same nodes, but each of its steps costs several hundred instructions (it recomputes positions,
 * aliases and visibility through function calls); the index is built for every file that is
 * checked, so this walk does the same bookkeeping inline, once per subtree. It follows
 * tree_cursor.c of the pinned tree-sitter version: which children are visible (their own flag or
 * an alias of the parent's production), where each starts (padding belongs to the first leaf),
 * and which field a visible node is held in (the first non-inherited field-map entry for it or,
 * when there is none, for the hidden ancestors between it and its visible parent). The tests
 * compare the result with the cursor's on every fixture. */
#include "ts_index.h"

#include <stdlib.h>

#include "./language.h"
#include "./subtree.h"
#include "./tree.h"

typedef struct {
  Subtree subtree;           /* whose children are walked */
  uint32_t child_index;      /* next child to visit */
  uint32_t structural_index; /* index among the non-extra children, for aliases and fields */
  uint32_t position;         /* byte where the previous child ended (or the subtree starts) */
  const TSSymbol* aliases;
  const TSFieldMapEntry *fields, *fields_end;
  TSFieldId inherited; /* for a hidden subtree: the field its visible descendants take when their
                          own level names none */
  bool hidden;
} Frame;

typedef struct {
  uint32_t index;      /* a visible node with children */
  uint32_t last_child; /* its latest visible child so far, or UINT32_MAX */
} Open;

static inline uint8_t flags_of(Subtree s, bool named, TSSymbol symbol) {
  return (uint8_t)((named ? OOMLINT_NODE_NAMED : 0) |
                   (symbol == ts_builtin_sym_error ? OOMLINT_NODE_ERROR : 0) |
                   (ts_subtree_missing(s) ? OOMLINT_NODE_MISSING : 0) |
                   (ts_subtree_error_cost(s) > 0 ? OOMLINT_NODE_HAS_ERROR : 0));
}

/* Fills the frame of a subtree with children in place (frames are pushed for most nodes). */
static inline void frame_of(Frame* f, const TSLanguage* lang, Subtree s, uint32_t start,
                            bool hidden, TSFieldId inherited) {
  f->subtree = s;
  f->child_index = 0;
  f->structural_index = 0;
  f->position = start;
  f->hidden = hidden;
  f->inherited = inherited;
  f->aliases = ts_language_alias_sequence(lang, s.ptr->production_id);
  ts_language_field_map(lang, s.ptr->production_id, &f->fields, &f->fields_end);
}

/* ts_language_public_symbol(), inline: it runs for every visible node. */
static inline TSSymbol public_symbol(const TSLanguage* lang, TSSymbol symbol) {
  return symbol == ts_builtin_sym_error ? symbol : lang->public_symbol_map[symbol];
}

/* A growable array of T; returns false when it cannot grow. */
#define GROW(ptr, size, cap)                                                                       \
  ((size) < (cap) ||                                                                               \
   ((cap) = (cap) ? (cap)*2 : 64,                                                                  \
    (tmp = realloc((ptr), (cap) * sizeof(*(ptr)))) != NULL ? ((ptr) = tmp, true) : false))

size_t oomlint_ts_index(const TSTree* tree, OomlintNodeRecord* out, size_t capacity) {
  if (!tree || capacity == 0) return SIZE_MAX;
  const TSLanguage* lang = tree->language;
  Subtree root = tree->root;
  OomlintNodeRecord* r = &out[0];
  *r = (OomlintNodeRecord){0};
  r->start = ts_subtree_padding(root).bytes;
  r->end = r->start + ts_subtree_size(root).bytes;
  r->symbol = public_symbol(lang, ts_subtree_symbol(root));
  r->flags = flags_of(root, ts_subtree_named(root), r->symbol);
  size_t n = 1;
  if (ts_subtree_child_count(root) == 0) return n;

  /* The subtree being walked (`f`, with its children) and the innermost open visible node (`o`)
   * are locals, which the compiler keeps in registers: were they read through a pointer into
   * their stacks, every record written to `out` could alias them and force them to be read
   * again. The stacks hold the frames and open nodes around them. */
  Frame* frames = NULL;
  Open* open = NULL;
  size_t frames_size = 0, frames_cap = 0, open_size = 0, open_cap = 0;
  void* tmp;
  bool ok = true;
  Frame f;
  frame_of(&f, lang, root, r->start, false, 0);
  const Subtree* children = ts_subtree_children(root);
  uint32_t count = ts_subtree_child_count(root);
  Open o = {0, UINT32_MAX};
  for (;;) {
    if (f.child_index == count) {
      if (frames_size == 0) break; /* the root's children are done */
      if (!f.hidden) o = open[--open_size];
      f = frames[--frames_size];
      children = ts_subtree_children(f.subtree);
      count = ts_subtree_child_count(f.subtree);
      continue;
    }
    Subtree c = children[f.child_index];
    if (f.child_index > 0) f.position += ts_subtree_padding(c).bytes;
    uint32_t start = f.position;
    f.position = start + ts_subtree_size(c).bytes;
    f.child_index++;
    bool extra = ts_subtree_extra(c);
    TSSymbol alias = 0;
    uint32_t structural = 0;
    if (!extra) {
      structural = f.structural_index++;
      if (f.aliases) alias = f.aliases[structural];
    }
    bool has_children = ts_subtree_child_count(c) > 0;
    bool visible = alias || ts_subtree_visible(c);
    /* An invisible leaf is not listed and holds nothing that is: its field does not matter. */
    if (!visible && !has_children) continue;
    TSFieldId field = 0;
    if (!extra) {
      for (const TSFieldMapEntry* m = f.fields; m < f.fields_end; m++) {
        if (!m->inherited && m->child_index == structural) {
          field = m->field_id;
          break;
        }
      }
      if (!field && f.hidden) field = f.inherited;
    }
    if (!visible) {
      if (!GROW(frames, frames_size, frames_cap)) {
        ok = false;
        break;
      }
      frames[frames_size++] = f;
      frame_of(&f, lang, c, start, true, field);
      children = ts_subtree_children(c);
      count = ts_subtree_child_count(c);
      continue;
    }
    if (n >= capacity) {
      ok = false;
      break;
    }
    uint32_t i = (uint32_t)n++;
    r = &out[i];
    *r = (OomlintNodeRecord){0};
    r->start = start;
    r->end = f.position;
    r->symbol = public_symbol(lang, alias ? alias : ts_subtree_symbol(c));
    bool named = alias ? ts_language_symbol_metadata(lang, alias).named : ts_subtree_named(c);
    r->flags = flags_of(c, named, r->symbol);
    r->field = field;
    r->parent = i - o.index;
    out[o.index].child_count++;
    if (named) out[o.index].named_child_count++;
    if (o.last_child != UINT32_MAX) {
      out[o.last_child].next = i - o.last_child;
      r->prev = i - o.last_child;
    }
    o.last_child = i;
    if (has_children) {
      if (!GROW(frames, frames_size, frames_cap) || !GROW(open, open_size, open_cap)) {
        ok = false;
        break;
      }
      frames[frames_size++] = f;
      open[open_size++] = o;
      frame_of(&f, lang, c, start, false, 0);
      children = ts_subtree_children(c);
      count = ts_subtree_child_count(c);
      o = (Open){i, UINT32_MAX};
    }
  }
  free(frames);
  free(open);
  return ok ? n : SIZE_MAX;
}
