/* json.c - JSON string quoting and a flat-object member reader. */
#include "uplink/json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool csu_json_quote(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    if (cap < 3)
        return false;
    out[o++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        size_t n;
        if (c == '"' || c == '\\')
            n = (size_t)snprintf(esc, sizeof esc, "\\%c", c);
        else if (c < 0x20)
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
        else
            n = (size_t)snprintf(esc, sizeof esc, "%c", c);
        if (o + n + 2 > cap) {
            snprintf(out, cap, "\"\"");
            return false;
        }
        memcpy(out + o, esc, n);
        o += n;
    }
    out[o++] = '"';
    out[o] = '\0';
    return true;
}

static const char *ws(const char *p)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    return p;
}

/* Parse a string at p (on the quote); unescape into out when out != NULL.
 * Returns the position after the closing quote, or NULL. */
static const char *str(const char *p, char *out, size_t cap)
{
    size_t o = 0;
    if (*p++ != '"')
        return NULL;
    while (*p && *p != '"') {
        char c = *p++;
        if (c == '\\') {
            c = *p++;
            switch (c) {
            case '"':
            case '\\':
            case '/': break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                char hex[5] = {0};
                for (int i = 0; i < 4; i++) {
                    if (!isxdigit((unsigned char)p[i]))
                        return NULL;
                    hex[i] = p[i];
                }
                long v = strtol(hex, NULL, 16);
                if (v >= 0x80 || v == 0)
                    return NULL;
                c = (char)v;
                p += 4;
                break;
            }
            default: return NULL;
            }
        }
        if (out) {
            if (o + 1 >= cap)
                return NULL;
            out[o++] = c;
        }
    }
    if (*p != '"')
        return NULL;
    if (out)
        out[o] = '\0';
    return p + 1;
}

/* Skip one value (string, number, literal, or nested object/array): stop
 * at the ',' or '}' that follows it at the top level. */
static const char *skip_value(const char *p)
{
    int depth = 0;
    for (;;) {
        if (!*p)
            return NULL;
        if (depth == 0 && (*p == ',' || *p == '}'))
            return p;
        if (*p == '"') {
            p = str(p, NULL, 0);
            if (!p)
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']')
            depth--;
        p++;
    }
}

bool csu_json_get(const char *json, const char *key, char *out, size_t cap)
{
    char name[128];
    const char *p = ws(json);
    if (*p++ != '{')
        return false;
    for (;;) {
        p = ws(p);
        if (*p == '}')
            return false;
        p = str(p, name, sizeof name);
        if (!p)
            return false;
        p = ws(p);
        if (*p++ != ':')
            return false;
        p = ws(p);
        if (strcmp(name, key) == 0) {
            if (*p == '"')
                return str(p, out, cap) != NULL;
            if (*p == '-' || isdigit((unsigned char)*p)) {
                size_t n = strspn(p, "-+.eE0123456789");
                if (n + 1 > cap)
                    return false;
                memcpy(out, p, n);
                out[n] = '\0';
                return true;
            }
            return false;
        }
        p = skip_value(p);
        if (!p)
            return false;
        p = ws(p);
        if (*p == ',')
            p++;
        else if (*p != '}')
            return false;
    }
}
