/* static.c - the workstation's pages: files of the web folder served at
 * their path ("/" is index.html), with a strict Content-Security-Policy and
 * the other headers a page holding patient data should carry. Only plain
 * files under the folder, by a path of [A-Za-z0-9._/-] without "..". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/media/media.h"

#define CSP                                                                            \
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "               \
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; " \
    "form-action 'self'"

static const char *type_of(const char *path)
{
    static const char *const TYPES[][2] = {{".html", "text/html; charset=utf-8"},
                                           {".js", "text/javascript; charset=utf-8"},
                                           {".mjs", "text/javascript; charset=utf-8"},
                                           {".css", "text/css; charset=utf-8"},
                                           {".svg", "image/svg+xml"},
                                           {".png", "image/png"},
                                           {".jpg", "image/jpeg"},
                                           {".ico", "image/x-icon"},
                                           {".json", "application/json"},
                                           {".txt", "text/plain"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (strcmp(dot, TYPES[i][0]) == 0)
            return TYPES[i][1];
    return NULL;
}

static bool path_ok(const char *p)
{
    if (p[0] != '/' || strstr(p, "..") || strstr(p, "//"))
        return false;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-' || *p == '/'))
            return false;
    return true;
}

enum MHD_Result cs_static_handle(const cs_media *s, struct MHD_Connection *c, cs_req *r)
{
    const char *rel = strcmp(r->url, "/") == 0 ? "/index.html" : r->url;
    const char *type = type_of(rel);
    if (!path_ok(rel) || !type)
        return cs_http_error(s->metrics, c, 404, false, "not_found", "no page %.200s", r->url);
    char path[CS_CFG_PATH + 600];
    snprintf(path, sizeof path, "%s%s", s->web_dir, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return cs_http_error(s->metrics, c, 404, false, "not_found", "no page %.200s", r->url);
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((size_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    enum MHD_Result ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}
