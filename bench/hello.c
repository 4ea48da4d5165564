/*
 * hello.c - the ceiling: a minimal libmicrohttpd server answering a fixed small JSON
 * body, with the same daemon flags and thread pool as cityos' HTTP core. The unit
 * lookup benchmark is reported as a ratio to this server's rate on the same machine.
 *
 *   bench_hello PORT [THREADS]
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char BODY[] = "{\"hello\":\"world\"}\n";

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **con_cls) {
  (void)cls; (void)url; (void)method; (void)version; (void)data; (void)size;
  static int marker;
  if (*con_cls == NULL) { /* same two-call pattern as the cityos core */
    *con_cls = &marker;
    return MHD_YES;
  }
  struct MHD_Response *r = MHD_create_response_from_buffer(sizeof BODY - 1, (void *)BODY, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(r, "Content-Type", "application/json");
  enum MHD_Result ret = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  return ret;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_hello PORT [THREADS]\n");
    return 2;
  }
  unsigned port = (unsigned)strtoul(argv[1], NULL, 10);
  unsigned threads = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 4;
  struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC, (uint16_t)port, NULL, NULL,
                                          on_request, NULL, MHD_OPTION_THREAD_POOL_SIZE, threads,
                                          MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "bench_hello: cannot listen on port %u\n", port);
    return 1;
  }
  printf("bench_hello listening on http://127.0.0.1:%u/\n", port);
  fflush(stdout);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sig;
  sigwait(&set, &sig);
  MHD_stop_daemon(d);
  return 0;
}
