#include "base/common.h"
#include "module.h"

#define MAX_MODULES 32

static const module_t *g_modules[MAX_MODULES];
static size_t g_nmodules;
static bool g_sorted;

void module_register(const module_t *m) {
  if (g_nmodules == MAX_MODULES) {
    fprintf(stderr, "cityos: too many modules (raise MAX_MODULES in module.c)\n");
    abort();
  }
  g_modules[g_nmodules++] = m;
  g_sorted = false;
}

static int cmp_module(const void *a, const void *b) {
  const module_t *x = *(const module_t *const *)a, *y = *(const module_t *const *)b;
  if (x->order != y->order) return x->order < y->order ? -1 : 1;
  return strcmp(x->name, y->name);
}

size_t modules_all(const module_t *const **out) {
  /* Registration happens before main() on one thread; sorting on first use is safe
   * because the first use is in main() before any thread starts. */
  if (!g_sorted) {
    qsort(g_modules, g_nmodules, sizeof g_modules[0], cmp_module);
    g_sorted = true;
  }
  *out = g_modules;
  return g_nmodules;
}

const cli_command_t *modules_find_command(const char *name) {
  const module_t *const *mods;
  size_t n = modules_all(&mods);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < mods[i]->ncommands; k++)
      if (strcmp(mods[i]->commands[k].name, name) == 0) return &mods[i]->commands[k];
  return NULL;
}

bool cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
  return false;
}

const char *cli_take_flag(int *argc, char **argv, const char *name) {
  size_t nl = strlen(name);
  for (int i = 1; i < *argc; i++) {
    const char *val = NULL;
    int used = 0;
    if (strcmp(argv[i], name) == 0 && i + 1 < *argc) {
      val = argv[i + 1];
      used = 2;
    } else if (strncmp(argv[i], name, nl) == 0 && argv[i][nl] == '=') {
      val = argv[i] + nl + 1;
      used = 1;
    }
    if (val) {
      for (int k = i; k + used <= *argc; k++) argv[k] = argv[k + used];
      *argc -= used;
      return val;
    }
  }
  return NULL;
}
