#include "base/common.h"
#include "reports/reports.h"
#include "reports/reports_internal.h"
#include "base/log.h"
#include "base/text.h"
#include "module.h"

/*
 * The "reports" module: tables, the seeded categories (Vietnamese first), the
 * report_officer role, settings and the combined route table.
 */

reports_settings_t reports_settings = {14, 50, 30};

static const char REPORTS_SCHEMA_1[] =
  "CREATE TABLE report_categories ("
  "  code TEXT PRIMARY KEY,"
  "  name_vi TEXT NOT NULL, name_en TEXT NOT NULL,"
  "  description_vi TEXT NOT NULL, description_en TEXT NOT NULL,"
  "  group_name TEXT NOT NULL, keywords TEXT NOT NULL DEFAULT '',"
  "  responsible_kind TEXT NOT NULL CHECK (responsible_kind IN ('ward', 'department')),"
  "  department TEXT,"
  "  target_days INTEGER NOT NULL CHECK (target_days > 0),"
  "  sort_order INTEGER NOT NULL DEFAULT 0,"
  "  active INTEGER NOT NULL DEFAULT 1"
  ");"
  "CREATE TABLE report_category_attributes ("
  "  category_code TEXT NOT NULL REFERENCES report_categories (code),"
  "  code TEXT NOT NULL,"
  "  datatype TEXT NOT NULL CHECK (datatype IN ('string', 'number', 'datetime', 'text', 'singlevaluelist', 'multivaluelist')),"
  "  required INTEGER NOT NULL DEFAULT 0,"
  "  sort_order INTEGER NOT NULL,"
  "  description_vi TEXT NOT NULL, description_en TEXT NOT NULL,"
  "  datatype_description TEXT NOT NULL DEFAULT '',"
  "  choices TEXT NOT NULL DEFAULT '[]',"   /* JSON [{key, name_vi, name_en}] */
  "  PRIMARY KEY (category_code, code)"
  ");"
  "CREATE TABLE reports ("
  "  id {{ID}},"
  "  category_code TEXT NOT NULL REFERENCES report_categories (code),"
  "  description TEXT NOT NULL DEFAULT '',"
  "  public_description TEXT NOT NULL DEFAULT '',"
  "  lat DOUBLE PRECISION, lon DOUBLE PRECISION,"
  "  address TEXT,"
  "  attributes TEXT NOT NULL DEFAULT '{}',"
  "  media_url TEXT,"
  "  status TEXT NOT NULL DEFAULT 'open',"
  "  unit_id BIGINT NOT NULL DEFAULT 0,"
  "  ward_id BIGINT NOT NULL DEFAULT 0,"
  "  department TEXT,"
  "  reporter_account_id BIGINT,"
  "  reporter_name TEXT, reporter_email TEXT, reporter_phone TEXT, device_id TEXT,"
  "  client_account_id BIGINT,"
  "  token TEXT NOT NULL UNIQUE,"
  "  hidden_reason TEXT,"
  "  duplicate_of BIGINT,"
  "  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
  "  due_at BIGINT NOT NULL,"
  "  resolved_at BIGINT, closed_at BIGINT,"
  "  reopen_count INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE INDEX reports_unit ON reports (unit_id, status);"
  "CREATE INDEX reports_created ON reports (created_at);"
  "CREATE INDEX reports_category ON reports (category_code, status);"
  "CREATE INDEX reports_reporter ON reports (reporter_account_id);"
  "CREATE INDEX reports_geo ON reports (lat, lon);"
  "CREATE TABLE report_events ("
  "  id {{ID}},"
  "  report_id BIGINT NOT NULL REFERENCES reports (id),"
  "  at BIGINT NOT NULL,"
  "  actor_id BIGINT,"
  "  kind TEXT NOT NULL,"   /* created, status, note, reassign, hide, merge, reopen */
  "  status TEXT, note TEXT, reason TEXT"
  ");"
  "CREATE INDEX report_events_report ON report_events (report_id, id);"
  "CREATE TABLE report_photos ("
  "  id {{ID}},"
  "  report_id BIGINT NOT NULL REFERENCES reports (id),"
  "  event_id BIGINT,"
  "  kind TEXT NOT NULL CHECK (kind IN ('report', 'fix')),"
  "  content_type TEXT NOT NULL,"
  "  data {{BLOB}} NOT NULL,"
  "  hidden_reason TEXT,"
  "  created_at BIGINT NOT NULL"
  ");"
  "CREATE INDEX report_photos_report ON report_photos (report_id);"
  "CREATE TABLE report_notifications ("
  "  id {{ID}},"
  "  report_id BIGINT NOT NULL REFERENCES reports (id),"
  "  account_id BIGINT,"
  "  recipient TEXT,"
  "  kind TEXT NOT NULL,"
  "  message TEXT NOT NULL,"
  "  created_at BIGINT NOT NULL,"
  "  sent_at BIGINT"
  ");"
  "CREATE INDEX report_notifications_pending ON report_notifications (sent_at, id);"
  "CREATE INDEX report_notifications_account ON report_notifications (account_id, id);"
  "INSERT INTO roles (name, description) VALUES"
  "  ('report_officer', 'Handles the citizen field reports of a unit') ON CONFLICT DO NOTHING;"
  "INSERT INTO role_permissions (role, permission) VALUES"
  "  ('report_officer', 'reports.handle'), ('report_officer', 'reports.stats'),"
  "  ('unit_admin', 'reports.stats') ON CONFLICT DO NOTHING;";

/* The ten categories of the Hanoi-S channel. Departments are Hanoi's city companies. */
static const char REPORTS_SEED_2[] =
  "INSERT INTO report_categories (code, name_vi, name_en, description_vi, description_en, group_name,"
  " keywords, responsible_kind, department, target_days, sort_order) VALUES"
  " ('road_damage', 'Hư hỏng mặt đường', 'Road damage', 'Ổ gà, sụt lún, nứt vỡ mặt đường, nắp hố ga hỏng',"
  "  'Potholes, subsidence, broken pavement or manhole covers', 'Hạ tầng', 'đường,ổ gà,road,pothole', 'ward', NULL, 5, 1),"
  " ('garbage', 'Rác thải, xả rác bừa bãi', 'Garbage and littering', 'Rác tồn đọng, đổ trộm phế thải, xả rác nơi công cộng',"
  "  'Uncollected waste, dumped debris, littering', 'Môi trường', 'rác,phế thải,garbage', 'ward', NULL, 2, 2),"
  " ('street_lighting', 'Chiếu sáng công cộng', 'Street lighting', 'Đèn đường không sáng, nhấp nháy, cột đèn hư hỏng',"
  "  'Street lights out, flickering or damaged poles', 'Hạ tầng', 'đèn,chiếu sáng,light', 'department',"
  "  'Công ty TNHH MTV Chiếu sáng và Thiết bị đô thị Hà Nội', 3, 3),"
  " ('flooding', 'Ngập úng, thoát nước', 'Flooding and drainage', 'Ngập sau mưa, cống tắc, hố ga trào',"
  "  'Flooding after rain, blocked drains', 'Hạ tầng', 'ngập,cống,flood,drain', 'department',"
  "  'Công ty TNHH MTV Thoát nước Hà Nội', 2, 4),"
  " ('fallen_tree', 'Cây xanh gãy đổ', 'Fallen trees', 'Cây đổ, cành gãy, cây có nguy cơ đổ',"
  "  'Fallen trees, broken branches, trees at risk', 'Môi trường', 'cây,tree', 'department',"
  "  'Công ty TNHH MTV Công viên cây xanh Hà Nội', 1, 5),"
  " ('illegal_construction', 'Xây dựng trái phép', 'Illegal construction', 'Công trình không phép, sai phép',"
  "  'Building without or against a permit', 'Trật tự đô thị', 'xây dựng,construction', 'ward', NULL, 10, 6),"
  " ('sidewalk_encroachment', 'Lấn chiếm vỉa hè, lòng đường', 'Sidewalk encroachment', 'Buôn bán, đỗ xe, để hàng hóa trên vỉa hè',"
  "  'Vending, parking or goods on the sidewalk', 'Trật tự đô thị', 'vỉa hè,lấn chiếm,sidewalk', 'ward', NULL, 3, 7),"
  " ('noise', 'Tiếng ồn', 'Noise', 'Karaoke, thi công, kinh doanh gây ồn',"
  "  'Karaoke, construction or business noise', 'Môi trường', 'ồn,karaoke,noise', 'ward', NULL, 3, 8),"
  " ('water_supply', 'Cấp nước sinh hoạt', 'Water supply', 'Mất nước, nước bẩn, vỡ đường ống',"
  "  'No water, dirty water, burst pipes', 'Hạ tầng', 'nước,water', 'department',"
  "  'Công ty TNHH MTV Nước sạch Hà Nội', 2, 9),"
  " ('other', 'Khác', 'Other', 'Các vấn đề khác trên địa bàn', 'Other problems in the neighbourhood',"
  "  'Khác', '', 'ward', NULL, 7, 10);"
  "INSERT INTO report_category_attributes (category_code, code, datatype, required, sort_order,"
  " description_vi, description_en, datatype_description, choices) VALUES"
  " ('road_damage', 'severity', 'singlevaluelist', 1, 1, 'Mức độ', 'Severity', '',"
  "  '[{\"key\":\"minor\",\"name_vi\":\"Nhẹ\",\"name_en\":\"Minor\"},{\"key\":\"major\",\"name_vi\":\"Nghiêm trọng\",\"name_en\":\"Major\"},{\"key\":\"dangerous\",\"name_vi\":\"Nguy hiểm cho người đi đường\",\"name_en\":\"Dangerous\"}]'),"
  " ('road_damage', 'size_m2', 'number', 0, 2, 'Diện tích ước tính (m²)', 'Estimated area (m²)', 'm²', '[]'),"
  " ('garbage', 'waste_type', 'singlevaluelist', 1, 1, 'Loại rác', 'Kind of waste', '',"
  "  '[{\"key\":\"household\",\"name_vi\":\"Rác sinh hoạt\",\"name_en\":\"Household waste\"},{\"key\":\"construction\",\"name_vi\":\"Phế thải xây dựng\",\"name_en\":\"Construction debris\"},{\"key\":\"hazardous\",\"name_vi\":\"Chất thải nguy hại\",\"name_en\":\"Hazardous waste\"}]'),"
  " ('street_lighting', 'problem', 'singlevaluelist', 1, 1, 'Sự cố', 'Problem', '',"
  "  '[{\"key\":\"off\",\"name_vi\":\"Đèn không sáng\",\"name_en\":\"Light out\"},{\"key\":\"flicker\",\"name_vi\":\"Đèn nhấp nháy\",\"name_en\":\"Flickering\"},{\"key\":\"day_on\",\"name_vi\":\"Đèn sáng ban ngày\",\"name_en\":\"On during the day\"},{\"key\":\"damaged\",\"name_vi\":\"Cột đèn hư hỏng\",\"name_en\":\"Damaged pole\"}]'),"
  " ('street_lighting', 'pole_number', 'string', 0, 2, 'Số hiệu cột đèn', 'Pole number', '', '[]'),"
  " ('flooding', 'depth_cm', 'number', 1, 1, 'Độ sâu ngập (cm)', 'Water depth (cm)', 'cm', '[]'),"
  " ('fallen_tree', 'blocking', 'singlevaluelist', 1, 1, 'Cản trở giao thông', 'Blocking traffic', '',"
  "  '[{\"key\":\"yes\",\"name_vi\":\"Có\",\"name_en\":\"Yes\"},{\"key\":\"no\",\"name_vi\":\"Không\",\"name_en\":\"No\"}]'),"
  " ('illegal_construction', 'started_at', 'datetime', 0, 1, 'Thời điểm bắt đầu thi công', 'Works started', '', '[]'),"
  " ('sidewalk_encroachment', 'kinds', 'multivaluelist', 0, 1, 'Hình thức lấn chiếm', 'Kinds of encroachment', '',"
  "  '[{\"key\":\"vendors\",\"name_vi\":\"Hàng rong\",\"name_en\":\"Street vendors\"},{\"key\":\"parking\",\"name_vi\":\"Đỗ xe\",\"name_en\":\"Parking\"},{\"key\":\"goods\",\"name_vi\":\"Để hàng hóa\",\"name_en\":\"Goods\"},{\"key\":\"materials\",\"name_vi\":\"Vật liệu xây dựng\",\"name_en\":\"Building materials\"}]'),"
  " ('noise', 'source', 'singlevaluelist', 1, 1, 'Nguồn gây ồn', 'Source', '',"
  "  '[{\"key\":\"karaoke\",\"name_vi\":\"Karaoke\",\"name_en\":\"Karaoke\"},{\"key\":\"construction\",\"name_vi\":\"Thi công\",\"name_en\":\"Construction\"},{\"key\":\"business\",\"name_vi\":\"Kinh doanh\",\"name_en\":\"Business\"},{\"key\":\"other\",\"name_vi\":\"Khác\",\"name_en\":\"Other\"}]'),"
  " ('noise', 'time_of_day', 'text', 0, 2, 'Thời gian thường xảy ra', 'When it happens', '', '[]'),"
  " ('water_supply', 'problem', 'singlevaluelist', 1, 1, 'Sự cố', 'Problem', '',"
  "  '[{\"key\":\"no_water\",\"name_vi\":\"Mất nước\",\"name_en\":\"No water\"},{\"key\":\"dirty\",\"name_vi\":\"Nước bẩn\",\"name_en\":\"Dirty water\"},{\"key\":\"pipe_burst\",\"name_vi\":\"Vỡ đường ống\",\"name_en\":\"Burst pipe\"}]');";

static const db_migration_t REPORTS_MIGRATIONS[] = {
  {"reports", 1, REPORTS_SCHEMA_1},
  {"reports", 2, REPORTS_SEED_2},
};

static const db_migration_t *reports_migrations(db_kind_t kind, size_t *n) {
  (void)kind;
  *n = ARRAY_LEN(REPORTS_MIGRATIONS);
  return REPORTS_MIGRATIONS;
}

static int reports_env_int(const char *name, int def, int min, int max) {
  const char *v = getenv(name);
  int64_t x = 0;
  if (!v || !*v) return def;
  if (text_parse_int64(v, min, max, &x)) {
    log_warn(NULL, "reports: ignoring %s=%s (expected %d..%d)", name, v, min, max);
    return def;
  }
  return (int)x;
}

static int reports_start(app_t *app) {
  (void)app;
  reports_settings.reopen_days = reports_env_int("CITYOS_REPORTS_REOPEN_DAYS", 14, 0, 365);
  reports_settings.dup_meters = reports_env_int("CITYOS_REPORTS_DUP_METERS", 50, 1, 5000);
  reports_settings.dup_days = reports_env_int("CITYOS_REPORTS_DUP_DAYS", 30, 1, 365);
  return 0;
}

/* Both tables as one; built once at start-up (single-threaded registration). */
static http_route_t reports_all_routes[64];

static const http_route_t *reports_routes(size_t *n) {
  size_t na = 0, nb = 0, k = 0;
  const http_route_t *a = reports_open311_routes(&na), *b = reports_api_routes(&nb);
  for (size_t i = 0; i < na && k < ARRAY_LEN(reports_all_routes); i++) reports_all_routes[k++] = a[i];
  for (size_t i = 0; i < nb && k < ARRAY_LEN(reports_all_routes); i++) reports_all_routes[k++] = b[i];
  *n = k;
  return reports_all_routes;
}

static const module_t REPORTS_MODULE = {
  .name = "reports",
  .order = 100,
  .migrations = reports_migrations,
  .routes = reports_routes,
  .start = reports_start,
};
MODULE_REGISTER(REPORTS_MODULE)
