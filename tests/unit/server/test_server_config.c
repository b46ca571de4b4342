/* test_server_config.c - configuration precedence (flags > environment >
 * file > defaults), the admin token file, and token/code helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capscreen/server.h"
#include "server/auth/tokens.h"

static const char *const *fake_env;

static const char *env(const char *name)
{
    for (size_t i = 0; fake_env && fake_env[i]; i += 2)
        if (strcmp(fake_env[i], name) == 0)
            return fake_env[i + 1];
    return NULL;
}

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/cs-cfg-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void flags_beat_environment_beat_file_beat_defaults(void **state)
{
    (void)state;
    cs_server_config c;
    cs_error e = {0};
    char *file = write_tmp("# comment\nlisten = 10.0.0.1:1\ndata=/from/file\n"
                           "code_ttl = 60\nanalysis_threads=3\n");
    const char *envs[] = {"CAPSCREEN_DATA", "/from/env", "CAPSCREEN_CODE_TTL", "120", NULL};
    const char *flags[] = {"code_ttl", "180", NULL};
    fake_env = envs;
    assert_int_equal(cs_server_config_resolve(&c, file, env, flags, &e), CS_OK);
    assert_string_equal(c.listen, "10.0.0.1:1");    /* file */
    assert_string_equal(c.data_dir, "/from/env");   /* env over file */
    assert_int_equal(c.code_ttl_s, 180);            /* flag over env */
    assert_int_equal(c.analysis_threads, 3);        /* file */
    assert_int_equal(c.upload_expiry_s, 24 * 3600); /* default */
    unlink(file);
}

/* The store: SQLite by default; a PostgreSQL URL from the file, the
 * environment (CAPSCREEN_DB) or --db; anything else refused by name. */
static void db_is_sqlite_by_default_or_a_postgresql_url_at_every_level(void **state)
{
    (void)state;
    cs_server_config c;
    cs_error e = {0};
    cs_server_config_default(&c);
    assert_string_equal(c.db, "");
    char *file = write_tmp("db = postgresql://file-host/capscreen\n");
    assert_int_equal(cs_server_config_resolve(&c, file, NULL, NULL, &e), CS_OK);
    assert_string_equal(c.db, "postgresql://file-host/capscreen");
    const char *envs[] = {"CAPSCREEN_DB", "postgres://env-host/cs", NULL};
    fake_env = envs;
    assert_int_equal(cs_server_config_resolve(&c, file, env, NULL, &e), CS_OK);
    assert_string_equal(c.db, "postgres://env-host/cs"); /* env over file */
    char *argv[] = {"serve", "--db", "postgresql://flag-host:5433/cs?sslmode=require", NULL};
    assert_int_equal(cs_server_config_from_args(&c, 3, argv, NULL, env, &e), CS_OK);
    assert_string_equal(c.db, "postgresql://flag-host:5433/cs?sslmode=require"); /* flag */
    char *empty[] = {"serve", "--db=", NULL};
    assert_int_equal(cs_server_config_from_args(&c, 2, empty, NULL, env, &e), CS_OK);
    assert_string_equal(c.db, ""); /* back to SQLite */
    fake_env = NULL;
    assert_int_equal(cs_server_config_set(&c, "db", "mysql://h/x", &e), CS_ERR_ARG);
    assert_non_null(strstr(e.msg, "postgresql://"));
    assert_int_equal(cs_server_config_set(&c, "db", "/var/lib/capscreen/capscreen.db", &e),
                     CS_ERR_ARG);
    assert_string_equal(c.db, "");
    unlink(file);
}

static void connection_limits_have_defaults_and_every_level(void **state)
{
    (void)state;
    cs_server_config c;
    cs_error e = {0};
    cs_server_config_default(&c);
    assert_int_equal(c.per_ip_connections, 64);
    assert_int_equal(c.header_timeout_s, 10);
    const char *envs[] = {"CAPSCREEN_PER_IP_CONNECTIONS", "5", "CAPSCREEN_HEADER_TIMEOUT", "7",
                          NULL};
    const char *flags[] = {"header_timeout", "3", NULL};
    fake_env = envs;
    assert_int_equal(cs_server_config_resolve(&c, NULL, env, flags, &e), CS_OK);
    assert_int_equal(c.per_ip_connections, 5); /* env */
    assert_int_equal(c.header_timeout_s, 3);   /* flag over env */
    assert_int_equal(cs_server_config_set(&c, "per_ip_connections", "0", &e), CS_ERR_ARG);
    assert_int_equal(cs_server_config_set(&c, "header_timeout", "0", &e), CS_ERR_ARG);
    assert_non_null(strstr(e.msg, "header_timeout"));
    fake_env = NULL;
}

static void bad_values_and_keys_are_refused_with_a_reason(void **state)
{
    (void)state;
    cs_server_config c;
    cs_error e = {0};
    cs_server_config_default(&c);
    assert_int_equal(cs_server_config_set(&c, "analysis_threads", "0", &e), CS_ERR_ARG);
    assert_int_equal(cs_server_config_set(&c, "code_ttl", "-5", &e), CS_ERR_ARG);
    assert_int_equal(cs_server_config_set(&c, "code_ttl", "12x", &e), CS_ERR_ARG);
    assert_int_equal(cs_server_config_set(&c, "no_such_key", "1", &e), CS_ERR_ARG);
    assert_non_null(strstr(e.msg, "no_such_key"));
    char *file = write_tmp("listen 127.0.0.1:1\n");
    fake_env = NULL;
    assert_int_equal(cs_server_config_resolve(&c, file, env, NULL, &e), CS_ERR_ARG);
    assert_non_null(strstr(e.msg, "line 1"));
    unlink(file);
}

/* Reverse proxies: none by default; IPv4/IPv6 addresses separated by
 * commas; anything else (a name, a typo, an empty element) is refused
 * with the key's name and the list in force kept. */
static void trusted_proxies_are_a_list_of_addresses(void **state)
{
    (void)state;
    cs_server_config c;
    cs_error e = {0};
    cs_server_config_default(&c);
    assert_string_equal(c.trusted_proxies, "");
    assert_int_equal(cs_server_config_set(&c, "trusted_proxies", "10.0.0.5, 2001:db8::1", &e),
                     CS_OK);
    assert_string_equal(c.trusted_proxies, "10.0.0.5, 2001:db8::1");
    const char *bad[] = {"haproxy.local", "10.0.0.5,",         ",10.0.0.5",  "10.0.0.5,,10.0.0.6",
                         "10.0.0.256",    "10.0.0.5 10.0.0.6", "10.0.0.0/24"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cs_server_config_set(&c, "trusted_proxies", bad[i], &e), CS_ERR_ARG);
        assert_non_null(strstr(e.msg, "trusted_proxies"));
    }
    assert_string_equal(c.trusted_proxies, "10.0.0.5, 2001:db8::1");
    assert_int_equal(cs_server_config_set(&c, "trusted_proxies", "", &e), CS_OK);
}

/* The public address: none by default; http(s):// and a host with an
 * optional port; a path, a trailing slash, another scheme or a bad port
 * is refused naming the key, the value in force kept. */
static void public_url_is_a_scheme_host_and_port(void **state)
{
    (void)state;
    cs_server_config c;
    cs_error e = {0};
    cs_server_config_default(&c);
    assert_string_equal(c.public_url, "");
    const char *good[] = {"https://capscreen.example.org", "http://10.0.0.5:8080",
                          "https://[2001:db8::1]:8443",    "HTTPS://Capscreen.Example.org",
                          "https://cs_1.internal",         "https://cs-1.trust.nhs.uk:443"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(cs_server_config_set(&c, "public_url", good[i], &e), CS_OK);
        assert_string_equal(c.public_url, good[i]);
    }
    const char *bad[] = {"capscreen.example.org",
                         "https://",
                         "https://host/",
                         "https://host/capscreen",
                         "ftp://host",
                         "https://host:0",
                         "https://host:65536",
                         "https://host:",
                         "https://user@host",
                         "https://host?x=1",
                         "https://[]:80",
                         "https://[2001:db8::1",
                         "https://host name",
                         "https://host:80:81",
                         "https://..",
                         "https://-",
                         "https://a..b",
                         "https://.x",
                         "https://x.",
                         "https://-x.org",
                         "https://999.999.999.999",
                         "https://[1]",
                         "https://[:]",
                         "https://[1.2.3.4]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cs_server_config_set(&c, "public_url", bad[i], &e), CS_ERR_ARG);
        assert_non_null(strstr(e.msg, "public_url"));
    }
    assert_string_equal(c.public_url, "https://cs-1.trust.nhs.uk:443");
    assert_int_equal(cs_server_config_set(&c, "public_url", "", &e), CS_OK);
    assert_string_equal(c.public_url, "");
}

/* A site's polyp operating point: unset (the weights' own) by default; a
 * number strictly between 0 and 1 from any level; anything else refused
 * with the key's name, the value in force unchanged. */
static void polyp_threshold_is_an_open_unit_number_at_every_level(void **state)
{
    (void)state;
    cs_server_config c;
    cs_error e = {0};
    cs_server_config_default(&c);
    assert_true(c.polyp_threshold == 0.0);
    char *file = write_tmp("polyp_threshold = 0.25\n");
    fake_env = NULL;
    assert_int_equal(cs_server_config_resolve(&c, file, env, NULL, &e), CS_OK);
    assert_true(c.polyp_threshold == 0.25);
    const char *envs[] = {"CAPSCREEN_POLYP_THRESHOLD", "0.5", NULL};
    fake_env = envs;
    assert_int_equal(cs_server_config_resolve(&c, file, env, NULL, &e), CS_OK);
    assert_true(c.polyp_threshold == 0.5); /* env over file */
    char *argv[] = {"serve", "--polyp-threshold", ".125", NULL};
    assert_int_equal(cs_server_config_from_args(&c, 3, argv, NULL, env, &e), CS_OK);
    assert_true(c.polyp_threshold == 0.125); /* flag over env */
    fake_env = NULL;
    static const char *const bad[] = {"0",    "1",    "1.5", "-0.2",   "0.3x",
                                      "",     "nan",  "abc", "1e-400", "+0.5",
                                      " 0.5", "0x.8", "inf", "1e-50",  "0.99999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        e = (cs_error){0};
        assert_int_equal(cs_server_config_set(&c, "polyp_threshold", bad[i], &e), CS_ERR_ARG);
        assert_non_null(strstr(e.msg, "polyp_threshold"));
        assert_true(c.polyp_threshold == 0.125);
    }
    unlink(file);
}

static void the_later_level_picks_between_token_and_token_file(void **state)
{
    (void)state;
    cs_server_config c;
    cs_error e = {0};
    char *tok = write_tmp("token-from-file-0123456789\n");
    char path[64];
    snprintf(path, sizeof path, "%s", tok);
    const char *envs[] = {"CAPSCREEN_ADMIN_TOKEN", "token-from-env-0123456789", NULL};
    const char *flags[] = {"admin_token_file", path, NULL};
    fake_env = envs;
    assert_int_equal(cs_server_config_resolve(&c, NULL, env, flags, &e), CS_OK);
    assert_string_equal(c.admin_token, "token-from-file-0123456789");
    assert_int_equal(cs_server_config_resolve(&c, NULL, env, NULL, &e), CS_OK);
    assert_string_equal(c.admin_token, "token-from-env-0123456789");
    unlink(path);
}

static void tokens_are_random_and_compared_by_hash(void **state)
{
    (void)state;
    cs_error e = {0};
    char t1[CS_TOKEN_MAX], t2[CS_TOKEN_MAX], h1[CS_HASH_HEX], h2[CS_HASH_HEX], h1b[CS_HASH_HEX];
    assert_int_equal(cs_tokens_init(&e), CS_OK);
    cs_token_new(t1);
    cs_token_new(t2);
    assert_int_equal(strlen(t1), 43);
    assert_string_not_equal(t1, t2);
    cs_token_hash(t1, h1);
    cs_token_hash(t2, h2);
    cs_token_hash(t1, h1b);
    assert_int_equal(strlen(h1), 64);
    assert_true(cs_hash_equal(h1, h1b));
    assert_false(cs_hash_equal(h1, h2));
    assert_false(cs_hash_equal(h1, "short"));
    char code[CS_CODE_LEN + 1], norm[CS_CODE_LEN + 1];
    cs_code_new(code);
    assert_int_equal(strlen(code), 14);
    char typed[32];
    snprintf(typed, sizeof typed, " %c%c%c%c %c%c%c%c%c%c%c%c", code[0], code[1], code[2], code[3],
             code[5], code[6], code[7], code[8], code[10], code[11], code[12], code[13]);
    for (char *p = typed; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    assert_true(cs_code_normalise(typed, norm));
    assert_string_equal(norm, code);
    assert_false(cs_code_normalise("ABCD-EFGH-JKL", norm));
    assert_false(cs_code_normalise("ABCD-EFGH-JKL0", norm)); /* 0 is not in the alphabet */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flags_beat_environment_beat_file_beat_defaults),
        cmocka_unit_test(bad_values_and_keys_are_refused_with_a_reason),
        cmocka_unit_test(polyp_threshold_is_an_open_unit_number_at_every_level),
        cmocka_unit_test(connection_limits_have_defaults_and_every_level),
        cmocka_unit_test(db_is_sqlite_by_default_or_a_postgresql_url_at_every_level),
        cmocka_unit_test(the_later_level_picks_between_token_and_token_file),
        cmocka_unit_test(tokens_are_random_and_compared_by_hash),
        cmocka_unit_test(trusted_proxies_are_a_list_of_addresses),
        cmocka_unit_test(public_url_is_a_scheme_host_and_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
