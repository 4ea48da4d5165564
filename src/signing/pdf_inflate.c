/*
 * pdf_inflate.c - a small DEFLATE decoder (after zlib's contrib/puff by Mark Adler) for
 * FlateDecode streams in PDFs (xref and object streams). Bounds-checked throughout;
 * the output is capped by the buf_t. A zlib header, when present, is skipped; the
 * Adler-32 trailer is not checked (PDF writers often get it wrong).
 */
#include "base/common.h"
#include "signing/pdf.h"

#define MAXBITS 15
#define MAXLCODES 286
#define MAXDCODES 30
#define FIXLCODES 288

typedef struct {
  const uint8_t *in;
  size_t inlen, incnt;
  int bitbuf, bitcnt;
  buf_t *out;
  bool fail;
} inf_state_t;

typedef struct {
  short *count;
  short *symbol;
} huffman_t;

static int bits(inf_state_t *s, int need) {
  long val = s->bitbuf;
  while (s->bitcnt < need) {
    if (s->incnt >= s->inlen) {
      s->fail = true;
      return 0;
    }
    val |= (long)(s->in[s->incnt++]) << s->bitcnt;
    s->bitcnt += 8;
  }
  s->bitbuf = (int)(val >> need);
  s->bitcnt -= need;
  return (int)(val & ((1L << need) - 1));
}

static int stored(inf_state_t *s) {
  s->bitbuf = 0;
  s->bitcnt = 0;
  if (s->incnt + 4 > s->inlen) return -1;
  unsigned len = s->in[s->incnt] | (s->in[s->incnt + 1] << 8);
  unsigned nlen = s->in[s->incnt + 2] | (s->in[s->incnt + 3] << 8);
  s->incnt += 4;
  if (len != (~nlen & 0xffff) || s->incnt + len > s->inlen) return -1;
  if (buf_append(s->out, s->in + s->incnt, len) < 0) return -1;
  s->incnt += len;
  return 0;
}

static int decode(inf_state_t *s, const huffman_t *h) {
  int code = 0, first = 0, index = 0;
  for (int len = 1; len <= MAXBITS; len++) {
    code |= bits(s, 1);
    if (s->fail) return -1;
    int count = h->count[len];
    if (code - count < first) return h->symbol[index + (code - first)];
    index += count;
    first += count;
    first <<= 1;
    code <<= 1;
  }
  return -1;
}

static int construct(huffman_t *h, const short *length, int n) {
  short offs[MAXBITS + 1];
  for (int len = 0; len <= MAXBITS; len++) h->count[len] = 0;
  for (int sym = 0; sym < n; sym++) h->count[length[sym]]++;
  if (h->count[0] == n) return 0;
  int left = 1;
  for (int len = 1; len <= MAXBITS; len++) {
    left <<= 1;
    left -= h->count[len];
    if (left < 0) return left;
  }
  offs[1] = 0;
  for (int len = 1; len < MAXBITS; len++) offs[len + 1] = (short)(offs[len] + h->count[len]);
  for (int sym = 0; sym < n; sym++)
    if (length[sym] != 0) h->symbol[offs[length[sym]]++] = (short)sym;
  return left;
}

static const short LBASE[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const short LEXT[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const short DBASE[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const short DEXT[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static int codes(inf_state_t *s, const huffman_t *lencode, const huffman_t *distcode) {
  int symbol;
  do {
    symbol = decode(s, lencode);
    if (symbol < 0) return -1;
    if (symbol < 256) {
      uint8_t c = (uint8_t)symbol;
      if (buf_append(s->out, &c, 1) < 0) return -1;
    } else if (symbol > 256) {
      symbol -= 257;
      if (symbol >= 29) return -1;
      int len = LBASE[symbol] + bits(s, LEXT[symbol]);
      symbol = decode(s, distcode);
      if (symbol < 0 || symbol >= 30 || s->fail) return -1;
      size_t dist = (size_t)(DBASE[symbol] + bits(s, DEXT[symbol]));
      if (s->fail || dist > s->out->len) return -1;
      while (len--) {
        uint8_t c = (uint8_t)s->out->data[s->out->len - dist];
        if (buf_append(s->out, &c, 1) < 0) return -1;
      }
    }
  } while (symbol != 256);
  return 0;
}

static int fixed(inf_state_t *s) {
  short lencnt[MAXBITS + 1], lensym[FIXLCODES], distcnt[MAXBITS + 1], distsym[MAXDCODES];
  huffman_t lencode = {lencnt, lensym}, distcode = {distcnt, distsym};
  short lengths[FIXLCODES];
  int sym = 0;
  for (; sym < 144; sym++) lengths[sym] = 8;
  for (; sym < 256; sym++) lengths[sym] = 9;
  for (; sym < 280; sym++) lengths[sym] = 7;
  for (; sym < FIXLCODES; sym++) lengths[sym] = 8;
  construct(&lencode, lengths, FIXLCODES);
  for (sym = 0; sym < MAXDCODES; sym++) lengths[sym] = 5;
  construct(&distcode, lengths, MAXDCODES);
  return codes(s, &lencode, &distcode);
}

static int dynamic(inf_state_t *s) {
  short lengths[MAXLCODES + MAXDCODES];
  short lencnt[MAXBITS + 1], lensym[MAXLCODES], distcnt[MAXBITS + 1], distsym[MAXDCODES];
  huffman_t lencode = {lencnt, lensym}, distcode = {distcnt, distsym};
  static const short order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
  int nlen = bits(s, 5) + 257, ndist = bits(s, 5) + 1, ncode = bits(s, 4) + 4;
  if (s->fail || nlen > MAXLCODES || ndist > MAXDCODES) return -1;
  int index;
  for (index = 0; index < ncode; index++) lengths[order[index]] = (short)bits(s, 3);
  for (; index < 19; index++) lengths[order[index]] = 0;
  if (s->fail || construct(&lencode, lengths, 19) != 0) return -1;
  index = 0;
  while (index < nlen + ndist) {
    int symbol = decode(s, &lencode);
    if (symbol < 0) return -1;
    if (symbol < 16) {
      lengths[index++] = (short)symbol;
    } else {
      int len = 0;
      if (symbol == 16) {
        if (index == 0) return -1;
        len = lengths[index - 1];
        symbol = 3 + bits(s, 2);
      } else if (symbol == 17) {
        symbol = 3 + bits(s, 3);
      } else {
        symbol = 11 + bits(s, 7);
      }
      if (s->fail || index + symbol > nlen + ndist) return -1;
      while (symbol--) lengths[index++] = (short)len;
    }
  }
  if (lengths[256] == 0) return -1;
  int err = construct(&lencode, lengths, nlen);
  if (err && (err < 0 || nlen != lencode.count[0] + lencode.count[1])) return -1;
  err = construct(&distcode, lengths + nlen, ndist);
  if (err && (err < 0 || ndist != distcode.count[0] + distcode.count[1])) return -1;
  return codes(s, &lencode, &distcode);
}

int pdf_inflate(const uint8_t *in, size_t inlen, buf_t *out) {
  inf_state_t s = {.in = in, .inlen = inlen, .out = out};
  /* zlib header: CMF/FLG with CM=8 and a valid check */
  if (inlen >= 2 && (in[0] & 0x0f) == 8 && ((in[0] << 8) | in[1]) % 31 == 0) s.incnt = 2;
  int last;
  do {
    last = bits(&s, 1);
    int type = bits(&s, 2);
    if (s.fail) return -1;
    int rc = type == 0 ? stored(&s) : type == 1 ? fixed(&s) : type == 2 ? dynamic(&s) : -1;
    if (rc < 0 || s.fail) return -1;
  } while (!last);
  return 0;
}
