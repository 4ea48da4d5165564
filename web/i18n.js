// Vietnamese first, English second. Strings are looked up by key; "{name}" in a string is
// replaced by params.name. Elements carry their key in data-i18n (text), data-i18n-placeholder,
// data-i18n-aria-label or data-i18n-title, with parameters as JSON in data-i18n-args, so that
// applyTranslations() can re-translate the whole page when the language changes.

export const LANGS = ['vi', 'en'];
export const DEFAULT_LANG = 'vi';
const STORAGE_KEY = 'cityos.lang';

export const dictionaries = {
  vi: {
    'app.name': 'cityos — Hà Nội',
    'app.title': 'cityos — Hà Nội',
    'app.skip': 'Bỏ qua đến nội dung chính',
    'app.verify': 'Xác minh chữ ký số',
    'app.loading': 'Đang tải…',
    'lang.label': 'Ngôn ngữ',
    'lang.vi': 'Tiếng Việt',
    'lang.en': 'English',
    'nav.label': 'Điều hướng chính',
    'nav.units': 'Đơn vị hành chính',

    'login.title': 'Đăng nhập',
    'login.intro': 'Đăng nhập bằng tài khoản được cấp để sử dụng hệ thống.',
    'login.username': 'Tên đăng nhập',
    'login.password': 'Mật khẩu',
    'login.submit': 'Đăng nhập',
    'login.busy': 'Đang đăng nhập…',
    'login.secondFactor': 'Tài khoản cán bộ cần xác thực hai lớp. Đang chuyển tới trang đăng nhập của thành phố…',
    'auth.signedInAs': 'Đã đăng nhập: {name}',
    'auth.signout': 'Đăng xuất',
    'auth.signedOut': 'Bạn đã đăng xuất.',

    'error.bad_credentials': 'Tên đăng nhập hoặc mật khẩu không đúng.',
    'error.rate_limited': 'Bạn đã thử quá nhiều lần. Vui lòng thử lại sau.',
    'error.rate_limited_after': 'Bạn đã thử quá nhiều lần. Vui lòng thử lại sau {seconds} giây.',
    'error.account_locked': 'Tài khoản đang bị khóa. Vui lòng liên hệ quản trị viên.',
    'error.validation_failed': 'Vui lòng nhập đầy đủ tên đăng nhập và mật khẩu.',
    'error.unauthorized': 'Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại.',
    'error.not_found': 'Không tìm thấy.',
    'error.network': 'Không kết nối được với máy chủ. Vui lòng thử lại.',
    'error.generic': 'Đã có lỗi xảy ra ({code}). Vui lòng thử lại.',

    'units.title': 'Đơn vị hành chính',
    'units.era': 'Thời kỳ',
    'era.2025': '2025 — hai cấp',
    'era.2024': '2024 — ba cấp',
    'era.other': '{name}',
    'search.label': 'Tìm đơn vị hành chính',
    'search.placeholder': 'Ví dụ: Hoàn Kiếm',
    'search.hint': 'Gõ tên, có dấu hoặc không dấu. Dùng phím mũi tên và Enter để chọn.',
    'search.results': 'Kết quả tìm kiếm',
    'search.count': '{total} kết quả',
    'search.none': 'Không tìm thấy đơn vị nào.',
    'search.searching': 'Đang tìm…',

    'map.title': 'Bản đồ',
    'map.label': 'Bản đồ ranh giới hành chính Hà Nội',
    'map.loading': 'Đang tải bản đồ…',
    'map.hint': 'Bấm vào một vùng để chọn; bấm ra ngoài để tra vị trí.',
    'map.outside': 'Không thuộc Hà Nội',
    'map.locating': 'Đang xác định vị trí…',
    'map.found': 'Vị trí thuộc {name}',
    'map.attribution': 'Ranh giới: vietnamese-provinces-database, dvhcvn',
    'map.myLocation': 'Vị trí của tôi',
    'map.geoUnavailable': 'Không lấy được vị trí của bạn.',
    'map.noBoundary': 'Thời kỳ này không có dữ liệu ranh giới.',

    'list.title': 'Danh sách',
    'list.all': 'Tất cả',
    'list.breadcrumb': 'Đang xem',
    'list.more': 'Xem thêm ({shown}/{total})',
    'list.children': '{n} đơn vị trực thuộc',
    'list.empty': 'Không có đơn vị trực thuộc.',
    'list.open': 'Mở {name}',

    'detail.title': 'Thông tin đơn vị',
    'detail.empty': 'Chọn một đơn vị trên bản đồ, trong danh sách hoặc bằng ô tìm kiếm.',
    'detail.code': 'Mã',
    'detail.type': 'Loại',
    'detail.level': 'Cấp',
    'detail.parent': 'Trực thuộc',
    'detail.children': 'Đơn vị trực thuộc',
    'detail.boundary': 'Ranh giới',
    'detail.boundaryYes': 'Có trên bản đồ',
    'detail.boundaryNo': 'Chưa có',
    'detail.path': 'Đường dẫn',
    'detail.era': 'Thời kỳ',
    'detail.close': 'Bỏ chọn',
    'detail.showChildren': 'Xem các đơn vị trực thuộc',
    'common.yes': 'Có',
    'common.no': 'Không',
    'common.none': '—',

    'level.province': 'Tỉnh/Thành phố',
    'level.district': 'Quận/Huyện',
    'level.ward': 'Phường/Xã',
    'type.thành phố trực thuộc trung ương': 'Thành phố trực thuộc trung ương',
    'type.quận': 'Quận',
    'type.huyện': 'Huyện',
    'type.thị xã': 'Thị xã',
    'type.phường': 'Phường',
    'type.xã': 'Xã',
    'type.thị trấn': 'Thị trấn',
    'type.đặc khu': 'Đặc khu',
  },
  en: {
    'app.name': 'cityos — Hà Nội',
    'app.title': 'cityos — Hanoi',
    'app.skip': 'Skip to main content',
    'app.verify': 'Verify a signed PDF',
    'app.loading': 'Loading…',
    'lang.label': 'Language',
    'lang.vi': 'Tiếng Việt',
    'lang.en': 'English',
    'nav.label': 'Main navigation',
    'nav.units': 'Administrative units',

    'login.title': 'Sign in',
    'login.intro': 'Sign in with the account you were given to use the system.',
    'login.username': 'User name',
    'login.password': 'Password',
    'login.submit': 'Sign in',
    'login.busy': 'Signing in…',
    'login.secondFactor': 'Officials need two-factor sign-in. Taking you to the city sign-in page…',
    'auth.signedInAs': 'Signed in: {name}',
    'auth.signout': 'Sign out',
    'auth.signedOut': 'You have signed out.',

    'error.bad_credentials': 'The user name or password is wrong.',
    'error.rate_limited': 'Too many attempts. Please try again later.',
    'error.rate_limited_after': 'Too many attempts. Please try again in {seconds} seconds.',
    'error.account_locked': 'This account is locked. Please contact an administrator.',
    'error.validation_failed': 'Please enter both a user name and a password.',
    'error.unauthorized': 'Your session has ended. Please sign in again.',
    'error.not_found': 'Not found.',
    'error.network': 'Cannot reach the server. Please try again.',
    'error.generic': 'Something went wrong ({code}). Please try again.',

    'units.title': 'Administrative units',
    'units.era': 'Period',
    'era.2025': '2025 — two levels',
    'era.2024': '2024 — three levels',
    'era.other': '{name}',
    'search.label': 'Find an administrative unit',
    'search.placeholder': 'For example: Hoan Kiem',
    'search.hint': 'Type a name, with or without diacritics. Use the arrow keys and Enter to choose.',
    'search.results': 'Search results',
    'search.count': '{total} results',
    'search.none': 'No unit found.',
    'search.searching': 'Searching…',

    'map.title': 'Map',
    'map.label': 'Map of the administrative boundaries of Hanoi',
    'map.loading': 'Loading the map…',
    'map.hint': 'Click an area to select it; click outside to look up a point.',
    'map.outside': 'Not in Hanoi',
    'map.locating': 'Finding the place…',
    'map.found': 'This point is in {name}',
    'map.attribution': 'Boundaries: vietnamese-provinces-database, dvhcvn',
    'map.myLocation': 'My location',
    'map.geoUnavailable': 'Your location is not available.',
    'map.noBoundary': 'No boundaries are known for this period.',

    'list.title': 'List',
    'list.all': 'All',
    'list.breadcrumb': 'Browsing',
    'list.more': 'Show more ({shown}/{total})',
    'list.children': '{n} subordinate units',
    'list.empty': 'No subordinate units.',
    'list.open': 'Open {name}',

    'detail.title': 'Unit details',
    'detail.empty': 'Choose a unit on the map, in the list or with the search box.',
    'detail.code': 'Code',
    'detail.type': 'Type',
    'detail.level': 'Level',
    'detail.parent': 'Part of',
    'detail.children': 'Subordinate units',
    'detail.boundary': 'Boundary',
    'detail.boundaryYes': 'On the map',
    'detail.boundaryNo': 'Not known',
    'detail.path': 'Path',
    'detail.era': 'Period',
    'detail.close': 'Clear selection',
    'detail.showChildren': 'Show subordinate units',
    'common.yes': 'Yes',
    'common.no': 'No',
    'common.none': '—',

    'level.province': 'Province/City',
    'level.district': 'District',
    'level.ward': 'Ward/Commune',
    'type.thành phố trực thuộc trung ương': 'Centrally governed city',
    'type.quận': 'Urban district',
    'type.huyện': 'Rural district',
    'type.thị xã': 'District-level town',
    'type.phường': 'Ward',
    'type.xã': 'Commune',
    'type.thị trấn': 'Township',
    'type.đặc khu': 'Special zone',
  },
};

let current = DEFAULT_LANG;
const listeners = new Set();

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** The language in use: the saved choice, else Vietnamese. */
export function initLang() {
  const saved = stored();
  current = LANGS.includes(saved) ? saved : DEFAULT_LANG;
  document.documentElement.lang = current;
  return current;
}

export function getLang() {
  return current;
}

/** Translates key; a missing key falls back to Vietnamese, then to the key itself. */
export function t(key, params) {
  let s = dictionaries[current][key];
  if (s === undefined) s = dictionaries[DEFAULT_LANG][key];
  if (s === undefined) return key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  return s;
}

/** Whether a key exists (in the current language or the fallback). */
export function has(key) {
  return key in dictionaries[current] || key in dictionaries[DEFAULT_LANG];
}

/** Sets a translated text on el and remembers the key so it follows language changes. */
export function setText(el, key, params) {
  if (!el) return;
  if (key == null) {
    delete el.dataset.i18n;
    delete el.dataset.i18nArgs;
    el.textContent = '';
    return;
  }
  el.dataset.i18n = key;
  if (params) el.dataset.i18nArgs = JSON.stringify(params);
  else delete el.dataset.i18nArgs;
  el.textContent = t(key, params);
}

function args(el) {
  if (!el.dataset.i18nArgs) return undefined;
  try {
    return JSON.parse(el.dataset.i18nArgs);
  } catch {
    return undefined;
  }
}

/** Re-translates every element under root that carries a data-i18n* attribute. */
export function applyTranslations(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n, args(el));
  for (const el of root.querySelectorAll('[data-i18n-placeholder]'))
    el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
  for (const el of root.querySelectorAll('[data-i18n-aria-label]'))
    el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel, args(el)));
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.setAttribute('title', t(el.dataset.i18nTitle));
  document.title = t('app.title');
}

/** Switches the language, saves the choice, updates <html lang> and the page. */
export function setLang(lang) {
  if (!LANGS.includes(lang)) return;
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  document.documentElement.lang = lang;
  applyTranslations(document);
  for (const fn of listeners) fn(lang);
}

/** Calls fn(lang) after every language change; returns a function that stops it. */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Lets a view bring its own strings: addMessages({vi: {...}, en: {...}}). */
export function addMessages(byLang) {
  for (const [lang, dict] of Object.entries(byLang)) {
    dictionaries[lang] = Object.assign(dictionaries[lang] || {}, dict);
  }
}
