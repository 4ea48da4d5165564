#include "base/common.h"
#include "services/calendar_store.h"
#include "base/log.h"
#include "app.h"
#include "reports/reports.h"

#include <math.h>

/*
 * Pure helpers: photo metadata stripping (JPEG, PNG), working days, distances.
 * No allocation: callers give the output buffer.
 */

/* --- JPEG ------------------------------------------------------------------------ */

/* Segments dropped: APP1 (EXIF with GPS, XMP), APP13 (IPTC / Photoshop), COM. */
static bool jpeg_drop(uint8_t marker) { return marker == 0xE1 || marker == 0xED || marker == 0xFE; }

/* Markers without a length field. */
static bool jpeg_standalone(uint8_t m) { return m == 0x01 || (m >= 0xD0 && m <= 0xD9); }

reports_img_status_t reports_jpeg_strip(const uint8_t *in, size_t len, uint8_t *out, size_t outcap,
                                        size_t *outlen) {
  reports_img_status_t rc = REPORTS_IMG_MALFORMED;
  size_t i = 2, o = 0;
  if (len < 4 || in[0] != 0xFF || in[1] != 0xD8) {
    rc = REPORTS_IMG_UNSUPPORTED;
    goto done;
  }
  if (outcap < len) goto done;
  out[o++] = 0xFF;
  out[o++] = 0xD8;
  for (;;) {
    /* A marker: 0xFF, optional fill 0xFF bytes, then the code. */
    if (i >= len || in[i] != 0xFF) goto done;
    while (i < len && in[i] == 0xFF) i++;
    if (i >= len) goto done;
    uint8_t m = in[i++];
    if (m == 0x00) goto done;
    if (m == 0xD9) { /* EOI: the end; anything after it is dropped */
      out[o++] = 0xFF;
      out[o++] = 0xD9;
      rc = REPORTS_IMG_OK;
      goto done;
    }
    if (m == 0xD8) goto done; /* a second SOI */
    if (jpeg_standalone(m)) {
      out[o++] = 0xFF;
      out[o++] = m;
      continue;
    }
    if (i + 2 > len) goto done;
    size_t seglen = ((size_t)in[i] << 8) | in[i + 1];
    if (seglen < 2 || i + seglen > len) goto done;
    if (!jpeg_drop(m)) {
      out[o++] = 0xFF;
      out[o++] = m;
      memcpy(out + o, in + i, seglen);
      o += seglen;
    }
    i += seglen;
    if (m != 0xDA) continue;
    /* Start of scan: entropy-coded data up to the next marker that is not a stuffed
     * 0xFF00, a restart marker or fill. */
    size_t start = i;
    for (;;) {
      if (i + 1 >= len) goto done; /* truncated scan */
      if (in[i] == 0xFF) {
        uint8_t n = in[i + 1];
        if (n == 0x00 || (n >= 0xD0 && n <= 0xD7)) {
          i += 2;
          continue;
        }
        if (n == 0xFF) { /* fill before a marker */
          i++;
          continue;
        }
        break;
      }
      i++;
    }
    memcpy(out + o, in + start, i - start);
    o += i - start;
  }
done:
  if (rc == REPORTS_IMG_OK) *outlen = o;
  return rc;
}

/* --- PNG ------------------------------------------------------------------------- */

static const uint8_t PNG_SIG[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

static bool png_drop(const uint8_t *type) {
  static const char *const dropped[] = {"eXIf", "tEXt", "zTXt", "iTXt", "tIME"};
  for (size_t k = 0; k < ARRAY_LEN(dropped); k++)
    if (memcmp(type, dropped[k], 4) == 0) return true;
  return false;
}

reports_img_status_t reports_png_strip(const uint8_t *in, size_t len, uint8_t *out, size_t outcap,
                                       size_t *outlen) {
  reports_img_status_t rc = REPORTS_IMG_MALFORMED;
  size_t i = 8, o = 0;
  if (len < 8 || memcmp(in, PNG_SIG, 8) != 0) {
    rc = REPORTS_IMG_UNSUPPORTED;
    goto done;
  }
  if (outcap < len) goto done;
  memcpy(out, in, 8);
  o = 8;
  while (i + 12 <= len) {
    size_t clen = ((size_t)in[i] << 24) | ((size_t)in[i + 1] << 16) | ((size_t)in[i + 2] << 8) | in[i + 3];
    if (clen > len - i - 12) goto done;
    const uint8_t *type = in + i + 4;
    if (!png_drop(type)) {
      memcpy(out + o, in + i, clen + 12);
      o += clen + 12;
    }
    i += clen + 12;
    if (memcmp(type, "IEND", 4) == 0) {
      rc = REPORTS_IMG_OK;
      goto done;
    }
  }
done:
  if (rc == REPORTS_IMG_OK) *outlen = o;
  return rc;
}

reports_img_status_t reports_image_strip(const uint8_t *in, size_t len, uint8_t *out, size_t outcap,
                                         size_t *outlen, const char **mime) {
  if (len >= 2 && in[0] == 0xFF && in[1] == 0xD8) {
    *mime = "image/jpeg";
    return reports_jpeg_strip(in, len, out, outcap, outlen);
  }
  if (len >= 8 && memcmp(in, PNG_SIG, 8) == 0) {
    *mime = "image/png";
    return reports_png_strip(in, len, out, outcap, outlen);
  }
  return REPORTS_IMG_UNSUPPORTED;
}

/* --- working days and distance --------------------------------------------------------- */

#define REPORTS_DAY_MS 86400000LL
#define REPORTS_VN_OFFSET_MS (7LL * 3600 * 1000)

int64_t reports_due(const app_t *app, db_t *db, int64_t t_ms, int days) {
  /* The deployment's working-day calendar (holidays, swapped days, office hours): the
   * same one dossier deadlines use. Mon-Fri counting is only the fallback when the
   * calendar cannot be read. */
  char why[160];
  calendar_t *cal = db ? calendar_store_load(db, app->cfg->data_dir, why, sizeof why) : NULL;
  if (cal) {
    int64_t due = calendar_due(cal, t_ms, days);
    calendar_free(cal);
    return due;
  }
  log_warn(NULL, "msg=\"reports: working-day calendar unavailable, counting Mon-Fri\" why=\"%s\"", db ? why : "no db");
  return reports_add_working_days(t_ms, days);
}

int64_t reports_add_working_days(int64_t t_ms, int days) {
  int64_t t = t_ms;
  while (days > 0) {
    t += REPORTS_DAY_MS;
    int64_t local_day = (t + REPORTS_VN_OFFSET_MS) / REPORTS_DAY_MS;
    int wd = (int)((local_day + 4) % 7); /* 1970-01-01 was a Thursday; 0 = Sunday */
    if (wd != 0 && wd != 6) days--;
  }
  return t;
}

double reports_distance_m(double lat1, double lon1, double lat2, double lon2) {
  const double r = 6371008.8, rad = 3.14159265358979323846 / 180.0;
  double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
  double a = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
  return 2 * r * asin(sqrt(a < 1 ? a : 1));
}
