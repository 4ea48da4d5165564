/*
 * reports.h - citizen field reports (the Hanoi-S channel): categories (Open311
 * services), the Open311 GeoReport v2 server under /open311/v2/, routing to the
 * responsible ward or city department, follow-up, moderation, photos without
 * location metadata, the notification outbox and per-unit statistics.
 *
 * Module "reports", order 100 (uses units, identity and audit tables). Tables:
 *   report_categories, report_category_attributes   seeded, Vietnamese names first
 *   reports                 one row per report; reporter identity never leaves through
 *                           public routes (Open311 GET, the map)
 *   report_events           status changes, notes, reassignments, moderation, merges
 *   report_photos           JPEG/PNG bytes AFTER metadata stripping (never the original)
 *   report_notifications    outbox for the reporter; a gateway drains rows with sent_at NULL
 *
 * Permissions (seeded in the module's migration): reports.handle (queue, status,
 * notes, reassign, hide, merge: checked with identity_can at the report's unit) and
 * reports.stats (per-unit statistics). Role "report_officer" holds both.
 *
 * Settings (environment, read at start; defaults in brackets):
 *   CITYOS_REPORTS_REOPEN_DAYS [14]   a resolved report may be reopened by its reporter
 *   CITYOS_REPORTS_DUP_METERS  [50]   duplicate suggestion radius
 *   CITYOS_REPORTS_DUP_DAYS    [30]   duplicate suggestion age (open reports newer than)
 *
 * Working days: due dates count working days by the deployment's calendar (the services module's calendar_store:
 * Labour Code holidays, Tết, swapped days), falling back to Monday-Friday.
 */
#ifndef CITYOS_REPORTS_H
#define CITYOS_REPORTS_H

#include "base/common.h"
#include "app.h"
#include "store/db.h"

/* --- photo metadata stripping (pure, fuzzed) ------------------------------------ */
typedef enum {
  REPORTS_IMG_OK = 0,
  REPORTS_IMG_UNSUPPORTED,   /* neither JPEG nor PNG */
  REPORTS_IMG_MALFORMED,     /* truncated or inconsistent structure */
} reports_img_status_t;

/* Copies a JPEG without its APP1 (EXIF, XMP: camera, GPS position, time), APP13
 * (IPTC/Photoshop) and COM segments into out (capacity outcap >= len: the result is
 * never longer). Everything from the start of scan on is copied unchanged.
 * Returns REPORTS_IMG_OK with *outlen, or an error (out then undefined). */
reports_img_status_t reports_jpeg_strip(const uint8_t *in, size_t len, uint8_t *out, size_t outcap,
                                        size_t *outlen);
/* PNG: drops the ancillary chunks that carry metadata (eXIf, tEXt, zTXt, iTXt, tIME). */
reports_img_status_t reports_png_strip(const uint8_t *in, size_t len, uint8_t *out, size_t outcap,
                                       size_t *outlen);
/* Either of the above by signature; *mime gets "image/jpeg" or "image/png". */
reports_img_status_t reports_image_strip(const uint8_t *in, size_t len, uint8_t *out, size_t outcap,
                                         size_t *outlen, const char **mime);

/* --- working days ----------------------------------------------------------------- */
/* The instant `days` working days (Mon-Fri, Vietnam time) after t_ms, same time of day.
 * days <= 0 gives t_ms. */
int64_t reports_add_working_days(int64_t t_ms, int days);   /* Mon-Fri only (fallback) */
/* The due instant of `days` working days after t by the deployment's calendar
 * (services/calendar_store.h: holidays, swapped days, office hours). */
int64_t reports_due(const app_t *app, db_t *db, int64_t t_ms, int days);

/* --- geometry --------------------------------------------------------------------- */
/* Great-circle distance in metres (haversine, mean Earth radius). */
double reports_distance_m(double lat1, double lon1, double lat2, double lon2);

#endif
