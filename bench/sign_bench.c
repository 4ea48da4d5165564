/*
 * sign_bench.c - PAdES signatures per second in-process (signing_sign_pdf: parse the
 * PDF, write the incremental update, SHA-256 over the byte ranges, CMS) for RSA-2048
 * and ECDSA P-256 on a 1-page and a 50-page PDF. Also writes the inputs, keys and
 * certificates to DIR so bench/sign-bench.sh can time `openssl cms -sign` on them.
 * Usage: sign_bench DIR [seconds per case]
 */
#include "base/common.h"
#include "signing/signing.h"
#include "../tests/unit/signing_test_util.h"

#include <openssl/pem.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_all(const char *dir, const char *name, const void *d, size_t n) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  if (!f) return;
  fwrite(d, 1, n, f);
  fclose(f);
}

static void write_pem(const char *dir, const char *name, X509 *c, EVP_PKEY *k, X509 *c2) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  if (!f) return;
  if (c) PEM_write_X509(f, c);
  if (c2) PEM_write_X509(f, c2);
  if (k) PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
  fclose(f);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  double secs = argc > 2 ? strtod(argv[2], NULL) : 2.0;
  signing_subject_t rs = {.cn = "Bench Root", .org = "Bench"}, is = {.cn = "Bench Issuing", .org = "Bench"};
  EVP_PKEY *rk = signing_keygen("ec"), *ik = signing_keygen("ec");
  X509 *root = signing_make_cert(&rs, rk, NULL, rk, true, 365);
  X509 *ca = signing_make_cert(&is, ik, root, rk, true, 365);
  write_pem(dir, "chain.pem", ca, NULL, root);
  const char *types[2] = {"rsa", "ec"}, *tnames[2] = {"RSA-2048", "ECDSA P-256"};
  int pages[2] = {1, 50};
  for (int p = 0; p < 2; p++) {
    size_t len = 0;
    uint8_t *pdf = signing_test_pdf(pages[p], &len);
    char name[64];
    snprintf(name, sizeof name, "in-%d.pdf", pages[p]);
    write_all(dir, name, pdf, len);
    for (int t = 0; t < 2; t++) {
      signing_subject_t ss = {.cn = "Nguyễn Văn Bench", .title = "Chủ tịch", .unit = "UBND"};
      signing_signer_t s = {.key = signing_keygen(types[t])};
      s.cert = signing_make_cert(&ss, s.key, ca, ik, false, 365);
      s.chain = sk_X509_new_null();
      X509_up_ref(ca);
      X509_up_ref(root);
      sk_X509_push(s.chain, ca);
      sk_X509_push(s.chain, root);
      char kn[64];
      snprintf(kn, sizeof kn, "signer-%s.pem", types[t]);
      write_pem(dir, kn, s.cert, s.key, NULL);
      buf_t out;
      buf_init(&out, SIGNING_MAX_PDF);
      char err[256];
      long n = 0;
      double t0 = now_s(), t1;
      do {
        buf_reset(&out);
        if (signing_sign_pdf(&s, pdf, len, NULL, &out, err, sizeof err) < 0) {
          fprintf(stderr, "sign: %s\n", err);
          return 1;
        }
        n++;
        t1 = now_s();
      } while (t1 - t0 < secs);
      printf("inprocess %s %d %zu %.1f\n", types[t], pages[p], len, (double)n / (t1 - t0));
      fprintf(stderr, "in-process  %-12s %2d page(s) (%7zu bytes): %8.1f signatures/s\n", tnames[t], pages[p], len,
              (double)n / (t1 - t0));
      buf_release(&out);
      signing_signer_free(&s);
    }
    free(pdf);
  }
  return 0;
}
