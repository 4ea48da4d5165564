/*
 * pdf.h - the PDF reading shared by the PAdES signer and verifier (and fuzzed).
 *
 * pdf_open() indexes a whole file held in memory: it follows startxref and the /Prev
 * chain through classic xref tables and xref streams (PDF 1.5, /W widths, /Index,
 * FlateDecode with PNG predictors), records each revision (incremental update) with
 * the objects it defines, and keeps the newest trailer. Objects are parsed lazily
 * (pdf_get), including objects stored in object streams. Everything is allocated in
 * the caller's arena; the input bytes must outlive the document.
 *
 * Limits (hostile input): nesting depth 64, 1,000,000 objects, 4096 revisions,
 * decompressed streams 64 MiB. Errors give NULL / -1 with a reason in `err`.
 */
#ifndef CITYOS_SIGNING_PDF_H
#define CITYOS_SIGNING_PDF_H

#include "base/common.h"
#include "base/arena.h"
#include "base/buf.h"

typedef enum {
  PDF_NULL = 0, PDF_BOOL, PDF_INT, PDF_REAL, PDF_STRING, PDF_NAME, PDF_ARRAY, PDF_DICT,
  PDF_REF, PDF_STREAM
} pdf_type_t;

typedef struct pdf_obj pdf_obj_t;
struct pdf_obj {
  pdf_type_t type;
  bool hex;               /* PDF_STRING written as <...> */
  int64_t i;              /* PDF_INT, PDF_BOOL; PDF_REF: object number */
  int gen;                /* PDF_REF generation */
  double r;               /* PDF_REAL */
  char *s;                /* PDF_STRING (decoded bytes), PDF_NAME (without '/') */
  size_t slen;
  size_t n;               /* PDF_ARRAY / PDF_DICT / PDF_STREAM (its dictionary) items */
  char **keys;            /* PDF_DICT, PDF_STREAM */
  pdf_obj_t **items;
  size_t start, end;      /* byte span of the token in the file (strings: '<' to after '>') */
  const uint8_t *sdata;   /* PDF_STREAM raw (still encoded) data */
  size_t sdata_len;
};

typedef struct pdf_xref_entry {
  uint8_t type;           /* 0 free / absent, 1 at offset, 2 in object stream */
  int gen;
  size_t offset;          /* type 1: byte offset; type 2: number of the object stream */
  size_t index;           /* type 2: index inside the object stream */
  int revision;           /* which revision (0 = oldest) defines it */
} pdf_xref_entry_t;

typedef struct pdf_revision {
  size_t xref_offset;     /* where its xref table/stream starts */
  size_t end;             /* end of the revision: after its %%EOF line (or the file end) */
  int *objs;              /* objects (re)defined by this revision */
  size_t nobjs;
  bool xref_stream;
} pdf_revision_t;

typedef struct pdf_doc {
  arena_t *arena;
  const uint8_t *data;
  size_t len;
  pdf_xref_entry_t *xref;
  size_t xref_n;          /* entries: object numbers 0..xref_n-1 */
  pdf_obj_t **cache;      /* parsed objects */
  pdf_obj_t *trailer;     /* newest trailer dictionary (xref stream dict for PDF 1.5) */
  pdf_revision_t *revs;   /* oldest first */
  size_t nrevs;
  size_t last_xref;       /* startxref of the newest revision */
  bool any_xref_stream;
  uint8_t **objstm;       /* decoded object streams, by object number (lazy) */
  size_t *objstm_len;
  size_t budget;          /* decoded bytes still allowed (hostile input) */
} pdf_doc_t;

pdf_doc_t *pdf_open(arena_t *a, const uint8_t *data, size_t len, char *err, size_t errlen);

/* The object `num` (its value, or a PDF_STREAM), NULL when absent or unparsable. */
pdf_obj_t *pdf_get(pdf_doc_t *d, int num);
/* Follows references (a few levels). NULL stays NULL. */
pdf_obj_t *pdf_resolve(pdf_doc_t *d, pdf_obj_t *o);
/* Value of `key` in a dictionary or stream dictionary (not resolved); NULL if absent. */
pdf_obj_t *pdf_dict_get(const pdf_obj_t *dict, const char *key);
/* Resolved value of `key`. */
pdf_obj_t *pdf_dict_getr(pdf_doc_t *d, const pdf_obj_t *dict, const char *key);
bool pdf_name_is(const pdf_obj_t *o, const char *name);
bool pdf_int_of(const pdf_obj_t *o, int64_t *out);
/* Decoded data of a stream (no filter or FlateDecode, with PNG/TIFF predictors);
 * allocated in the arena. -1 on unsupported filters or corrupt data. */
int pdf_stream_decode(pdf_doc_t *d, const pdf_obj_t *stream, uint8_t **out, size_t *outlen);
/* Page `index` (0-based) of the page tree: its object number, or -1. `count` gets the
 * number of pages when not NULL. */
int pdf_page_ref(pdf_doc_t *d, int index, int *count);

/* Parses one object value from text (tests, the signer's own templates). */
pdf_obj_t *pdf_parse_value(arena_t *a, const uint8_t *data, size_t len, size_t *pos, int depth);

/* Serialises a value (strings as hex unless printable ASCII). 0 or -1 (buffer cap). */
int pdf_write_obj(buf_t *b, const pdf_obj_t *o);

/* Builders for the signer (arena-allocated). */
pdf_obj_t *pdf_new(arena_t *a, pdf_type_t t);
pdf_obj_t *pdf_new_ref(arena_t *a, int num);
pdf_obj_t *pdf_new_name(arena_t *a, const char *name);
/* Copy of a dictionary/array (shallow: the items are shared) with room to add. */
pdf_obj_t *pdf_copy(arena_t *a, const pdf_obj_t *o, size_t extra);
/* Sets key in a dictionary (replaces or appends; the dict must have room, or it grows). */
void pdf_dict_set(arena_t *a, pdf_obj_t *dict, const char *key, pdf_obj_t *v);
void pdf_array_push(arena_t *a, pdf_obj_t *arr, pdf_obj_t *v);

/* Minimal RFC 1950/1951 inflate (zlib wrapper optional). 0 or -1; output capped. */
int pdf_inflate(const uint8_t *in, size_t inlen, buf_t *out);

#endif
