/*
 * pdf_font.c - a TrueType font (DejaVuSans) for the visible signature stamp, embedded
 * as a subset so Vietnamese text keeps its diacritics. See pdf_font.h.
 *
 * The subset keeps glyph ids (CIDToGIDMap /Identity, Identity-H encoding: CID = GID):
 * glyphs not used are emptied in glyf/loca (components of used composite glyphs are
 * kept), and only the tables a PDF TrueType font program needs are written.
 */
#include "base/common.h"
#include "signing/pdf_font.h"

#include <pthread.h>

#define FONT_PATH "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

typedef struct table {
  uint32_t tag, off, len;
} table_t;

struct pdf_font {
  uint8_t *data;
  size_t len;
  table_t tables[32];
  int ntables;
  uint16_t nglyphs, units_per_em, nhmetrics;
  int16_t bbox[4], ascent, descent;
  bool long_loca;
};

static pdf_font_t *g_font;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t u32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static const table_t *find(const pdf_font_t *f, const char *tag) {
  uint32_t t = u32((const uint8_t *)tag);
  for (int i = 0; i < f->ntables; i++)
    if (f->tables[i].tag == t) return &f->tables[i];
  return NULL;
}

static void load(void) {
  FILE *fp = fopen(getenv("CITYOS_STAMP_FONT") ? getenv("CITYOS_STAMP_FONT") : FONT_PATH, "rb");
  if (!fp) return;
  pdf_font_t *f = calloc(1, sizeof *f);
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  if (!f || n < 12 || n > (16 << 20) || !(f->data = malloc((size_t)n)) || fread(f->data, 1, (size_t)n, fp) != (size_t)n) goto fail;
  f->len = (size_t)n;
  int nt = u16(f->data + 4);
  if (nt > 32 || 12 + (size_t)nt * 16 > f->len) goto fail;
  for (int i = 0; i < nt; i++) {
    const uint8_t *r = f->data + 12 + i * 16;
    table_t t = {u32(r), u32(r + 8), u32(r + 12)};
    if (t.off > f->len || t.len > f->len - t.off) goto fail;
    f->tables[f->ntables++] = t;
  }
  const table_t *head = find(f, "head"), *hhea = find(f, "hhea"), *maxp = find(f, "maxp");
  if (!head || !hhea || !maxp || !find(f, "glyf") || !find(f, "loca") || !find(f, "hmtx") || !find(f, "cmap") ||
      head->len < 54 || hhea->len < 36 || maxp->len < 6)
    goto fail;
  const uint8_t *h = f->data + head->off;
  f->units_per_em = u16(h + 18);
  for (int k = 0; k < 4; k++) f->bbox[k] = (int16_t)u16(h + 36 + 2 * k);
  f->long_loca = u16(h + 50) == 1;
  f->ascent = (int16_t)u16(f->data + hhea->off + 4);
  f->descent = (int16_t)u16(f->data + hhea->off + 6);
  f->nhmetrics = u16(f->data + hhea->off + 34);
  f->nglyphs = u16(f->data + maxp->off + 4);
  if (!f->units_per_em || !f->nhmetrics) goto fail;
  fclose(fp);
  g_font = f;
  return;
fail:
  fclose(fp);
  if (f) free(f->data);
  free(f);
}

const pdf_font_t *pdf_font_get(void) {
  pthread_once(&g_once, load);
  return g_font;
}

uint16_t pdf_font_glyph(const pdf_font_t *f, uint32_t cp) {
  if (cp > 0xFFFF) return 0;
  const table_t *c = find(f, "cmap");
  const uint8_t *p = f->data + c->off;
  if (c->len < 4) return 0;
  int n = u16(p + 2);
  for (int i = 0; i < n && 4 + (size_t)i * 8 + 8 <= c->len; i++) {
    const uint8_t *rec = p + 4 + i * 8;
    uint16_t plat = u16(rec), enc = u16(rec + 2);
    uint32_t off = u32(rec + 4);
    if (!((plat == 3 && enc == 1) || plat == 0) || off + 14 > c->len) continue;
    const uint8_t *s = p + off;
    if (u16(s) != 4) continue;
    uint16_t segx2 = u16(s + 6);
    if (off + 16 + (size_t)segx2 * 4 > c->len) continue;
    const uint8_t *ends = s + 14, *starts = ends + segx2 + 2, *deltas = starts + segx2, *ranges = deltas + segx2;
    for (int k = 0; k < segx2 / 2; k++) {
      uint16_t end = u16(ends + 2 * k), start = u16(starts + 2 * k);
      if (cp > end) continue;
      if (cp < start) return 0;
      uint16_t delta = u16(deltas + 2 * k), ro = u16(ranges + 2 * k);
      if (ro == 0) return (uint16_t)(cp + delta);
      size_t gpos = (size_t)(ranges + 2 * k - f->data) + ro + 2 * (cp - start);
      if (gpos + 2 > f->len) return 0;
      uint16_t g = u16(f->data + gpos);
      return g ? (uint16_t)(g + delta) : 0;
    }
  }
  return 0;
}

int pdf_font_width(const pdf_font_t *f, uint16_t gid) {
  const table_t *hm = find(f, "hmtx");
  uint16_t i = gid < f->nhmetrics ? gid : (uint16_t)(f->nhmetrics - 1);
  if ((size_t)i * 4 + 2 > hm->len) return 500;
  return (int)((long)u16(f->data + hm->off + i * 4) * 1000 / f->units_per_em);
}

void pdf_font_metrics(const pdf_font_t *f, int bbox[4], int *ascent, int *descent) {
  for (int k = 0; k < 4; k++) bbox[k] = (int)((long)f->bbox[k] * 1000 / f->units_per_em);
  *ascent = (int)((long)f->ascent * 1000 / f->units_per_em);
  *descent = (int)((long)f->descent * 1000 / f->units_per_em);
}

static bool glyph_span(const pdf_font_t *f, uint16_t g, uint32_t *off, uint32_t *len) {
  const table_t *loca = find(f, "loca"), *glyf = find(f, "glyf");
  size_t need = f->long_loca ? ((size_t)g + 2) * 4 : ((size_t)g + 2) * 2;
  if (g >= f->nglyphs || need > loca->len) return false;
  const uint8_t *l = f->data + loca->off;
  uint32_t a = f->long_loca ? u32(l + 4 * g) : 2u * u16(l + 2 * g);
  uint32_t b = f->long_loca ? u32(l + 4 * (g + 1)) : 2u * u16(l + 2 * (g + 1));
  if (b < a || b > glyf->len) return false;
  *off = glyf->off + a;
  *len = b - a;
  return true;
}

/* Marks g and, for composite glyphs, its components. */
static void mark(const pdf_font_t *f, uint8_t *used, uint16_t g, int depth) {
  uint32_t off, len;
  if (depth > 8 || g >= f->nglyphs || used[g] || !glyph_span(f, g, &off, &len)) return;
  used[g] = 1;
  if (len < 10 || (int16_t)u16(f->data + off) >= 0) return;
  size_t p = off + 10, end = off + len;
  for (;;) {
    if (p + 4 > end) return;
    uint16_t flags = u16(f->data + p), comp = u16(f->data + p + 2);
    mark(f, used, comp, depth + 1);
    p += 4 + ((flags & 1) ? 4 : 2) + ((flags & 8) ? 2 : (flags & 0x40) ? 4 : (flags & 0x80) ? 8 : 0);
    if (!(flags & 0x20)) return;
  }
}

static int put32(buf_t *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  return buf_append(b, x, 4);
}

static uint32_t checksum(const uint8_t *p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i < n; i += 4) {
    uint8_t w[4] = {0, 0, 0, 0};
    memcpy(w, p + i, n - i < 4 ? n - i : 4);
    s += u32(w);
  }
  return s;
}

int pdf_font_subset(const pdf_font_t *f, const uint16_t *gids, size_t n, buf_t *out) {
  static const char *const KEEP[] = {"cvt ", "fpgm", "glyf", "head", "hhea", "hmtx", "loca", "maxp", "prep"};
  uint8_t *used = calloc(f->nglyphs, 1);
  buf_t glyf, loca;
  buf_init(&glyf, 16 << 20);
  buf_init(&loca, 1 << 20);
  int rc = -1;
  if (!used) goto done;
  mark(f, used, 0, 0);   /* .notdef */
  for (size_t i = 0; i < n; i++) mark(f, used, gids[i], 0);
  for (uint32_t g = 0; g <= f->nglyphs; g++) {
    if (put32(&loca, (uint32_t)glyf.len) < 0) goto done;
    uint32_t off, len;
    if (g < f->nglyphs && used[g] && glyph_span(f, (uint16_t)g, &off, &len) && len) {
      if (buf_append(&glyf, f->data + off, len) < 0) goto done;
      while (glyf.len % 4 && buf_append(&glyf, "", 1) == 0) {
      }
    }
  }
  /* the tables, in tag order (KEEP is sorted) */
  const uint8_t *bodies[ARRAY_LEN(KEEP)];
  size_t lens[ARRAY_LEN(KEEP)], nt = 0;
  uint8_t head[54];
  for (size_t k = 0; k < ARRAY_LEN(KEEP); k++) {
    const table_t *t = find(f, KEEP[k]);
    if (!t) continue;
    if (strcmp(KEEP[k], "glyf") == 0) {
      bodies[nt] = (const uint8_t *)glyf.data;
      lens[nt++] = glyf.len;
    } else if (strcmp(KEEP[k], "loca") == 0) {
      bodies[nt] = (const uint8_t *)loca.data;
      lens[nt++] = loca.len;
    } else if (strcmp(KEEP[k], "head") == 0) {
      memcpy(head, f->data + t->off, sizeof head);
      memset(head + 8, 0, 4);   /* checkSumAdjustment */
      head[50] = 0;
      head[51] = 1;             /* long loca */
      bodies[nt] = head;
      lens[nt++] = sizeof head;
    } else {
      bodies[nt] = f->data + t->off;
      lens[nt++] = t->len;
    }
  }
  uint16_t es = 0;
  while ((2u << es) <= nt) es++;
  uint16_t sr = (uint16_t)((1u << es) * 16);
  uint8_t hdr[12] = {0, 1, 0, 0, (uint8_t)(nt >> 8), (uint8_t)nt, (uint8_t)(sr >> 8), (uint8_t)sr, 0, (uint8_t)es,
                     (uint8_t)((nt * 16 - sr) >> 8), (uint8_t)(nt * 16 - sr)};
  if (buf_append(out, hdr, 12) < 0) goto done;
  size_t off = 12 + nt * 16;
  size_t ki = 0;
  for (size_t k = 0; k < ARRAY_LEN(KEEP) && ki < nt; k++) {
    if (!find(f, KEEP[k])) continue;
    if (buf_append(out, KEEP[k], 4) < 0 || put32(out, checksum(bodies[ki], lens[ki])) < 0 || put32(out, (uint32_t)off) < 0 ||
        put32(out, (uint32_t)lens[ki]) < 0)
      goto done;
    off += (lens[ki] + 3) & ~(size_t)3;
    ki++;
  }
  for (size_t k = 0; k < nt; k++) {
    if (buf_append(out, bodies[k], lens[k]) < 0) goto done;
    while (out->len % 4 && buf_append(out, "", 1) == 0) {
    }
  }
  rc = 0;
done:
  free(used);
  buf_release(&glyf);
  buf_release(&loca);
  return rc;
}
