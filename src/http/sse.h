/*
 * sse.h - Server-Sent Events (text/event-stream) on the HTTP core.
 *
 * A hub is a channel of events with increasing ids, keeping the last 256 so that a
 * client that reconnects with Last-Event-ID misses nothing recent. A stream is one
 * client connection following a hub: while it has nothing to send, its connection is
 * suspended (libmicrohttpd suspend/resume), so an idle stream costs no thread and no
 * CPU. Publishing resumes the waiting streams. Every 15 s streams get a comment line
 * (": ping"), which keeps proxies from closing them and lets the server notice clients
 * that went away.
 *
 * Thread rules: http_sse_publish() may be called from any thread. Hubs outlive their
 * streams: free a hub only after the server has stopped (http_server_stop closes every
 * stream first).
 */
#ifndef CITYOS_SSE_H
#define CITYOS_SSE_H

#include "base/common.h"
#include "http/http.h"

typedef struct http_sse_hub http_sse_hub_t;

http_sse_hub_t *http_sse_hub_new(const char *name);
void http_sse_hub_free(http_sse_hub_t *hub);

/* Appends an event: `event` a short name ("alert"), `data` one line of text (compact
 * JSON; newlines are replaced by spaces). Returns the event id. */
uint64_t http_sse_publish(http_sse_hub_t *hub, const char *event, const char *data);

/* Answers the request with a stream following the hub, starting after the client's
 * Last-Event-ID when the hub still holds it, else with events published from now on. */
void http_reply_sse(http_req_t *req, http_sse_hub_t *hub);

/* Ends every open stream of every hub (server shutdown). */
void http_sse_close_all(void);
/* Streams open now, over all hubs (metrics, tests). */
size_t http_sse_stream_count(void);

#endif
