/* The gateway's HTTP server: POST anywhere (the envelope names the transaction; a URL
 * ending in /NNNN must agree with it), GET /metrics, /healthz and /readyz. */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stddef.h>

#include "gateway.h"

typedef struct gw_http gw_http;

int gw_http_start(gw_http **out, gateway *g, char *err, size_t err_size);
/* Let requests being answered finish, then close every connection. */
void gw_http_stop(gw_http *h);

#endif
